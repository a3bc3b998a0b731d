#include "base/crypto/digest.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include "base/logging.h"

namespace vigil::crypto {
namespace {

[[noreturn]] void OutOfMemory() {
  VIGIL_LOG(ERROR) << "SHA-256 failed: OpenSSL is out of memory";
  std::abort();
}

// SHA-256's implementation, fetched from OpenSSL's default library context once. EVP_sha256()
// names the algorithm only: each digest begun with it fetches the implementation again, under
// a global lock and a search of the method store, which was most of what hashing a short
// string cost (an alert id, a request's digest). Kept for the process's life.
const EVP_MD* Sha256Implementation() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) {
      VIGIL_LOG(ERROR) << "SHA-256 is not available from OpenSSL's default provider (is a FIPS "
                          "or restricted configuration in force? see openssl.cnf)";
      std::abort();
    }
    return fetched;
  }();
  return md;
}

}  // namespace

std::string Sha256(std::initializer_list<absl::string_view> parts) {
  // One context per thread, initialised afresh for each digest.
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), Sha256Implementation(), nullptr) == 1;
  for (absl::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1;
  if (!ok || length != kSha256Bytes) OutOfMemory();
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace vigil::crypto
