// Turning API values into text for tables, and text from flags into API values.
#ifndef VIGIL_CLIENTS_CLI_FORMAT_H_
#define VIGIL_CLIENTS_CLI_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace vigil::cli {

// "2024-03-02" (UTC date) / "2024-03-02T10:15:00Z"; "-" when unset.
std::string FormatDate(const google::protobuf::Timestamp& ts, bool present = true);
std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool present = true);

// The last local (Europe/London) day on which a duty due at `due` may still be done: the day
// before the instant it becomes overdue.
std::string FormatDueDate(const google::protobuf::Timestamp& due);

// "not assessed" for RISK_LEVEL_UNSPECIFIED, else "low", "medium", "high", "very-high".
std::string RiskText(int risk);

// Whole days from `ts` to `now`, rounded down; negative when `ts` is later.
int64_t DaysSince(const google::protobuf::Timestamp& ts, absl::Time now);

// The short name of an enum value: RISK_LEVEL_VERY_HIGH with prefix "RISK_LEVEL_" ->
// "very-high".
std::string EnumText(const google::protobuf::EnumDescriptor* type, int value,
                     absl::string_view prefix);

// The inverse: "very-high", "VERY_HIGH" or "RISK_LEVEL_VERY_HIGH" -> its number.
// InvalidArgument listing the accepted names otherwise.
absl::StatusOr<int> ParseEnumText(const google::protobuf::EnumDescriptor* type,
                                  absl::string_view prefix, absl::string_view text,
                                  absl::string_view flag);

google::protobuf::Timestamp ToTimestamp(absl::Time t);

// `message` as one line of JSON (protobuf's JSON mapping, proto field names; fields at their
// default left out), without the newline: a line of a JSON Lines stream.
std::string JsonLine(const google::protobuf::Message& message);

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_FORMAT_H_
