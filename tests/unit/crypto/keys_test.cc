// Keys: the two types vigil signs and verifies with, PEM in both directions, and no passphrase
// prompt ever.
#include "base/crypto/keys.h"

#include <openssl/pem.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vigil::testing::StatusIs;

TEST(Keys, GeneratedKeysHaveTheirType) {
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEcP256Key());
  EXPECT_EQ(KeyTypeOf(*ec), KeyType::kEcP256);
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr rsa, GenerateRsaKey(2048));
  EXPECT_EQ(KeyTypeOf(*rsa), KeyType::kRsa);
  EXPECT_THAT(GenerateRsaKey(1024),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1024 bits is too small")));
}

TEST(Keys, OtherCurvesAndAlgorithmsAreOther) {
  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_NE(p384, nullptr);
  EXPECT_EQ(KeyTypeOf(*p384), KeyType::kOther);
  EvpPkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed25519, nullptr);
  EXPECT_EQ(KeyTypeOf(*ed25519), KeyType::kOther);
  std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<&EVP_PKEY_CTX_free>> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_generate(ctx.get(), &raw), 1);
  EvpPkeyPtr pss(raw);
  EXPECT_EQ(KeyTypeOf(*pss), KeyType::kOther);
}

TEST(Keys, PemRoundTripsPrivateAndPublicHalves) {
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcP256Key());
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string private_pem, PrivateKeyToPem(*key));
  EXPECT_THAT(private_pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr read_back, ReadPrivateKeyPem(private_pem));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), read_back.get()), 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string public_pem, PublicKeyToPem(*key));
  EXPECT_THAT(public_pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr public_key, ReadPublicKeyPem(public_pem));
  EXPECT_EQ(EVP_PKEY_eq(key.get(), public_key.get()), 1);
  EXPECT_THAT(ReadPrivateKeyPem(public_pem), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Keys, EncryptedKeyIsRefusedWithoutAPrompt) {
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcP256Key());
  BioPtr bio(BIO_new(BIO_s_mem()));
  static const char kPassphrase[] = "correct horse";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), kPassphrase,
                                          sizeof(kPassphrase) - 1, nullptr, nullptr),
            1);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string pem, MemoryBioContents(bio.get()));
  ASSERT_THAT(pem, HasSubstr("ENCRYPTED"));
  EXPECT_THAT(ReadPrivateKeyPem(pem), StatusIs(absl::StatusCode::kInvalidArgument,
                                               StartsWith("not an unencrypted PEM private key")));
}

TEST(Keys, OpenSslErrorCarriesOpenSslsText) {
  ASSERT_FALSE(
      ReadPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  EXPECT_THAT(OpenSslError(absl::StatusCode::kInternal, "nothing queued"),
              StatusIs(absl::StatusCode::kInternal, "nothing queued"));
}

}  // namespace
}  // namespace vigil::crypto
