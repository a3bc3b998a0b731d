#include "services/ocait/identifiers.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/common/errors.h"

namespace vigil::ocait {
namespace {

constexpr size_t kMaxIdentifierBytes = 256;

bool IsPrintable(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::StatusOr<std::string> Email(absl::string_view value, absl::string_view field) {
  const std::string email = absl::AsciiStrToLower(value);
  const size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos) {
    return FieldError(field, absl::StrCat("'", value, "' is not an email address"));
  }
  const absl::string_view domain = absl::string_view(email).substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == absl::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || email.find(' ') != std::string::npos) {
    return FieldError(field, absl::StrCat("'", value, "' is not an email address"));
  }
  return email;
}

absl::StatusOr<std::string> Phone(absl::string_view value, absl::string_view field) {
  std::string digits;
  bool plus = false;
  absl::string_view rest = value;
  // "(0)" after a country code is the national trunk prefix written in: drop it.
  std::string text(rest);
  if (size_t trunk = text.find("(0)"); trunk != std::string::npos) text.erase(trunk, 3);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (absl::ascii_isdigit(c)) {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return FieldError(field, absl::StrCat("'", value, "' is not a phone number"));
    }
  }
  if (!plus && absl::StartsWith(digits, "00")) {
    plus = true;
    digits.erase(0, 2);
  }
  if (plus && absl::StartsWith(digits, "44")) {
    // National form has one trunk zero, even when the number was written "+44 0...".
    std::string national = digits.substr(2);
    digits = absl::StartsWith(national, "0") ? national : absl::StrCat("0", national);
    plus = false;
  }
  if (digits.size() < 7 || digits.size() > 15) {
    return FieldError(field, absl::StrCat("'", value, "' has ", digits.size(),
                                          " digits; a phone number has 7-15"));
  }
  return plus ? absl::StrCat("+", digits) : digits;
}

absl::StatusOr<std::string> Account(absl::string_view value, absl::string_view field) {
  std::string account = absl::AsciiStrToLower(value);
  std::string platform;
  std::string handle = account;
  if (size_t colon = account.find(':'); colon != std::string::npos) {
    platform = std::string(absl::StripAsciiWhitespace(account.substr(0, colon)));
    handle = account.substr(colon + 1);
  }
  handle = std::string(absl::StripAsciiWhitespace(handle));
  absl::string_view h = handle;
  absl::ConsumePrefix(&h, "@");
  if (h.empty() || h.find(' ') != absl::string_view::npos ||
      platform.find(' ') != std::string::npos) {
    return FieldError(field, absl::StrCat("'", value, "' is not an account (platform:handle)"));
  }
  return platform.empty() ? std::string(h) : absl::StrCat(platform, ":", h);
}

absl::StatusOr<std::string> Device(absl::string_view value, absl::string_view field) {
  std::string device;
  for (char c : value) {
    if (c == ' ' || c == '-' || c == ':' || c == '.') continue;
    if (!absl::ascii_isalnum(c)) {
      return FieldError(field, absl::StrCat("'", value, "' is not a device identifier"));
    }
    device.push_back(absl::ascii_toupper(c));
  }
  if (device.size() < 6) {
    return FieldError(field, absl::StrCat("'", value, "' is too short for a device identifier"));
  }
  const bool all_digits = std::all_of(device.begin(), device.end(), absl::ascii_isdigit);
  if (all_digits && device.size() == 15 && !ValidImei(device)) {
    return FieldError(field, absl::StrCat("'", value, "' fails the IMEI check digit"));
  }
  return device;
}

absl::StatusOr<std::string> Ip(absl::string_view value, absl::string_view field) {
  const std::string text(value);
  char out[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1 && inet_ntop(AF_INET, &v4, out, sizeof(out))) {
    return std::string(out);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && inet_ntop(AF_INET6, &v6, out, sizeof(out))) {
    return std::string(out);
  }
  return FieldError(field, absl::StrCat("'", value, "' is not an IP address"));
}

}  // namespace

bool ValidImei(absl::string_view digits) {
  if (digits.size() != 15) return false;
  int sum = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (!absl::ascii_isdigit(digits[i])) return false;
    int d = digits[i] - '0';
    if (i % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

absl::StatusOr<std::string> NormalizeIdentifier(v1::IdentifierType type, absl::string_view value,
                                                absl::string_view field) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  if (trimmed.empty()) return FieldError(field, "empty identifier");
  if (trimmed.size() > kMaxIdentifierBytes || !IsPrintable(trimmed)) {
    return FieldError(field, "an identifier is at most 256 printable characters");
  }
  switch (type) {
    case v1::IDENTIFIER_TYPE_EMAIL:
      return Email(trimmed, field);
    case v1::IDENTIFIER_TYPE_PHONE:
      return Phone(trimmed, field);
    case v1::IDENTIFIER_TYPE_ACCOUNT:
      return Account(trimmed, field);
    case v1::IDENTIFIER_TYPE_DEVICE:
      return Device(trimmed, field);
    case v1::IDENTIFIER_TYPE_IP_ADDRESS:
      return Ip(trimmed, field);
    default:
      return FieldError(field,
                        "give the identifier's type (email, phone, account, device, ip-address)");
  }
}

}  // namespace vigil::ocait
