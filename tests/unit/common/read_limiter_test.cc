#include "services/common/read_limiter.h"

#include "gtest/gtest.h"

namespace vigil {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(ReadLimiter, AdmitsABurstThenRefusesUntilTheRefillPaysTheDebt) {
  ReadLimiter limiter(ReadLimits{20, 200});
  ASSERT_TRUE(limiter.Admit("wessex/DC 1", kStart).admitted);
  limiter.Charge("wessex/DC 1", 1000, kStart);  // one large page overdraws by 800

  ReadLimiter::Decision refused = limiter.Admit("wessex/DC 1", kStart);
  EXPECT_FALSE(refused.admitted);
  EXPECT_TRUE(refused.episode_start);
  EXPECT_EQ(refused.retry_after, absl::Seconds(801.0 / 20));

  // Still in debt: refused again, but the episode has already been reported.
  ReadLimiter::Decision again = limiter.Admit("wessex/DC 1", kStart + absl::Seconds(30));
  EXPECT_FALSE(again.admitted);
  EXPECT_FALSE(again.episode_start);

  EXPECT_TRUE(limiter.Admit("wessex/DC 1", kStart + absl::Seconds(41)).admitted);
}

TEST(ReadLimiter, SustainedReadsAtTheRateAreAlwaysAdmitted) {
  ReadLimiter limiter(ReadLimits{20, 200});
  for (int second = 0; second < 600; ++second) {
    const absl::Time now = kStart + absl::Seconds(second);
    ASSERT_TRUE(limiter.Admit("wessex/DC 1", now).admitted) << second;
    limiter.Charge("wessex/DC 1", 20, now);
  }
}

TEST(ReadLimiter, PrincipalsHaveTheirOwnBuckets) {
  ReadLimiter limiter(ReadLimits{20, 200});
  limiter.Charge("wessex/DC 1", 5000, kStart);
  EXPECT_FALSE(limiter.Admit("wessex/DC 1", kStart).admitted);
  EXPECT_TRUE(limiter.Admit("wessex/DC 2", kStart).admitted);
  EXPECT_TRUE(limiter.Admit("mercia/DC 1", kStart).admitted);
}

TEST(ReadLimiter, ARefusalEpisodeEndsWhenThePrincipalIsAdmittedAgain) {
  ReadLimiter limiter(ReadLimits{10, 10});
  limiter.Charge("wessex/DC 1", 20, kStart);
  EXPECT_TRUE(limiter.Admit("wessex/DC 1", kStart).episode_start);
  EXPECT_TRUE(limiter.Admit("wessex/DC 1", kStart + absl::Seconds(2)).admitted);
  limiter.Charge("wessex/DC 1", 20, kStart + absl::Seconds(2));
  EXPECT_TRUE(limiter.Admit("wessex/DC 1", kStart + absl::Seconds(2)).episode_start);
}

TEST(ReadLimiter, ARateOfZeroDisablesTheLimit) {
  ReadLimiter limiter(ReadLimits{0, 200});
  limiter.Charge("wessex/DC 1", 1'000'000, kStart);
  EXPECT_TRUE(limiter.Admit("wessex/DC 1", kStart).admitted);
}

}  // namespace
}  // namespace vigil
