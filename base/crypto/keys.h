// Keys and the OpenSSL plumbing that jwt.h and x509.h share: owning pointers for OpenSSL
// objects, OpenSSL errors as absl::Status, key generation and PEM.
//
// Every function here is thread-safe. An EVP_PKEY that is not modified may be used by many
// threads at once (OpenSSL 3 reference-counts it atomically).
#ifndef VIGIL_BASE_CRYPTO_KEYS_H_
#define VIGIL_BASE_CRYPTO_KEYS_H_

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::crypto {

// A deleter calling an OpenSSL free function: std::unique_ptr<X509, OpenSslFree<X509_free>>.
template <auto kFree>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// Owns one reference to a key. Keys are never modified once built, so jwt.h shares them
// across threads with std::shared_ptr (see ShareKey); OpenSSL's verify and sign calls take a
// non-const EVP_PKEY* even though they do not modify it.
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<&EVP_PKEY_free>>;

using BioPtr = std::unique_ptr<BIO, OpenSslFree<&BIO_free>>;

// A read-only memory BIO over `data`, which must outlive it. InvalidArgument over 2 GiB.
absl::StatusOr<BioPtr> ReadOnlyBio(absl::string_view data);

// Everything written to the memory BIO `bio`.
absl::StatusOr<std::string> MemoryBioContents(BIO* bio);

// Turns the owning pointer into a shared one that frees the key with EVP_PKEY_free.
std::shared_ptr<EVP_PKEY> ShareKey(EvpPkeyPtr key);

// The status of a failed OpenSSL call: `what`, then each error OpenSSL queued on this thread
// (ERR_error_string text), which are removed from the queue.
//   "EVP_PKEY_fromdata: error:1E08010C:DECODER routines::unsupported"
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// Empties this thread's OpenSSL error queue (after a failure that was handled).
void ClearOpenSslErrors();

enum class KeyType {
  kRsa,     // RSA, PKCS#1 v1.5 signatures (RS256)
  kEcP256,  // EC on NIST P-256 (prime256v1), ECDSA signatures (ES256)
  kOther,   // anything else: refused by every signing and verifying function here
};

// What `key` is. kOther for an EC key on another curve, RSA-PSS, Ed25519, DH, ...
KeyType KeyTypeOf(const EVP_PKEY& key);

// A new EC P-256 key pair, the kind vigil's certificates and token-signing keys use.
// Internal when OpenSSL fails (no entropy).
absl::StatusOr<EvpPkeyPtr> GenerateEcP256Key();

// A new RSA key pair of `bits` (at least 2048), for tests and for operators who need RS256.
absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits);

// Reads an unencrypted private key from PEM ("PRIVATE KEY", "EC PRIVATE KEY",
// "RSA PRIVATE KEY"). InvalidArgument when `pem` holds no such key, or an encrypted one (vigil
// never prompts for a passphrase).
absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyPem(absl::string_view pem);

// Reads a public key ("PUBLIC KEY", SubjectPublicKeyInfo) from PEM. InvalidArgument otherwise.
absl::StatusOr<EvpPkeyPtr> ReadPublicKeyPem(absl::string_view pem);

// The private key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY& key);

// The public half as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY& key);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_KEYS_H_
