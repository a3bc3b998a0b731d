#include "base/crypto/keys.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil::crypto {
namespace {

// Refuses to prompt for a passphrase: an encrypted key fails to load instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

absl::StatusOr<BioPtr> ReadOnlyBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("PEM: too large");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new_mem_buf");
  return bio;
}

absl::StatusOr<std::string> MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size < 0) return OpenSslError(absl::StatusCode::kInternal, "BIO_get_mem_data");
  if (size == 0 || data == nullptr) return std::string();
  return std::string(data, static_cast<size_t>(size));
}

std::shared_ptr<EVP_PKEY> ShareKey(EvpPkeyPtr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), OpenSslFree<&EVP_PKEY_free>());
}

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::vector<std::string> errors;
  while (unsigned long error = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    errors.emplace_back(text);
  }
  if (errors.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, ": ", absl::StrJoin(errors, "; ")));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

KeyType KeyTypeOf(const EVP_PKEY& key) {
  // EVP_PKEY_is_a(RSA) is false for RSA-PSS keys, which is what we want: they carry PSS
  // restrictions that RS256 (PKCS#1 v1.5) would violate.
  if (EVP_PKEY_is_a(&key, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(&key, "EC")) {
    char group[64];
    size_t length = 0;
    if (EVP_PKEY_get_group_name(&key, group, sizeof(group), &length) != 1) {
      ClearOpenSslErrors();
      return KeyType::kOther;
    }
    return OBJ_txt2nid(group) == NID_X9_62_prime256v1 ? KeyType::kEcP256 : KeyType::kOther;
  }
  return KeyType::kOther;
}

absl::StatusOr<EvpPkeyPtr> GenerateEcP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInternal, "generating a P-256 key");
  return key;
}

absl::StatusOr<EvpPkeyPtr> GenerateRsaKey(int bits) {
  if (bits < 2048) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA key size: ", bits, " bits is too small; at least 2048"));
  }
  EvpPkeyPtr key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInternal, "generating an RSA key");
  return key;
}

absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyPem(absl::string_view pem) {
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(pem);
  if (!bio.ok()) return bio.status();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, &NoPassphrase, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not an unencrypted PEM private key");
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> ReadPublicKeyPem(absl::string_view pem) {
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(pem);
  if (!bio.ok()) return bio.status();
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio->get(), nullptr, &NoPassphrase, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM public key");
  }
  return key;
}

absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  if (PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "PEM_write_bio_PrivateKey");
  }
  return MemoryBioContents(bio.get());
}

absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  if (PEM_write_bio_PUBKEY(bio.get(), &key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "PEM_write_bio_PUBKEY");
  }
  return MemoryBioContents(bio.get());
}

}  // namespace vigil::crypto
