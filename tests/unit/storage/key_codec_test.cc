// Proves the orderings storage/key_codec.h promises: bytewise key order equals (due time,
// kind, id) order for any times, including before 1970 and far in the future.
#include "storage/key_codec.h"

#include <algorithm>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::StatusIs;

int64_t RandomMicros(std::mt19937_64& rng) {
  // Mix ordinary dates, dates before 1970, the far future, and the int64 extremes.
  switch (rng() % 5) {
    case 0:
      return static_cast<int64_t>(rng());  // anywhere in the range
    case 1:
      return std::uniform_int_distribution<int64_t>(-2'208'988'800'000'000,  // 1900
                                                    0)(rng);
    case 2:
      return std::uniform_int_distribution<int64_t>(1'500'000'000'000'000,  // 2017..2033
                                                    2'000'000'000'000'000)(rng);
    case 3:
      return std::uniform_int_distribution<int64_t>(253'402'300'799'000'000,  // 9999..
                                                    std::numeric_limits<int64_t>::max())(rng);
    default: {
      const int64_t edges[] = {std::numeric_limits<int64_t>::min(), -1, 0, 1,
                               std::numeric_limits<int64_t>::max()};
      return edges[rng() % 5];
    }
  }
}

std::string RandomId(std::mt19937_64& rng) {
  std::string id(rng() % 6, '\0');
  for (char& c : id) c = static_cast<char>(rng() % 256);  // any bytes, including 0x00 and 0xff
  return id;
}

TEST(KeyCodec, OrderedInt64PreservesNumericOrder) {
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < 100000; ++i) {
    const int64_t a = RandomMicros(rng);
    const int64_t b = RandomMicros(rng);
    std::string ka, kb;
    PutOrderedInt64(&ka, a);
    PutOrderedInt64(&kb, b);
    ASSERT_EQ(a < b, ka < kb) << a << " vs " << b;
    ASSERT_EQ(DecodeOrderedInt64(ka.data()), a);
  }
}

TEST(KeyCodec, DeadlineKeysSortByDueThenKindThenId) {
  std::mt19937_64 rng(7);
  std::vector<Deadline> deadlines;
  for (int i = 0; i < 20000; ++i) {
    Deadline d;
    d.space = DeadlineSpace::kRso;
    d.due = FromMicros(RandomMicros(rng));
    d.kind = static_cast<uint8_t>(rng() % 4);
    d.id = RandomId(rng);
    deadlines.push_back(std::move(d));
  }
  std::vector<std::string> keys;
  for (const Deadline& d : deadlines) keys.push_back(EncodeDeadlineKey(d));
  std::sort(keys.begin(), keys.end());

  auto as_tuple = [](const Deadline& d) { return std::make_tuple(ToMicros(d.due), d.kind, d.id); };
  std::sort(deadlines.begin(), deadlines.end(),
            [&](const Deadline& a, const Deadline& b) { return as_tuple(a) < as_tuple(b); });
  ASSERT_EQ(keys.size(), deadlines.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<Deadline> decoded = DecodeDeadlineKey(keys[i]);
    ASSERT_TRUE(decoded.ok());
    ASSERT_EQ(as_tuple(*decoded), as_tuple(deadlines[i])) << "position " << i;
  }
}

TEST(KeyCodec, DeadlineRoundTripsIncludingBefore1970AndFarFuture) {
  for (absl::Time t :
       {absl::FromCivil(absl::CivilSecond(1901, 3, 2, 10, 0, 0), absl::UTCTimeZone()),
        absl::UnixEpoch() - absl::Microseconds(1), absl::UnixEpoch(),
        absl::FromCivil(absl::CivilSecond(2024, 3, 2), absl::UTCTimeZone()),
        absl::FromCivil(absl::CivilSecond(9999, 12, 31), absl::UTCTimeZone())}) {
    const Deadline d{DeadlineSpace::kOcait, t, 5, "referral-17"};
    absl::StatusOr<Deadline> decoded = DecodeDeadlineKey(EncodeDeadlineKey(d));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, d);
  }
}

TEST(KeyCodec, SeekKeySeparatesEarlierFromLaterInOneSpace) {
  const absl::Time t = absl::FromUnixSeconds(1'700'000'000);
  const std::string seek = DeadlineSeekKey(DeadlineSpace::kRso, t);
  EXPECT_LT(EncodeDeadlineKey({DeadlineSpace::kRso, t - absl::Microseconds(1), 255, "\xff\xff"}),
            seek);
  EXPECT_GT(EncodeDeadlineKey({DeadlineSpace::kRso, t, 0, ""}), seek);
  // Spaces never interleave.
  EXPECT_LT(EncodeDeadlineKey({DeadlineSpace::kRso, absl::InfiniteFuture(), 255, "z"}),
            EncodeDeadlineKey({DeadlineSpace::kOcait, absl::InfinitePast(), 0, ""}));
}

TEST(KeyCodec, MalformedDeadlineKeyIsInvalidArgument) {
  EXPECT_THAT(DecodeDeadlineKey("short"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyCodec, EventKeysOfAContextSortBySequenceAndStayInTheirPrefix) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> sequences;
  for (int i = 0; i < 1000; ++i) sequences.push_back(rng());
  sequences.push_back(0);
  sequences.push_back(UINT64_MAX);
  std::vector<std::string> keys;
  for (uint64_t s : sequences) keys.push_back(EventKey("rso", s));
  std::sort(keys.begin(), keys.end());
  std::sort(sequences.begin(), sequences.end());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(keys[i].starts_with(EventPrefix("rso")));
    absl::StatusOr<uint64_t> s = DecodeEventKey("rso", keys[i]);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, sequences[i]);
  }
  // "rso" events never fall inside the prefix of a context that extends the name.
  EXPECT_FALSE(EventKey("rso", 5).starts_with(EventPrefix("rsox")));
  EXPECT_FALSE(EventKey("rsox", 5).starts_with(EventPrefix("rso")));
  EXPECT_THAT(DecodeEventKey("rso", EventKey("ocait", 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyCodec, EventContextMustBeShortLowercase) {
  EXPECT_TRUE(ValidateEventContext("rso").ok());
  EXPECT_TRUE(ValidateEventContext("alerts.v1-x_2").ok());
  EXPECT_THAT(ValidateEventContext(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateEventContext("RSO"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateEventContext(std::string("a\0b", 3)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateEventContext(std::string(65, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyCodec, AuditIndexPrefixesOfDistinctValuesNeverNest) {
  // Length prefixes keep "ab" out of the range of "a" even though one string extends the other.
  EXPECT_FALSE(
      AuditBySubjectPrefix("wessex", "ab").starts_with(AuditBySubjectPrefix("wessex", "a")));
  EXPECT_FALSE(
      AuditBySubjectPrefix("wessexx", "a").starts_with(AuditBySubjectPrefix("wessex", "")));
  std::string key = AuditByActorPrefix("wessex", "DC 1");
  PutFixed64BE(&key, 42);
  absl::StatusOr<uint64_t> sequence = DecodeAuditIndexSequence(key);
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(*sequence, 42u);
}

TEST(KeyCodec, LengthPrefixedRoundTripsAndRejectsTruncation) {
  std::string buffer;
  const std::string long_value(300, 'x');
  PutLengthPrefixed(&buffer, "a");
  PutLengthPrefixed(&buffer, long_value);
  PutLengthPrefixed(&buffer, "");
  absl::string_view input = buffer;
  absl::string_view value;
  ASSERT_TRUE(GetLengthPrefixed(&input, &value));
  EXPECT_EQ(value, "a");
  ASSERT_TRUE(GetLengthPrefixed(&input, &value));
  EXPECT_EQ(value, long_value);
  ASSERT_TRUE(GetLengthPrefixed(&input, &value));
  EXPECT_EQ(value, "");
  EXPECT_TRUE(input.empty());
  absl::string_view truncated = absl::string_view(buffer).substr(0, 4);
  ASSERT_TRUE(GetLengthPrefixed(&truncated, &value));
  EXPECT_FALSE(GetLengthPrefixed(&truncated, &value));
}

}  // namespace
}  // namespace vigil::storage
