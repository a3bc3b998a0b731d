// The token rules of docs/security.md ("Tokens"), each proven with real keys: RSA 2048 and
// EC P-256 generated per test binary, tokens signed by JwtSigner or forged byte by byte.
#include "base/crypto/jwt.h"

#include <openssl/ec.h>
#include <openssl/hmac.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::crypto {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

constexpr absl::StatusCode kUnauthenticated = absl::StatusCode::kUnauthenticated;
constexpr char kIssuer[] = "https://idp.wessex.police.example/realms/vigil";
constexpr char kAudience[] = "vigil";

// 2026-12-01T10:00:00Z
const absl::Time kExp = absl::FromUnixSeconds(1796119200);

struct Keys {
  std::shared_ptr<EVP_PKEY> rsa;
  std::shared_ptr<EVP_PKEY> ec;
};

// RSA key generation takes a while: once per binary.
const Keys& TestKeys() {
  static const Keys* keys = [] {
    auto* k = new Keys;
    absl::StatusOr<EvpPkeyPtr> rsa = GenerateRsaKey(2048);
    absl::StatusOr<EvpPkeyPtr> ec = GenerateEcP256Key();
    if (!rsa.ok() || !ec.ok()) std::abort();
    k->rsa = ShareKey(*std::move(rsa));
    k->ec = ShareKey(*std::move(ec));
    return k;
  }();
  return *keys;
}

google::protobuf::Struct Json(absl::string_view json) {
  google::protobuf::Struct object;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(json), &object).ok()) << json;
  return object;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

// One JWKS document holding the public halves of (key, kid) pairs.
std::string JwksJson(const std::vector<std::pair<EVP_PKEY*, std::string>>& keys) {
  google::protobuf::Struct document;
  auto* list = (*document.mutable_fields())["keys"].mutable_list_value();
  for (const auto& [key, kid] : keys) {
    absl::StatusOr<std::string> one = PublicJwksJson(*key, kid);
    EXPECT_THAT(one.status(), IsOk());
    const google::protobuf::Struct parsed = Json(*one);
    *list->add_values() = parsed.fields().at("keys").list_value().values(0);
  }
  return ToJson(document);
}

// The claims of a good token at kExp - 1 h.
google::protobuf::Struct GoodClaims() {
  return Json(absl::StrCat(R"({"iss":")", kIssuer, R"(","aud":")", kAudience,
                           R"(","sub":"f81d4fae","preferred_username":"DC 4512",)",
                           R"("vigil_role":"officer","vigil_force":"wessex","exp":)",
                           absl::ToUnixSeconds(kExp), R"(,"nbf":)",
                           absl::ToUnixSeconds(kExp - absl::Hours(2)), "}"));
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VIGIL_ASSERT_OK_AND_ASSIGN(
        Jwks jwks, Jwks::Parse(JwksJson({{keys_.rsa.get(), "rsa-1"}, {keys_.ec.get(), "ec-1"}})));
    JwtVerifierOptions options;
    options.jwks = std::make_shared<Jwks>(std::move(jwks));
    options.issuer = kIssuer;
    options.audience = kAudience;
    VIGIL_ASSERT_OK_AND_ASSIGN(verifier_, JwtVerifier::Create(std::move(options)));
    VIGIL_ASSERT_OK_AND_ASSIGN(rsa_, JwtSigner::FromKey(keys_.rsa, "rsa-1"));
    VIGIL_ASSERT_OK_AND_ASSIGN(ec_, JwtSigner::FromKey(keys_.ec, "ec-1"));
  }

  std::string Sign(const JwtSigner& signer, const google::protobuf::Struct& claims) {
    absl::StatusOr<std::string> token = signer.Sign(claims);
    EXPECT_THAT(token.status(), IsOk());
    return token.value_or("");
  }

  // The good claims with `edit` applied: {"field": value} merged, null removes.
  google::protobuf::Struct Claims(absl::string_view edit) {
    google::protobuf::Struct claims = GoodClaims();
    const google::protobuf::Struct edits = Json(edit);
    for (const auto& [name, value] : edits.fields()) {
      if (value.kind_case() == google::protobuf::Value::kNullValue) {
        claims.mutable_fields()->erase(name);
      } else {
        (*claims.mutable_fields())[name] = value;
      }
    }
    return claims;
  }

  absl::StatusOr<VerifiedToken> Verify(absl::string_view token,
                                       absl::Time now = kExp - absl::Hours(1)) {
    return verifier_->Verify(token, now);
  }

  const Keys& keys_ = TestKeys();
  std::unique_ptr<JwtVerifier> verifier_;
  std::optional<JwtSigner> rsa_;
  std::optional<JwtSigner> ec_;
};

// A refusal: UNAUTHENTICATED, "token: " and the check, with its reason code.
MATCHER_P2(RefusedAs, reason, message, "") {
  const absl::Status& status = arg.status();
  *result_listener << "status is " << status.ToString() << ", reason '" << JwtFailureReason(status)
                   << "'";
  return status.code() == absl::StatusCode::kUnauthenticated &&
         absl::StartsWith(status.message(), "token: ") &&
         status.message().find(message) != absl::string_view::npos &&
         JwtFailureReason(status) == reason;
}

TEST_F(JwtVerifierTest, AcceptsRs256TokenSignedByAJwksKey) {
  VIGIL_ASSERT_OK_AND_ASSIGN(VerifiedToken token, Verify(Sign(*rsa_, GoodClaims())));
  EXPECT_EQ(token.algorithm(), "RS256");
  EXPECT_EQ(token.kid(), "rsa-1");
}

TEST_F(JwtVerifierTest, AcceptsEs256TokenSignedByAJwksKey) {
  VIGIL_ASSERT_OK_AND_ASSIGN(VerifiedToken token, Verify(Sign(*ec_, GoodClaims())));
  EXPECT_EQ(token.algorithm(), "ES256");
  EXPECT_EQ(token.kid(), "ec-1");
}

TEST_F(JwtVerifierTest, ExposesClaimsSubjectIssuerAndExpiry) {
  VIGIL_ASSERT_OK_AND_ASSIGN(VerifiedToken token, Verify(Sign(*ec_, GoodClaims())));
  EXPECT_EQ(token.subject(), "f81d4fae");
  EXPECT_EQ(token.issuer(), kIssuer);
  EXPECT_EQ(token.expiry(), kExp);
  EXPECT_EQ(token.StringClaim("preferred_username"), "DC 4512");
  EXPECT_EQ(token.StringClaim("vigil_force"), "wessex");
  EXPECT_EQ(token.StringClaim("exp"), std::nullopt);  // a number, not a string
  EXPECT_EQ(token.StringClaim("vigil_team"), std::nullopt);
}

TEST_F(JwtVerifierTest, RefusesExpiredTokenNamingTheExpiry) {
  const std::string token = Sign(*rsa_, GoodClaims());
  EXPECT_THAT(Verify(token, kExp + absl::Hours(1)),
              RefusedAs("expired", "token: expired at 2026-12-01T10:00:00Z"));
}

TEST_F(JwtVerifierTest, ExpiryAllowsTheLeewayAndNotASecondMore) {
  const std::string token = Sign(*ec_, GoodClaims());
  EXPECT_THAT(Verify(token, kExp), IsOk());
  EXPECT_THAT(Verify(token, kExp + absl::Seconds(60)), IsOk());
  EXPECT_THAT(Verify(token, kExp + absl::Seconds(61)), RefusedAs("expired", "expired"));
}

TEST_F(JwtVerifierTest, RefusesTokenBeforeNotBefore) {
  const absl::Time nbf = kExp - absl::Hours(2);
  const std::string token = Sign(*rsa_, GoodClaims());
  EXPECT_THAT(Verify(token, nbf - absl::Hours(1)),
              RefusedAs("not_yet_valid", "token: not valid before 2026-12-01T08:00:00Z"));
}

TEST_F(JwtVerifierTest, NotBeforeAllowsTheLeewayAndNotASecondMore) {
  const absl::Time nbf = kExp - absl::Hours(2);
  const std::string token = Sign(*rsa_, GoodClaims());
  EXPECT_THAT(Verify(token, nbf), IsOk());
  EXPECT_THAT(Verify(token, nbf - absl::Seconds(60)), IsOk());
  EXPECT_THAT(Verify(token, nbf - absl::Seconds(61)),
              RefusedAs("not_yet_valid", "not valid before"));
}

TEST_F(JwtVerifierTest, NotBeforeIsOptional) {
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"nbf":null})"))), IsOk());
}

TEST_F(JwtVerifierTest, LeewayIsConfigurable) {
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{keys_.ec.get(), "ec-1"}})));
  JwtVerifierOptions options;
  options.jwks = std::make_shared<Jwks>(std::move(jwks));
  options.issuer = kIssuer;
  options.audience = kAudience;
  options.leeway = absl::ZeroDuration();
  VIGIL_ASSERT_OK_AND_ASSIGN(auto strict, JwtVerifier::Create(std::move(options)));
  const std::string token = Sign(*ec_, GoodClaims());
  EXPECT_THAT(strict->Verify(token, kExp), IsOk());
  EXPECT_THAT(strict->Verify(token, kExp + absl::Seconds(1)), RefusedAs("expired", "expired"));
}

TEST_F(JwtVerifierTest, RefusesWrongIssuerNamingBoth) {
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"iss":"https://evil.example"})"))),
              RefusedAs("bad_issuer", absl::StrCat("token: issuer 'https://evil.example' is not '",
                                                   kIssuer, "'")));
}

TEST_F(JwtVerifierTest, RefusesMissingIssuer) {
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"iss":null})"))),
              RefusedAs("bad_issuer", "no issuer (iss)"));
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"iss":42})"))),
              RefusedAs("bad_issuer", "no issuer (iss)"));
}

TEST_F(JwtVerifierTest, RefusesWrongAudience) {
  EXPECT_THAT(Verify(Sign(*ec_, Claims(R"({"aud":"account"})"))),
              RefusedAs("bad_audience", "token: audience does not include 'vigil'"));
}

TEST_F(JwtVerifierTest, RefusesMissingAudience) {
  EXPECT_THAT(Verify(Sign(*ec_, Claims(R"({"aud":null})"))),
              RefusedAs("bad_audience", "token: no audience (aud); 'vigil' required"));
}

TEST_F(JwtVerifierTest, AcceptsAudienceListContainingTheAudience) {
  EXPECT_THAT(Verify(Sign(*ec_, Claims(R"({"aud":["account","vigil"]})"))), IsOk());
}

TEST_F(JwtVerifierTest, RefusesAudienceListWithoutTheAudience) {
  EXPECT_THAT(Verify(Sign(*ec_, Claims(R"({"aud":["account","vigil-admin",7]})"))),
              RefusedAs("bad_audience", "audience does not include 'vigil'"));
  EXPECT_THAT(Verify(Sign(*ec_, Claims(R"({"aud":[]})"))), RefusedAs("bad_audience", "audience"));
}

TEST_F(JwtVerifierTest, RefusesMissingExpiry) {
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"exp":null})"))),
              RefusedAs("missing_claim", "token: no expiry (exp)"));
}

TEST_F(JwtVerifierTest, RefusesExpiryThatIsNotANumber) {
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"exp":"1796119200"})"))),
              RefusedAs("missing_claim", "exp"));
  EXPECT_THAT(Verify(Sign(*rsa_, Claims(R"({"exp":1e300})"))), RefusedAs("missing_claim", "exp"));
}

TEST_F(JwtVerifierTest, RefusesUnsignedTokenWithAlgNone) {
  const std::string payload = ToJson(GoodClaims());
  EXPECT_THAT(Verify(EncodeUnsignedJwt(R"({"alg":"none","typ":"JWT"})", payload)),
              RefusedAs("alg_refused", "token: algorithm 'none' is refused"));
  EXPECT_THAT(Verify(EncodeUnsignedJwt(R"({"alg":"none","kid":"rsa-1"})", payload)),
              RefusedAs("alg_refused", "'none'"));
  EXPECT_THAT(Verify(EncodeUnsignedJwt(R"({"alg":"None"})", payload)),
              RefusedAs("alg_refused", "'None'"));
  EXPECT_THAT(Verify(EncodeUnsignedJwt(R"({"typ":"JWT"})", payload)),
              RefusedAs("alg_refused", "no alg"));
}

// The classic confusion attack: a verifier that takes the key's bytes as an HMAC secret would
// accept this token, since anyone can compute it from the published key.
TEST_F(JwtVerifierTest, RefusesHs256SignedWithThePublicKey) {
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string public_pem, PublicKeyToPem(*keys_.rsa));
  const std::string jwks = JwksJson({{keys_.rsa.get(), "rsa-1"}});
  for (const std::string& secret : {public_pem, jwks}) {
    const std::string input =
        absl::StrCat(Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":"rsa-1"})"), ".",
                     Base64UrlEncode(ToJson(GoodClaims())));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    ASSERT_NE(
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length),
        nullptr);
    const std::string token = absl::StrCat(
        input, ".",
        Base64UrlEncode(absl::string_view(reinterpret_cast<const char*>(mac), mac_length)));
    EXPECT_THAT(Verify(token), RefusedAs("alg_refused",
                                         "token: algorithm 'HS256' is refused; RS256 or ES256 "
                                         "only"));
  }
}

TEST_F(JwtVerifierTest, RefusesEveryOtherAlgorithmNamingIt) {
  for (const char* alg :
       {"HS256", "HS384", "HS512", "RS384", "RS512", "PS256", "ES384", "ES512", "EdDSA", "rs256"}) {
    VIGIL_ASSERT_OK_AND_ASSIGN(
        std::string token, rsa_->SignRaw(absl::StrCat(R"({"alg":")", alg, R"(","kid":"rsa-1"})"),
                                         ToJson(GoodClaims())));
    EXPECT_THAT(Verify(token), RefusedAs("alg_refused", absl::StrCat("'", alg, "'")));
  }
}

TEST_F(JwtVerifierTest, RefusesTruncatedToken) {
  for (const JwtSigner* signer : {&*rsa_, &*ec_}) {
    const std::string token = Sign(*signer, GoodClaims());
    for (size_t length = 0; length < token.size(); ++length) {
      absl::StatusOr<VerifiedToken> result = Verify(token.substr(0, length));
      ASSERT_THAT(result.status(), StatusIs(kUnauthenticated)) << length;
      EXPECT_THAT(JwtFailureReason(result.status()),
                  ::testing::AnyOf("malformed", "bad_signature", "alg_refused"))
          << length;
    }
    const size_t second_dot = token.rfind('.');
    EXPECT_THAT(Verify(token.substr(0, second_dot + 1)), RefusedAs("bad_signature", "signature"));
    EXPECT_THAT(Verify(token.substr(0, second_dot)),
                RefusedAs("malformed", "token: not three base64url parts"));
  }
}

TEST_F(JwtVerifierTest, RefusesBadSignature) {
  for (const JwtSigner* signer : {&*rsa_, &*ec_}) {
    const std::string token = Sign(*signer, GoodClaims());
    const size_t dot = token.rfind('.');
    std::optional<std::string> signature = Base64UrlDecode(token.substr(dot + 1));
    ASSERT_TRUE(signature.has_value());
    (*signature)[signature->size() / 2] ^= 0x01;
    EXPECT_THAT(Verify(absl::StrCat(token.substr(0, dot + 1), Base64UrlEncode(*signature))),
                RefusedAs("bad_signature", "token: signature does not verify with key"));
  }
}

TEST_F(JwtVerifierTest, RefusesPayloadChangedAfterSigning) {
  const std::string token = Sign(*ec_, GoodClaims());
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  const std::string forged =
      absl::StrCat(parts[0], ".", Base64UrlEncode(ToJson(Claims(R"({"vigil_role":"supervisor"})"))),
                   ".", parts[2]);
  EXPECT_THAT(Verify(forged), RefusedAs("bad_signature", "signature"));
}

TEST_F(JwtVerifierTest, RefusesSignatureByAKeyOutsideTheJwks) {
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other, GenerateEcP256Key());
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner impostor,
                             JwtSigner::FromKey(ShareKey(std::move(other)), "ec-1"));
  EXPECT_THAT(Verify(Sign(impostor, GoodClaims())),
              RefusedAs("bad_signature", "does not verify with key 'ec-1'"));
}

TEST_F(JwtVerifierTest, RefusesEs256SignatureInDerOrAnyLengthButSixtyFour) {
  const std::string token = Sign(*ec_, GoodClaims());
  const size_t dot = token.rfind('.');
  std::optional<std::string> raw = Base64UrlDecode(token.substr(dot + 1));
  ASSERT_TRUE(raw.has_value());
  ASSERT_EQ(raw->size(), 64u);
  for (const std::string& signature : {raw->substr(0, 63), absl::StrCat(*raw, std::string(1, '\0')),
                                       absl::StrCat(std::string(1, '\0'), *raw)}) {
    EXPECT_THAT(Verify(absl::StrCat(token.substr(0, dot + 1), Base64UrlEncode(signature))),
                RefusedAs("bad_signature", "signature"));
  }
}

TEST_F(JwtVerifierTest, RefusesUnknownKidNamingIt) {
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner signer, JwtSigner::FromKey(keys_.rsa, "xyz"));
  EXPECT_THAT(Verify(Sign(signer, GoodClaims())),
              RefusedAs("unknown_kid", "token: signing key 'xyz' is not in the JWKS"));
}

TEST_F(JwtVerifierTest, RefusesTokenWithoutKidWhenTheJwksHasSeveralKeys) {
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner signer, JwtSigner::FromKey(keys_.rsa, ""));
  EXPECT_THAT(Verify(Sign(signer, GoodClaims())),
              RefusedAs("unknown_kid", "no kid, and the JWKS has 2 keys"));
}

TEST_F(JwtVerifierTest, AcceptsTokenWithoutKidWhenTheJwksHasOneKey) {
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{keys_.rsa.get(), ""}})));
  verifier_->ReplaceKeys(std::make_shared<Jwks>(std::move(jwks)));
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner signer, JwtSigner::FromKey(keys_.rsa, ""));
  VIGIL_ASSERT_OK_AND_ASSIGN(VerifiedToken token, Verify(Sign(signer, GoodClaims())));
  EXPECT_EQ(token.kid(), "");
}

// An RSA key never verifies an ES256 token, nor an EC key an RS256 one, whatever the token's
// kid points at.
TEST_F(JwtVerifierTest, RefusesKeyOfTheWrongTypeForTheAlgorithm) {
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::string es256_on_rsa,
      ec_->SignRaw(R"({"alg":"ES256","kid":"rsa-1"})", ToJson(GoodClaims())));
  EXPECT_THAT(Verify(es256_on_rsa),
              RefusedAs("key_mismatch",
                        "token: signing key 'rsa-1' is an RSA key; ES256 needs an EC P-256 key"));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::string rs256_on_ec,
      rsa_->SignRaw(R"({"alg":"RS256","kid":"ec-1"})", ToJson(GoodClaims())));
  EXPECT_THAT(Verify(rs256_on_ec),
              RefusedAs("key_mismatch",
                        "signing key 'ec-1' is an EC P-256 key; RS256 needs an "
                        "RSA key"));
}

TEST_F(JwtVerifierTest, RefusesKeyWhoseUseIsNotSig) {
  std::string jwks = JwksJson({{keys_.rsa.get(), "rsa-1"}});
  jwks = absl::StrReplaceAll(jwks, {{R"("use":"sig")", R"("use":"enc")"}});
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks parsed, Jwks::Parse(jwks));
  verifier_->ReplaceKeys(std::make_shared<Jwks>(std::move(parsed)));
  EXPECT_THAT(Verify(Sign(*rsa_, GoodClaims())),
              RefusedAs("key_mismatch", "signing key 'rsa-1' is for use 'enc', not 'sig'"));
}

TEST_F(JwtVerifierTest, RefusesKeyPublishedForAnotherAlgorithm) {
  std::string jwks = JwksJson({{keys_.rsa.get(), "rsa-1"}});
  jwks = absl::StrReplaceAll(jwks, {{R"("alg":"RS256")", R"("alg":"RSA-OAEP")"}});
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks parsed, Jwks::Parse(jwks));
  verifier_->ReplaceKeys(std::make_shared<Jwks>(std::move(parsed)));
  EXPECT_THAT(Verify(Sign(*rsa_, GoodClaims())),
              RefusedAs("key_mismatch", "signing key 'rsa-1' is for 'RSA-OAEP', not RS256"));
}

TEST_F(JwtVerifierTest, RefusesTokenOverTheSizeLimitBeforeParsing) {
  const std::string token =
      Sign(*rsa_, Claims(absl::StrCat(R"({"padding":")", std::string(8000, 'x'), R"("})")));
  ASSERT_GT(token.size(), 8192u);
  EXPECT_THAT(Verify(token), RefusedAs("too_large", "bytes; at most 8192"));
  EXPECT_THAT(Verify(std::string(9000, '.')), RefusedAs("too_large", "at most 8192"));
}

TEST_F(JwtVerifierTest, RefusesCriticalHeaderExtensions) {
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::string token,
      rsa_->SignRaw(R"({"alg":"RS256","kid":"rsa-1","crit":["exp"]})", ToJson(GoodClaims())));
  EXPECT_THAT(Verify(token), RefusedAs("malformed", "crit"));
}

TEST_F(JwtVerifierTest, RefusesHeaderOrPayloadThatIsNotAJsonObject) {
  const std::string payload = ToJson(GoodClaims());
  EXPECT_THAT(Verify(EncodeUnsignedJwt("[1,2]", payload, "x")),
              RefusedAs("malformed", "token: header: not a JSON object"));
  EXPECT_THAT(Verify(EncodeUnsignedJwt("{\"alg\":", payload, "x")),
              RefusedAs("malformed", "header: not a JSON object"));
  EXPECT_THAT(Verify(absl::StrCat("eyJ=.", Base64UrlEncode(payload), ".AA")),
              RefusedAs("malformed", "header: not base64url"));
  for (const char* bad : {"[1]", "\"claims\"", "42", "{\"exp\":"}) {
    VIGIL_ASSERT_OK_AND_ASSIGN(std::string token,
                               rsa_->SignRaw(R"({"alg":"RS256","kid":"rsa-1"})", bad));
    EXPECT_THAT(Verify(token), RefusedAs("malformed", "token: payload: not a JSON object"));
  }
}

TEST_F(JwtVerifierTest, RefusesNonStringKid) {
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string token,
                             rsa_->SignRaw(R"({"alg":"RS256","kid":7})", ToJson(GoodClaims())));
  EXPECT_THAT(Verify(token), RefusedAs("malformed", "kid"));
}

// Messages may reach logs and clients; a token is a credential.
TEST_F(JwtVerifierTest, NeverEchoesTheToken) {
  const std::string good = Sign(*rsa_, GoodClaims());
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  std::vector<std::string> refused = {
      good.substr(0, good.size() - 3),
      absl::StrCat(parts[0], ".", parts[1], ".", parts[1]),
      EncodeUnsignedJwt(R"({"alg":"none"})", ToJson(GoodClaims())),
      absl::StrCat(parts[0], ".", parts[1]),
  };
  for (const std::string& token : refused) {
    absl::StatusOr<VerifiedToken> result = Verify(token);
    ASSERT_THAT(result.status(), StatusIs(kUnauthenticated));
    for (const std::string& part : parts) {
      EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(part.substr(0, 16))));
    }
  }
  EXPECT_THAT(Verify(good, kExp + absl::Hours(1)).status(),
              StatusIs(kUnauthenticated,
                       AllOf(StartsWith("token: "), Not(HasSubstr(parts[2].substr(0, 16))))));
}

TEST_F(JwtVerifierTest, ControlCharactersInEchoedClaimsAreEscaped) {
  const absl::Status status = Verify(Sign(*rsa_, Claims(R"({"iss":"a\nb\u0000c"})"))).status();
  EXPECT_THAT(status, StatusIs(kUnauthenticated, HasSubstr(R"(issuer 'a\nb\x00\x63')")));
}

TEST_F(JwtVerifierTest, ReplaceKeysVerifiesLaterTokensWithTheNewSet) {
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr fresh, GenerateEcP256Key());
  std::shared_ptr<EVP_PKEY> next = ShareKey(std::move(fresh));
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner rotated, JwtSigner::FromKey(next, "ec-2"));
  const std::string old_token = Sign(*ec_, GoodClaims());
  const std::string new_token = Sign(rotated, GoodClaims());
  EXPECT_THAT(Verify(new_token), RefusedAs("unknown_kid", "'ec-2'"));
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{next.get(), "ec-2"}})));
  verifier_->ReplaceKeys(std::make_shared<Jwks>(std::move(jwks)));
  EXPECT_THAT(Verify(new_token), IsOk());
  EXPECT_THAT(Verify(old_token), RefusedAs("unknown_kid", "'ec-1'"));
  verifier_->ReplaceKeys(nullptr);  // ignored
  EXPECT_THAT(Verify(new_token), IsOk());
}

// A verified token is remembered (its signature is checked once), but never past its times or
// its key.
TEST_F(JwtVerifierTest, ARememberedTokenIsStillCheckedForTimeAndStopsWithItsKey) {
  const std::string token = Sign(*ec_, GoodClaims());
  EXPECT_THAT(Verify(token), IsOk());
  EXPECT_THAT(Verify(token), IsOk());
  EXPECT_THAT(Verify(token, kExp + absl::Seconds(61)), RefusedAs("expired", "expired"));
  EXPECT_THAT(Verify(token, kExp - absl::Hours(3) - absl::Seconds(61)),
              RefusedAs("not_yet_valid", "not valid before"));
  VIGIL_ASSERT_OK_AND_ASSIGN(EvpPkeyPtr fresh, GenerateEcP256Key());
  std::shared_ptr<EVP_PKEY> next = ShareKey(std::move(fresh));
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{next.get(), "ec-2"}})));
  verifier_->ReplaceKeys(std::make_shared<Jwks>(std::move(jwks)));
  EXPECT_THAT(Verify(token), RefusedAs("unknown_kid", "'ec-1'"));
}

TEST_F(JwtVerifierTest, VerifiesWhileKeysAreReplacedConcurrently) {
  const std::string token = Sign(*ec_, GoodClaims());
  const std::shared_ptr<const Jwks> keys = verifier_->keys();
  std::atomic<bool> stop{false};
  std::thread reloader([&] {
    while (!stop.load()) {
      verifier_->ReplaceKeys(std::make_shared<Jwks>(*keys));
    }
  });
  std::vector<std::thread> verifiers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 2; ++t) {
    verifiers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!verifier_->Verify(token, kExp - absl::Hours(1)).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : verifiers) t.join();
  stop = true;
  reloader.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(JwtVerifier, CreateRequiresKeysIssuerAndAudience) {
  JwtVerifierOptions options;
  EXPECT_THAT(JwtVerifier::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jwks")));
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{TestKeys().ec.get(), "ec-1"}})));
  options.jwks = std::make_shared<Jwks>(std::move(jwks));
  EXPECT_THAT(JwtVerifier::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("issuer")));
  options.issuer = "vigil-dev";
  EXPECT_THAT(JwtVerifier::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audience")));
  options.audience = "vigil";
  EXPECT_THAT(JwtVerifier::Create(options), IsOk());
}

TEST(JwtFailure, ReasonIsEmptyForOtherStatuses) {
  EXPECT_EQ(JwtFailureReason(absl::OkStatus()), "");
  EXPECT_EQ(JwtFailureReason(absl::UnauthenticatedError("token: x")), "");
  EXPECT_EQ(JwtFailureReason(JwtError(JwtFailure::kClaimRefused, "role 'service'")),
            "claim_refused");
  EXPECT_EQ(JwtFailureOf(JwtError(JwtFailure::kExpired, "x")), JwtFailure::kExpired);
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const std::string text = Base64UrlEncode(bytes);
    EXPECT_EQ(text.find_first_of("=+/"), std::string::npos) << text;
    EXPECT_EQ(Base64UrlDecode(text), bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
}

TEST(Base64Url, DecodeIsStrict) {
  EXPECT_EQ(Base64UrlDecode("QQ"), "A");
  EXPECT_EQ(Base64UrlDecode("QQ=="), std::nullopt);  // padding
  EXPECT_EQ(Base64UrlDecode("QR"), std::nullopt);    // non-zero unused bits
  EXPECT_EQ(Base64UrlDecode("Q"), std::nullopt);     // impossible length
  EXPECT_EQ(Base64UrlDecode("a+b/"), std::nullopt);  // the other alphabet
  EXPECT_EQ(Base64UrlDecode("QU JD"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("-_-_"), std::string("\xfb\xff\xbf", 3));
}

TEST(JwtSigner, RefusesKeysOtherThanRsaAndP256) {
  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_NE(p384, nullptr);
  EXPECT_THAT(JwtSigner::FromKey(ShareKey(std::move(p384)), "k"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not RSA or EC P-256")));
  EXPECT_THAT(JwtSigner::FromPem("not a key", "k"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JwtSigner, ReadsItsKeyFromPem) {
  VIGIL_ASSERT_OK_AND_ASSIGN(std::string pem, PrivateKeyToPem(*TestKeys().ec));
  VIGIL_ASSERT_OK_AND_ASSIGN(JwtSigner signer, JwtSigner::FromPem(pem, "k"));
  EXPECT_EQ(signer.algorithm(), "ES256");
  EXPECT_EQ(signer.kid(), "k");
}

TEST(JwkThumbprint, MatchesTheRfc7638Example) {
  // RFC 7638 section 3.1.
  const std::string jwks = absl::StrCat(
      R"({"keys":[{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":")",
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ",
      "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2",
      "QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh",
      "6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", R"("}]})");
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks parsed, Jwks::Parse(jwks));
  ASSERT_EQ(parsed.keys().size(), 1u);
  EXPECT_EQ(parsed.keys()[0].kid, "2011-04-29");
  EXPECT_EQ(JwkThumbprint(*parsed.keys()[0].key).value_or(""),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(JwkThumbprint, IsTheSameForAKeyAndItsPublishedJwk) {
  for (EVP_PKEY* key : {TestKeys().rsa.get(), TestKeys().ec.get()}) {
    VIGIL_ASSERT_OK_AND_ASSIGN(std::string thumbprint, JwkThumbprint(*key));
    EXPECT_EQ(thumbprint.size(), 43u);
    VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(JwksJson({{key, thumbprint}})));
    EXPECT_EQ(JwkThumbprint(*jwks.keys()[0].key).value_or(""), thumbprint);
    EXPECT_EQ(jwks.keys()[0].kid, thumbprint);
    EXPECT_EQ(jwks.keys()[0].use, "sig");
  }
}

// A JWKS member that is wrong is named with the key's index.
class JwksParseTest : public ::testing::Test {
 protected:
  // A JWKS of the RSA and the EC test key with keys[index]'s member `name` set to `json`
  // (a JSON value) or removed when `json` is empty.
  std::string Edited(int index, const std::string& name, const std::string& json) {
    google::protobuf::Struct document =
        Json(JwksJson({{TestKeys().rsa.get(), "rsa-1"}, {TestKeys().ec.get(), "ec-1"}}));
    auto& key = *(*document.mutable_fields())["keys"]
                     .mutable_list_value()
                     ->mutable_values(index)
                     ->mutable_struct_value()
                     ->mutable_fields();
    if (json.empty()) {
      key.erase(name);
    } else {
      const google::protobuf::Struct wrapper = Json(absl::StrCat(R"({"v":)", json, "}"));
      key[name] = wrapper.fields().at("v");
    }
    return ToJson(document);
  }

  std::string Member(int index, const std::string& name) {
    google::protobuf::Struct document =
        Json(JwksJson({{TestKeys().rsa.get(), "rsa-1"}, {TestKeys().ec.get(), "ec-1"}}));
    return document.fields()
        .at("keys")
        .list_value()
        .values(index)
        .struct_value()
        .fields()
        .at(name)
        .string_value();
  }
};

TEST_F(JwksParseTest, ParsesRsaAndEcKeysWithTheirMembers) {
  VIGIL_ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(Edited(0, "kid", R"("rsa-1")")));
  ASSERT_EQ(jwks.keys().size(), 2u);
  EXPECT_EQ(jwks.keys()[0].kty, "RSA");
  EXPECT_EQ(jwks.keys()[0].type, KeyType::kRsa);
  EXPECT_EQ(jwks.keys()[0].alg, "RS256");
  EXPECT_EQ(jwks.keys()[1].kty, "EC");
  EXPECT_EQ(jwks.keys()[1].type, KeyType::kEcP256);
  EXPECT_EQ(jwks.keys()[1].kid, "ec-1");
  EXPECT_EQ(jwks.Find("ec-1"), &jwks.keys()[1]);
  EXPECT_EQ(jwks.Find("nope"), nullptr);
  EXPECT_EQ(EVP_PKEY_eq(jwks.keys()[1].key.get(), TestKeys().ec.get()), 1);
}

TEST_F(JwksParseTest, RefusesMemberThatIsNotBase64url) {
  EXPECT_THAT(Jwks::Parse(Edited(1, "x", R"("a+b/")")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].x: not base64url"));
  EXPECT_THAT(Jwks::Parse(Edited(0, "n", R"("AQAB==")")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[0].n: not base64url"));
  EXPECT_THAT(Jwks::Parse(Edited(0, "e", "65537")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[0].e: not a string"));
}

TEST_F(JwksParseTest, RefusesMissingMembers) {
  EXPECT_THAT(Jwks::Parse(Edited(0, "n", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[0].n: missing"));
  EXPECT_THAT(Jwks::Parse(Edited(1, "y", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].y: missing"));
  EXPECT_THAT(Jwks::Parse(Edited(1, "crv", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].crv: missing"));
  EXPECT_THAT(Jwks::Parse(Edited(1, "kty", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].kty: missing"));
}

TEST_F(JwksParseTest, RefusesKeyTypesOtherThanRsaAndEc) {
  EXPECT_THAT(Jwks::Parse(Edited(1, "kty", R"("oct")")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].kty: 'oct' is not RSA or EC"));
  EXPECT_THAT(Jwks::Parse(Edited(1, "kty", R"("OKP")")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1].kty")));
}

TEST_F(JwksParseTest, RefusesCurvesOtherThanP256) {
  EXPECT_THAT(Jwks::Parse(Edited(1, "crv", R"("P-384")")),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].crv: 'P-384' is not P-256"));
}

TEST_F(JwksParseTest, RefusesRsaKeysUnder2048Bits) {
  // The first 128 bytes of the modulus: a 1024-bit number.
  const std::string n = *Base64UrlDecode(Member(0, "n"));
  EXPECT_THAT(
      Jwks::Parse(Edited(0, "n", absl::StrCat("\"", Base64UrlEncode(n.substr(0, 128)), "\""))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("keys[0].n: a 1024-bit RSA key; 2048 to 8192 bits")));
}

TEST_F(JwksParseTest, RefusesAPointNotOnTheCurve) {
  std::string y = *Base64UrlDecode(Member(1, "y"));
  y[31] ^= 0x01;
  EXPECT_THAT(
      Jwks::Parse(Edited(1, "y", absl::StrCat("\"", Base64UrlEncode(y), "\""))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1]: not a valid public key")));
  EXPECT_THAT(Jwks::Parse(Edited(1, "y", absl::StrCat("\"", Base64UrlEncode(y.substr(1)), "\""))),
              StatusIs(absl::StatusCode::kInvalidArgument, "keys[1].y: 31 bytes, not 32"));
}

TEST_F(JwksParseTest, RefusesPrivateKeyMembers) {
  EXPECT_THAT(Jwks::Parse(Edited(1, "d", R"("AAAA")")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1].d: a private")));
}

TEST_F(JwksParseTest, RefusesDuplicateKids) {
  EXPECT_THAT(Jwks::Parse(Edited(1, "kid", R"("rsa-1")")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "keys[1].kid: 'rsa-1' is also the kid of keys[0]"));
}

TEST_F(JwksParseTest, RefusesDocumentsWithoutKeys) {
  const absl::StatusCode invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(Jwks::Parse("{}"), StatusIs(invalid, "keys: missing"));
  EXPECT_THAT(Jwks::Parse(R"({"keys":[]})"), StatusIs(invalid, "keys: empty"));
  EXPECT_THAT(Jwks::Parse(R"({"keys":{}})"), StatusIs(invalid, "keys: not a list"));
  EXPECT_THAT(Jwks::Parse(R"({"keys":[7]})"), StatusIs(invalid, "keys[0]: not a JSON object"));
  EXPECT_THAT(Jwks::Parse("[]"), StatusIs(invalid, "JWKS: not a JSON object"));
  EXPECT_THAT(Jwks::Parse("-----BEGIN PUBLIC KEY-----"), StatusIs(invalid));
}

}  // namespace
}  // namespace vigil::crypto
