// Message digests on OpenSSL 3. Thread-safe.
#ifndef VIGIL_BASE_CRYPTO_DIGEST_H_
#define VIGIL_BASE_CRYPTO_DIGEST_H_

#include <cstddef>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil::crypto {

inline constexpr size_t kSha256Bytes = 32;

// SHA-256 of the concatenation of `parts`: kSha256Bytes raw bytes. Hashing memory fails only
// when OpenSSL cannot allocate, which aborts the process (a hash must never come out empty).
std::string Sha256(std::initializer_list<absl::string_view> parts);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_DIGEST_H_
