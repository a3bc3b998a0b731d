#include "base/proto_time.h"

#include "base/field_error.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::optional<absl::Time> TimeOf(bool present, const google::protobuf::Timestamp& ts) {
  if (!present) return std::nullopt;
  return TimeOf(ts);
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
  ts.set_seconds(seconds);
  ts.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
  return ts;
}

absl::StatusOr<absl::Time> FromProtoTime(const google::protobuf::Timestamp& ts,
                                         absl::string_view field) {
  if (ts.seconds() < google::protobuf::util::TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > google::protobuf::util::TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() >= 1000000000) {
    return FieldError(field, "is not a valid timestamp (0001-01-01 to 9999-12-31 UTC)");
  }
  return TimeOf(ts);
}

absl::StatusOr<std::optional<absl::Time>> OptionalProtoTime(bool present,
                                                            const google::protobuf::Timestamp& ts,
                                                            absl::string_view field) {
  if (!present) return std::optional<absl::Time>();
  absl::StatusOr<absl::Time> t = FromProtoTime(ts, field);
  if (!t.ok()) return t.status();
  return std::optional<absl::Time>(*t);
}

std::string FormatUtcDate(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

std::string FormatUtcTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace vigil
