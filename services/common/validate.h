// Checks of request fields shared by every service. Each returns InvalidArgument naming the
// field, in words a person can act on: "display_name: required".
#ifndef VIGIL_SERVICES_COMMON_VALIDATE_H_
#define VIGIL_SERVICES_COMMON_VALIDATE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "vigil/v1/common.pb.h"

namespace vigil {

// How far ahead of the server's clock a client's "now" may be before a time counts as in the
// future.
inline constexpr absl::Duration kClockSkewAllowance = absl::Minutes(5);

// An identifier: 1-64 of [A-Za-z0-9._-].
absl::Status ValidateId(absl::string_view field, absl::string_view value);

// A name or free text: at most `max_bytes`, no control characters except (when `multiline`)
// newlines and tabs; `required` refuses empty.
absl::Status ValidateText(absl::string_view field, absl::string_view value, size_t max_bytes,
                          bool required, bool multiline = false);

// A timestamp that must be present and not in the future (beyond kClockSkewAllowance of `now`).
absl::StatusOr<absl::Time> RequirePastTime(absl::string_view field, bool present,
                                           const google::protobuf::Timestamp& ts, absl::Time now);

// As RequirePastTime, but an absent field is nullopt.
absl::StatusOr<std::optional<absl::Time>> OptionalPastTime(absl::string_view field, bool present,
                                                           const google::protobuf::Timestamp& ts,
                                                           absl::Time now);

// The report of a refused import row: InvalidArgument "field: reason" splits into its field and
// reason; any other status is a reason alone.
v1::ImportRowError RowError(int64_t line, const absl::Status& status);

// A new random identifier: `prefix` followed by 12 characters of [0-9A-Z] (Crockford's base32,
// 60 bits of randomness).
std::string NewId(absl::string_view prefix);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_VALIDATE_H_
