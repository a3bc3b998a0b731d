// Ed25519 signatures (RFC 8032) over whole messages, on OpenSSL 3: the audit witness signs its
// checkpoints with them. Thread-safe: a key that is not modified may be shared.
#ifndef VIGIL_BASE_CRYPTO_SIGNATURE_H_
#define VIGIL_BASE_CRYPTO_SIGNATURE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/crypto/keys.h"

namespace vigil::crypto {

// A new Ed25519 key pair. Internal when OpenSSL fails.
absl::StatusOr<EvpPkeyPtr> GenerateEd25519Key();

// True for an Ed25519 key (private or public).
bool IsEd25519(const EVP_PKEY& key);

// The 64-byte signature of `message`. InvalidArgument when `key` is not an Ed25519 private key.
absl::StatusOr<std::string> SignEd25519(const EVP_PKEY& key, absl::string_view message);

// OK when `signature` is `key`'s signature of `message`; InvalidArgument otherwise (or when
// `key` is not Ed25519).
absl::Status VerifyEd25519(const EVP_PKEY& key, absl::string_view message,
                           absl::string_view signature);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_SIGNATURE_H_
