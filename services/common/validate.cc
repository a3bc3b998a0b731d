#include "services/common/validate.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "services/common/errors.h"

namespace vigil {

absl::Status ValidateId(absl::string_view field, absl::string_view value) {
  if (value.empty()) return FieldError(field, "required");
  if (value.size() > 64) return FieldError(field, "longer than 64 characters");
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return FieldError(field, "may only hold letters, digits, '.', '_' and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view value, size_t max_bytes,
                          bool required, bool multiline) {
  if (required && value.empty()) return FieldError(field, "required");
  if (value.size() > max_bytes) {
    return FieldError(field, absl::StrCat("longer than ", max_bytes, " bytes"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) {
      return FieldError(field, "holds a control character");
    }
    if (u == 0x7f) return FieldError(field, "holds a control character");
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> RequirePastTime(absl::string_view field, bool present,
                                           const google::protobuf::Timestamp& ts, absl::Time now) {
  if (!present) return FieldError(field, "required");
  absl::StatusOr<absl::Time> t = FromProtoTime(ts, field);
  if (!t.ok()) return t.status();
  if (*t > now + kClockSkewAllowance) {
    return FieldError(field, absl::StrCat(FormatUtcTime(*t), " is in the future"));
  }
  return *t;
}

absl::StatusOr<std::optional<absl::Time>> OptionalPastTime(absl::string_view field, bool present,
                                                           const google::protobuf::Timestamp& ts,
                                                           absl::Time now) {
  if (!present) return std::optional<absl::Time>();
  absl::StatusOr<absl::Time> t = RequirePastTime(field, true, ts, now);
  if (!t.ok()) return t.status();
  return std::optional<absl::Time>(*t);
}

v1::ImportRowError RowError(int64_t line, const absl::Status& status) {
  v1::ImportRowError error;
  error.set_line(line);
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (status.code() == absl::StatusCode::kInvalidArgument && colon != absl::string_view::npos) {
    error.set_field(std::string(message.substr(0, colon)));
    error.set_reason(std::string(message.substr(colon + 2)));
  } else {
    error.set_reason(std::string(message));
  }
  return error;
}

std::string NewId(absl::string_view prefix) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local absl::BitGen gen;
  std::string id(prefix);
  for (int i = 0; i < 12; ++i) id.push_back(kAlphabet[absl::Uniform(gen, 0u, 32u)]);
  return id;
}

}  // namespace vigil
