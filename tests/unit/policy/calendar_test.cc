#include "services/policy/calendar.h"

#include "gtest/gtest.h"

namespace vigil::policy {
namespace {

class CalendarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<absl::TimeZone> zone = ForceTimeZone();
    ASSERT_TRUE(zone.ok()) << zone.status();
    london_ = *zone;
  }
  absl::Time Local(int y, int m, int d, int hh = 0, int mm = 0) {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), london_);
  }
  absl::TimeZone london_;
};

TEST_F(CalendarTest, TwentyEightDaysAcrossTheSpringChangeKeepsTheWallClock) {
  // 2024-03-31 01:00 GMT the clocks went forward: 28 local days is 28*24-1 hours.
  const absl::Time registered = Local(2024, 3, 20, 10, 0);
  const absl::Time due = AddLocalDays(registered, 28, london_);
  EXPECT_EQ(due, Local(2024, 4, 17, 10, 0));
  EXPECT_EQ(due - registered, absl::Hours(28 * 24 - 1));
}

TEST_F(CalendarTest, LateEveningDoesNotSlipADayAcrossTheAutumnChange) {
  // 23:30 on 2024-10-20 plus 7 days is 23:30 on the 27th, not 22:30 or the 28th.
  const absl::Time t = Local(2024, 10, 20, 23, 30);
  const absl::Time due = AddLocalDays(t, 7, london_);
  EXPECT_EQ(LocalDay(due, london_), absl::CivilDay(2024, 10, 27));
  EXPECT_EQ(due, Local(2024, 10, 27, 23, 30));
}

TEST_F(CalendarTest, SkippedTimeMovesPastTheGap) {
  // 01:30 on 2024-03-31 does not exist in London.
  const absl::Time t = Local(2024, 3, 30, 1, 30);
  const absl::Time due = AddLocalDays(t, 1, london_);
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M", due, london_), "2024-03-31 02:00");
}

TEST_F(CalendarTest, EndOfLocalDayIsLocalMidnight) {
  EXPECT_EQ(EndOfLocalDay(absl::CivilDay(2024, 7, 1), london_),
            absl::FromCivil(absl::CivilSecond(2024, 7, 1, 23, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(EndOfLocalDay(absl::CivilDay(2024, 1, 1), london_),
            absl::FromCivil(absl::CivilSecond(2024, 1, 2, 0, 0, 0), absl::UTCTimeZone()));
}

TEST_F(CalendarTest, NegativeDaysCountBackwards) {
  EXPECT_EQ(AddLocalDays(Local(2024, 4, 1, 9, 0), -3, london_), Local(2024, 3, 29, 9, 0));
}

}  // namespace
}  // namespace vigil::policy
