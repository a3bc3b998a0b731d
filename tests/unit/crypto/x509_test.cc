// Certificates as docs/security.md describes them: a CA, server and client certificates made
// here and checked with OpenSSL's own verifier, and the identity read back from the subject.
#include "base/crypto/x509.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <set>

#include "base/crypto/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::crypto {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

using X509Ptr = std::unique_ptr<X509, OpenSslFree<&X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslFree<&X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslFree<&X509_STORE_CTX_free>>;

const absl::Time kNow = absl::FromUnixSeconds(1780000000);  // 2026-05-28

X509Ptr Parse(const std::string& pem) {
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(pem);
  if (!bio.ok()) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert of `leaf` against `ca` at `when`, for `purpose` (X509_PURPOSE_SSL_SERVER,
// _CLIENT), and for `host` when given. The OpenSSL error text, or "" when it verifies.
std::string VerifyChain(const std::string& ca, const std::string& leaf, absl::Time when,
                        int purpose, const std::string& host = "") {
  X509Ptr ca_cert = Parse(ca);
  X509Ptr leaf_cert = Parse(leaf);
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ca_cert == nullptr || leaf_cert == nullptr || store == nullptr || ctx == nullptr ||
      X509_STORE_add_cert(store.get(), ca_cert.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf_cert.get(), nullptr) != 1) {
    return "setup failed";
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(when));
  X509_VERIFY_PARAM_set_purpose(param, purpose);
  if (!host.empty()) X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

class CertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override { VIGIL_ASSERT_OK_AND_ASSIGN(ca_, CreateCa("vigil test CA", kNow)); }

  CertificateIdentity Identity() {
    return {.actor = "DC 100",
            .force = "wessex",
            .team = "MOSOVO North",
            .role = "officer",
            .rank = "sergeant"};
  }

  CertifiedKey ca_;
};

TEST_F(CertificatesTest, ClientCertificateCarriesTheIdentityBackToParse) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, Identity(), kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertificateIdentity parsed,
                             ParseCertificateIdentity(client.certificate_pem));
  EXPECT_EQ(parsed, Identity());
}

TEST_F(CertificatesTest, TeamAndRankAreOptional) {
  CertificateIdentity identity;
  identity.actor = "vigil-alerts";
  identity.force = "national";
  identity.role = "service";
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, identity, kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertificateIdentity parsed,
                             ParseCertificateIdentity(client.certificate_pem));
  EXPECT_EQ(parsed, identity);
}

TEST_F(CertificatesTest, ClientSubjectUsesTheDocumentedAttributes) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, Identity(), kNow));
  X509Ptr cert = Parse(client.certificate_pem);
  ASSERT_NE(cert, nullptr);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto value = [&](const char* oid) -> std::string {
    ASN1_OBJECT* object = OBJ_txt2obj(oid, 1);
    const int index = X509_NAME_get_index_by_OBJ(subject, object, -1);
    ASN1_OBJECT_free(object);
    if (index < 0) return "<absent>";
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    EXPECT_EQ(ASN1_STRING_type(data), V_ASN1_UTF8STRING) << oid;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                       static_cast<size_t>(ASN1_STRING_length(data)));
  };
  EXPECT_EQ(value("2.5.4.3"), "DC 100");
  EXPECT_EQ(value("2.5.4.10"), "wessex");
  EXPECT_EQ(value("2.5.4.11"), "MOSOVO North");
  EXPECT_EQ(value("2.5.4.72"), "officer");
  EXPECT_EQ(value("2.5.4.12"), "sergeant");
}

TEST_F(CertificatesTest, ServerCertificateVerifiesAgainstItsCaForEachHost) {
  VIGIL_ASSERT_OK_AND_ASSIGN(
      CertifiedKey server,
      CreateServerCertificate(ca_, {"vigild.wessex.example", "localhost", "127.0.0.1", "::1"},
                              kNow));
  EXPECT_EQ(VerifyChain(ca_.certificate_pem, server.certificate_pem, kNow, X509_PURPOSE_SSL_SERVER,
                        "vigild.wessex.example"),
            "");
  EXPECT_EQ(VerifyChain(ca_.certificate_pem, server.certificate_pem, kNow, X509_PURPOSE_SSL_SERVER,
                        "localhost"),
            "");
  EXPECT_NE(VerifyChain(ca_.certificate_pem, server.certificate_pem, kNow, X509_PURPOSE_SSL_SERVER,
                        "other.example"),
            "");
  VIGIL_ASSERT_OK_AND_ASSIGN(CertificateSummary summary,
                             SummarizeCertificate(server.certificate_pem));
  EXPECT_THAT(summary.hosts, ElementsAre("vigild.wessex.example", "localhost", "127.0.0.1", "::1"));
  EXPECT_EQ(summary.subject, "CN=vigild.wessex.example");
  EXPECT_EQ(summary.issuer, "CN=vigil test CA");
  EXPECT_TRUE(summary.server_auth);
  EXPECT_FALSE(summary.client_auth);
  EXPECT_FALSE(summary.is_ca);
}

TEST_F(CertificatesTest, ServerCertificateIsNotAClientCertificateNorTheReverse) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey server,
                             CreateServerCertificate(ca_, {"localhost"}, kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, Identity(), kNow));
  EXPECT_EQ(VerifyChain(ca_.certificate_pem, client.certificate_pem, kNow, X509_PURPOSE_SSL_CLIENT),
            "");
  EXPECT_NE(VerifyChain(ca_.certificate_pem, server.certificate_pem, kNow, X509_PURPOSE_SSL_CLIENT),
            "");
  EXPECT_NE(VerifyChain(ca_.certificate_pem, client.certificate_pem, kNow, X509_PURPOSE_SSL_SERVER),
            "");
}

TEST_F(CertificatesTest, CertificateFromAnotherCaDoesNotVerify) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey other_ca, CreateCa("other CA", kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey server,
                             CreateServerCertificate(other_ca, {"localhost"}, kNow));
  EXPECT_NE(VerifyChain(ca_.certificate_pem, server.certificate_pem, kNow, X509_PURPOSE_SSL_SERVER),
            "");
}

TEST_F(CertificatesTest, LifetimesFollowTheDocument) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey server,
                             CreateServerCertificate(ca_, {"localhost"}, kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, Identity(), kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey short_lived,
                             CreateClientCertificate(ca_, Identity(), kNow, 7));
  const std::pair<const CertifiedKey*, int> expected[] = {
      {&ca_, 3650}, {&server, 730}, {&client, 365}, {&short_lived, 7}};
  for (const auto& [cert, days] : expected) {
    VIGIL_ASSERT_OK_AND_ASSIGN(CertificateSummary summary,
                               SummarizeCertificate(cert->certificate_pem));
    EXPECT_EQ(summary.not_before, kNow - absl::Minutes(5));
    EXPECT_EQ(summary.not_after, kNow + absl::Hours(24) * days);
  }
  EXPECT_NE(VerifyChain(ca_.certificate_pem, short_lived.certificate_pem,
                        kNow + absl::Hours(24 * 8), X509_PURPOSE_SSL_CLIENT),
            "");
  EXPECT_THAT(CreateCa("CA", kNow, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lifetime")));
}

TEST_F(CertificatesTest, CaHasCriticalBasicConstraintsKeyUsageAndKeyIdentifiers) {
  X509Ptr ca = Parse(ca_.certificate_pem);
  ASSERT_NE(ca, nullptr);
  const uint32_t flags = X509_get_extension_flags(ca.get());
  EXPECT_NE(flags & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  for (int nid : {NID_basic_constraints, NID_key_usage}) {
    const int index = X509_get_ext_by_NID(ca.get(), nid, -1);
    ASSERT_GE(index, 0) << OBJ_nid2sn(nid);
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), index)), 1) << OBJ_nid2sn(nid);
  }
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(ca.get()), nullptr);
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
}

TEST_F(CertificatesTest, LeafCertificatesAreNotCasAndNameTheirIssuerKey) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey client, CreateClientCertificate(ca_, Identity(), kNow));
  X509Ptr ca = Parse(ca_.certificate_pem);
  X509Ptr leaf = Parse(client.certificate_pem);
  EXPECT_EQ(X509_get_extension_flags(leaf.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                                  X509_get0_subject_key_id(ca.get())),
            0);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, ReadPrivateKeyPem(client.private_key_pem));
  EXPECT_EQ(KeyTypeOf(*key), KeyType::kEcP256);
}

TEST_F(CertificatesTest, SerialNumbersAreRandomPositiveAndAtMost128Bits) {
  std::set<std::string> serials;
  for (int i = 0; i < 8; ++i) {
    VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey server,
                               CreateServerCertificate(ca_, {"localhost"}, kNow));
    X509Ptr cert = Parse(server.certificate_pem);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
    std::unique_ptr<BIGNUM, OpenSslFree<&BN_free>> bn(ASN1_INTEGER_to_BN(serial, nullptr));
    EXPECT_FALSE(BN_is_negative(bn.get()));
    EXPECT_FALSE(BN_is_zero(bn.get()));
    EXPECT_LE(BN_num_bits(bn.get()), 128);
    char* hex = BN_bn2hex(bn.get());
    serials.insert(hex);
    OPENSSL_free(hex);
  }
  EXPECT_EQ(serials.size(), 8u);
}

TEST_F(CertificatesTest, RefusesHostsThatAreNotNamesOrAddresses) {
  for (const char* host : {"", "bad host", "a..b", "-a.example", "a,DNS:evil.example", "*"}) {
    EXPECT_THAT(CreateServerCertificate(ca_, {"localhost", host}, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host: ")))
        << host;
  }
  EXPECT_THAT(CreateServerCertificate(ca_, {}, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host")));
  EXPECT_THAT(CreateServerCertificate(ca_, {"*.wessex.example"}, kNow), IsOk());
}

TEST_F(CertificatesTest, RefusesACaWhoseKeyIsNotItsOwn) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey other, CreateCa("other CA", kNow));
  CertifiedKey mixed = {.certificate_pem = ca_.certificate_pem,
                        .private_key_pem = other.private_key_pem};
  EXPECT_THAT(
      CreateServerCertificate(mixed, {"localhost"}, kNow),
      StatusIs(absl::StatusCode::kInvalidArgument, "CA key: does not match the CA certificate"));
}

TEST_F(CertificatesTest, RefusesToIssueFromALeafCertificate) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey server,
                             CreateServerCertificate(ca_, {"localhost"}, kNow));
  EXPECT_THAT(CreateClientCertificate(server, Identity(), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a CA")));
}

TEST_F(CertificatesTest, KeyMatchesItsCertificateOnly) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey a, CreateServerCertificate(ca_, {"localhost"}, kNow));
  VIGIL_ASSERT_OK_AND_ASSIGN(CertifiedKey b, CreateServerCertificate(ca_, {"localhost"}, kNow));
  EXPECT_THAT(CheckKeyMatchesCertificate(a.private_key_pem, a.certificate_pem), IsOk());
  EXPECT_THAT(
      CheckKeyMatchesCertificate(b.private_key_pem, a.certificate_pem),
      StatusIs(absl::StatusCode::kInvalidArgument, "the key does not match the certificate"));
  EXPECT_THAT(CheckKeyMatchesCertificate(a.certificate_pem, a.certificate_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key: not")));
  EXPECT_THAT(CheckKeyMatchesCertificate(a.private_key_pem, "garbage"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("certificate")));
}

TEST(ValidateCertificateIdentity, NamesThePartThatIsWrong) {
  CertificateIdentity good;
  good.actor = "DC 100";
  good.force = "wessex";
  good.role = "officer";
  EXPECT_THAT(ValidateCertificateIdentity(good), IsOk());
  struct Case {
    CertificateIdentity identity;
    const char* part;
  };
  auto with = [&](auto edit) {
    CertificateIdentity identity = good;
    edit(identity);
    return identity;
  };
  const Case cases[] = {
      {with([](auto& i) { i.actor = ""; }), "actor: "},
      {with([](auto& i) { i.actor = std::string(65, 'a'); }), "actor: "},
      {with([](auto& i) { i.actor = "DC\t100"; }), "actor: "},
      {with([](auto& i) { i.force = "Wessex"; }), "force: "},
      {with([](auto& i) { i.force = ""; }), "force: "},
      {with([](auto& i) { i.force = std::string(65, 'a'); }), "force: "},
      {with([](auto& i) { i.team = std::string(65, 'a'); }), "team: "},
      {with([](auto& i) { i.role = "admin"; }), "role: 'admin' is not one of officer, "},
      {with([](auto& i) { i.rank = "constable"; }), "rank: 'constable' is not one of"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ValidateCertificateIdentity(c.identity),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.part)));
  }
}

// Certificates another CA might issue, built here attribute by attribute.
class ForeignCertificateTest : public ::testing::Test {
 protected:
  struct Attribute {
    int nid;
    int type;  // V_ASN1_UTF8STRING, V_ASN1_BMPSTRING, ...
    std::string bytes;
  };

  // A self-signed certificate whose subject is exactly `attributes`.
  std::string Make(const std::vector<Attribute>& attributes) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateEcP256Key();
    EXPECT_THAT(key.status(), IsOk());
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    for (const Attribute& a : attributes) {
      EXPECT_EQ(X509_NAME_add_entry_by_NID(name, a.nid, a.type,
                                           reinterpret_cast<const unsigned char*>(a.bytes.data()),
                                           static_cast<int>(a.bytes.size()), -1, 0),
                1);
    }
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key->get());
    EXPECT_GT(X509_sign(cert.get(), key->get(), EVP_sha256()), 0);
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    return *MemoryBioContents(bio.get());
  }

  const Attribute cn_{NID_commonName, V_ASN1_UTF8STRING, "DC 100"};
  const Attribute o_{NID_organizationName, V_ASN1_PRINTABLESTRING, "wessex"};
  const Attribute role_{NID_role, V_ASN1_UTF8STRING, "officer"};
};

TEST_F(ForeignCertificateTest, AcceptsPrintableStrings) {
  VIGIL_ASSERT_OK_AND_ASSIGN(CertificateIdentity identity,
                             ParseCertificateIdentity(Make({cn_, o_, role_})));
  EXPECT_EQ(identity.force, "wessex");
  EXPECT_EQ(identity.team, "");
}

TEST_F(ForeignCertificateTest, RefusesMissingActorForceOrRoleNamingTheAttribute) {
  const absl::StatusCode unauthenticated = absl::StatusCode::kUnauthenticated;
  EXPECT_THAT(ParseCertificateIdentity(Make({o_, role_})),
              StatusIs(unauthenticated, "certificate: the subject has no CN (actor)"));
  EXPECT_THAT(ParseCertificateIdentity(Make({cn_, role_})),
              StatusIs(unauthenticated, "certificate: the subject has no O (force)"));
  EXPECT_THAT(ParseCertificateIdentity(Make({cn_, o_})),
              StatusIs(unauthenticated, "certificate: the subject has no role (role)"));
}

TEST_F(ForeignCertificateTest, RefusesAnAttributeGivenTwice) {
  const Attribute second_cn{NID_commonName, V_ASN1_UTF8STRING, "Supt 1"};
  EXPECT_THAT(ParseCertificateIdentity(Make({cn_, o_, role_, second_cn})),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "certificate: the subject has more than one CN (actor)"));
}

TEST_F(ForeignCertificateTest, RefusesControlCharactersAndEmbeddedNul) {
  for (const std::string& actor :
       {std::string("DC\0 100", 7), std::string("DC\n100"), std::string("DC\x7f")}) {
    const Attribute cn{NID_commonName, V_ASN1_UTF8STRING, actor};
    EXPECT_THAT(ParseCertificateIdentity(Make({cn, o_, role_})),
                StatusIs(absl::StatusCode::kUnauthenticated,
                         "certificate: CN (actor) holds a control character"));
  }
}

TEST_F(ForeignCertificateTest, RefusesOtherStringTypes) {
  const Attribute bmp_role{NID_role, V_ASN1_BMPSTRING, std::string("\0o\0f\0f", 6)};
  EXPECT_THAT(ParseCertificateIdentity(Make({cn_, o_, bmp_role})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("role (role) is a BMP")));
}

// OpenSSL refuses to decode such a certificate at all; either way it is refused.
TEST_F(ForeignCertificateTest, RefusesInvalidUtf8) {
  const Attribute cn{NID_commonName, V_ASN1_UTF8STRING, "DC \xff\xfe"};
  EXPECT_THAT(ParseCertificateIdentity(Make({cn, o_, role_})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("certificate: ")));
}

TEST(ParseCertificateIdentity, RefusesWhatIsNotACertificate) {
  for (const char* pem : {"", "garbage",
                          "-----BEGIN CERTIFICATE-----\nAAAA\n"
                          "-----END CERTIFICATE-----\n"}) {
    EXPECT_THAT(ParseCertificateIdentity(pem),
                StatusIs(absl::StatusCode::kUnauthenticated,
                         HasSubstr("certificate: not a PEM certificate")));
  }
}

}  // namespace
}  // namespace vigil::crypto
