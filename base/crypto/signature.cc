#include "base/crypto/signature.h"

#include <openssl/evp.h>

#include <memory>

namespace vigil::crypto {
namespace {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<&EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<&EVP_PKEY_CTX_free>>;

}  // namespace

absl::StatusOr<EvpPkeyPtr> GenerateEd25519Key() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "generating an Ed25519 key");
  }
  return EvpPkeyPtr(key);
}

bool IsEd25519(const EVP_PKEY& key) { return EVP_PKEY_get_id(&key) == EVP_PKEY_ED25519; }

absl::StatusOr<std::string> SignEd25519(const EVP_PKEY& key, absl::string_view message) {
  if (!IsEd25519(key)) return absl::InvalidArgumentError("not an Ed25519 key");
  EVP_PKEY* pkey = const_cast<EVP_PKEY*>(&key);  // OpenSSL does not modify it
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t length = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "signing with Ed25519 (is it the private key?)");
  }
  signature.resize(length);
  return signature;
}

absl::Status VerifyEd25519(const EVP_PKEY& key, absl::string_view message,
                           absl::string_view signature) {
  if (!IsEd25519(key)) return absl::InvalidArgumentError("not an Ed25519 key");
  EVP_PKEY* pkey = const_cast<EVP_PKEY*>(&key);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "preparing an Ed25519 verification");
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  if (ok != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("the Ed25519 signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace vigil::crypto
