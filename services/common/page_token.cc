#include "services/common/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/crypto/digest.h"
#include "services/common/errors.h"
#include "storage/key_codec.h"

namespace vigil {
namespace {

constexpr char kFormat = 1;

uint64_t Fingerprint(absl::string_view query) {
  return storage::DecodeFixed64BE(crypto::Sha256({query}).data());
}

}  // namespace

std::string EncodePageToken(absl::string_view query, absl::string_view cursor) {
  std::string raw(1, kFormat);
  storage::PutFixed64BE(&raw, Fingerprint(query));
  raw.append(cursor.data(), cursor.size());
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view query) {
  if (token.empty()) return std::string();
  std::string raw;
  if (token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 9 ||
      raw[0] != kFormat) {
    return FieldError("page_token", "is not a token this server issued");
  }
  if (storage::DecodeFixed64BE(raw.data() + 1) != Fingerprint(query)) {
    return FieldError("page_token", "belongs to a different query; start again without it");
  }
  return raw.substr(9);
}

absl::StatusOr<int> EffectivePageSize(int requested, int default_size, int max_size) {
  if (requested < 0) return FieldError("page.page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min(requested, max_size);
}

}  // namespace vigil
