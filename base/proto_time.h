// Conversions between google.protobuf.Timestamp on the wire and absl::Time inside.
#ifndef VIGIL_BASE_PROTO_TIME_H_
#define VIGIL_BASE_PROTO_TIME_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace vigil {

google::protobuf::Timestamp ToProtoTime(absl::Time t);

// A stored timestamp, trusted to be valid (vigil wrote it); the Unix epoch when unset.
absl::Time TimeOf(const google::protobuf::Timestamp& ts);
// As TimeOf, for an optional field: nullopt unless `present` (its has_...()).
std::optional<absl::Time> TimeOf(bool present, const google::protobuf::Timestamp& ts);

// InvalidArgument naming `field` unless `ts` is a valid timestamp (0001-01-01 to 9999-12-31,
// nanos in [0, 1e9)).
absl::StatusOr<absl::Time> FromProtoTime(const google::protobuf::Timestamp& ts,
                                         absl::string_view field);

// As FromProtoTime, but an absent field (`present` false) gives nullopt.
absl::StatusOr<std::optional<absl::Time>> OptionalProtoTime(bool present,
                                                            const google::protobuf::Timestamp& ts,
                                                            absl::string_view field);

// "2024-03-02" / "2024-03-02T10:15:00Z" in UTC, for messages.
std::string FormatUtcDate(absl::Time t);
std::string FormatUtcTime(absl::Time t);

}  // namespace vigil

#endif  // VIGIL_BASE_PROTO_TIME_H_
