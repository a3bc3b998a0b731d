#include "storage/audit_chain.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "storage/key_codec.h"

namespace vigil::storage {
namespace {

constexpr char kEnvelopeFormat = 1;
constexpr size_t kEnvelopeHeader = 1 + 2 * kAuditHashBytes;

}  // namespace

std::string GenesisHash() { return std::string(kAuditHashBytes, '\0'); }

std::string ChainHash(absl::string_view previous_hash, uint64_t sequence, absl::string_view body) {
  std::string sequence_bytes;
  PutFixed64BE(&sequence_bytes, sequence);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // SHA-256 over memory cannot fail short of allocation failure, which EVP_MD_CTX_new reports.
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, previous_hash.data(), previous_hash.size()) == 1 &&
                  EVP_DigestUpdate(ctx, sequence_bytes.data(), sequence_bytes.size()) == 1 &&
                  EVP_DigestUpdate(ctx, body.data(), body.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || digest_len != kAuditHashBytes) {
    // An empty hash never verifies, so a failure here shows up as a broken chain, not silently.
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(digest), digest_len);
}

std::string EncodeAuditEnvelope(absl::string_view previous_hash, absl::string_view hash,
                                absl::string_view body) {
  std::string value;
  value.reserve(kEnvelopeHeader + body.size());
  value.push_back(kEnvelopeFormat);
  value.append(previous_hash.data(), previous_hash.size());
  value.append(hash.data(), hash.size());
  value.append(body.data(), body.size());
  return value;
}

absl::StatusOr<StoredAuditRecord> DecodeAuditEnvelope(uint64_t sequence, absl::string_view value) {
  if (value.size() < kEnvelopeHeader || value[0] != kEnvelopeFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit record ", sequence, " has a malformed envelope"));
  }
  StoredAuditRecord record;
  record.sequence = sequence;
  record.previous_hash = std::string(value.substr(1, kAuditHashBytes));
  record.hash = std::string(value.substr(1 + kAuditHashBytes, kAuditHashBytes));
  record.body = std::string(value.substr(kEnvelopeHeader));
  return record;
}

}  // namespace vigil::storage
