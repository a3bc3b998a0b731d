#include "clients/cli/format.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "base/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "vigil/v1/common.pb.h"

namespace vigil::cli {
namespace {}  // namespace

std::string FormatDate(const google::protobuf::Timestamp& ts, bool present) {
  if (!present) return "-";
  return absl::FormatTime("%Y-%m-%d", TimeOf(ts), absl::UTCTimeZone());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool present) {
  if (!present) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", TimeOf(ts), absl::UTCTimeZone());
}

std::string FormatDueDate(const google::protobuf::Timestamp& due) {
  static const absl::TimeZone zone = [] {
    absl::TimeZone london;
    return absl::LoadTimeZone("Europe/London", &london) ? london : absl::UTCTimeZone();
  }();
  return absl::FormatTime("%Y-%m-%d", TimeOf(due) - absl::Nanoseconds(1), zone);
}

std::string RiskText(int risk) {
  if (risk == 0) return "not assessed";
  return EnumText(google::protobuf::GetEnumDescriptor<v1::RiskLevel>(), risk, "RISK_LEVEL_");
}

int64_t DaysSince(const google::protobuf::Timestamp& ts, absl::Time now) {
  return static_cast<int64_t>(std::floor(absl::FDivDuration(now - TimeOf(ts), absl::Hours(24))));
}

std::string EnumText(const google::protobuf::EnumDescriptor* type, int value,
                     absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  std::string name = v->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  name = absl::AsciiStrToLower(name);
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

absl::StatusOr<int> ParseEnumText(const google::protobuf::EnumDescriptor* type,
                                  absl::string_view prefix, absl::string_view text,
                                  absl::string_view flag) {
  std::string name = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}, {" ", "_"}}));
  if (!absl::StartsWith(name, prefix)) name = absl::StrCat(prefix, name);
  if (const google::protobuf::EnumValueDescriptor* v = type->FindValueByName(name);
      v != nullptr && v->number() != 0) {
    return v->number();
  }
  std::vector<std::string> accepted;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0)
      accepted.push_back(EnumText(type, type->value(i)->number(), prefix));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": '", text, "' is not one of ", absl::StrJoin(accepted, ", ")));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) { return ToProtoTime(t); }

std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace vigil::cli
