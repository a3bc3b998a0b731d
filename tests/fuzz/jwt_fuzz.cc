// Fuzzes what reaches vigild before anyone is authenticated: bearer tokens, the JWKS it is
// given, and the subject of a client certificate.
//
// Each input is used five ways: as a token; as bytes spliced into a real signed token (which
// must then fail unless nothing changed); as a JWKS document and as one JWK in it; and as a
// PEM certificate, raw and as DER bytes spliced into a real certificate.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/crypto/jwt.h"
#include "base/crypto/x509.h"
#include "google/protobuf/util/json_util.h"

namespace {

using vigil::crypto::CertifiedKey;
using vigil::crypto::Jwks;
using vigil::crypto::JwtFailureReason;
using vigil::crypto::JwtSigner;
using vigil::crypto::JwtVerifier;

const absl::Time kNow = absl::FromUnixSeconds(1780000000);

struct Fixture {
  std::unique_ptr<JwtVerifier> verifier;
  std::string token;  // valid at kNow
  std::string certificate_der;
};

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    auto ec = vigil::crypto::GenerateEcP256Key();
    auto rsa = vigil::crypto::GenerateRsaKey(2048);
    Check(ec.ok() && rsa.ok());
    auto ec_jwks = vigil::crypto::PublicJwksJson(**ec, "ec");
    auto rsa_jwks = vigil::crypto::PublicJwksJson(**rsa, "rsa");
    Check(ec_jwks.ok() && rsa_jwks.ok());
    // Both keys in one document: the RSA JWK spliced after the EC one.
    const size_t ec_end = ec_jwks->rfind(']');
    const size_t rsa_start = rsa_jwks->find('[');
    const std::string both =
        absl::StrCat(ec_jwks->substr(0, ec_end), ",", rsa_jwks->substr(rsa_start + 1));
    auto jwks = Jwks::Parse(both);
    Check(jwks.ok() && jwks->keys().size() == 2);
    vigil::crypto::JwtVerifierOptions options;
    options.jwks = std::make_shared<Jwks>(*std::move(jwks));
    options.issuer = "vigil-dev";
    options.audience = "vigil";
    auto verifier = JwtVerifier::Create(std::move(options));
    Check(verifier.ok());
    f->verifier = *std::move(verifier);
    auto signer = JwtSigner::FromKey(vigil::crypto::ShareKey(*std::move(ec)), "ec");
    Check(signer.ok());
    google::protobuf::Struct claims;
    Check(google::protobuf::util::JsonStringToMessage(
              R"({"iss":"vigil-dev","aud":"vigil","exp":1780003600,"sub":"DC 1"})", &claims)
              .ok());
    auto token = signer->Sign(claims);
    Check(token.ok() && f->verifier->Verify(*token, kNow).ok());
    f->token = *token;
    auto ca = vigil::crypto::CreateCa("fuzz CA", kNow);
    Check(ca.ok());
    vigil::crypto::CertificateIdentity identity;
    identity.actor = "DC 1";
    identity.force = "wessex";
    identity.role = "officer";
    auto client = vigil::crypto::CreateClientCertificate(*ca, identity, kNow);
    Check(client.ok());
    // The DER bytes, from between the PEM armour lines.
    std::string body = client->certificate_pem;
    body = body.substr(body.find('\n') + 1);
    body = body.substr(0, body.find("-----END"));
    std::string base64;
    for (char c : body) {
      if (c != '\n') base64.push_back(c);
    }
    Check(absl::Base64Unescape(base64, &f->certificate_der));
    return f;
  }();
  return *fixture;
}

// `base` with the input's bytes after the first two written over it at the offset those two
// select.
std::string Splice(const std::string& base, absl::string_view input) {
  if (input.size() < 2 || base.empty()) return base;
  const size_t offset =
      (static_cast<uint8_t>(input[0]) << 8 | static_cast<uint8_t>(input[1])) % base.size();
  std::string out = base;
  const absl::string_view bytes = input.substr(2);
  for (size_t i = 0; i < bytes.size() && offset + i < out.size(); ++i) out[offset + i] = bytes[i];
  return out;
}

std::string Pem(absl::string_view der) {
  std::string base64;
  absl::Base64Escape(der, &base64);
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) absl::StrAppend(&pem, base64.substr(i, 64), "\n");
  return absl::StrCat(pem, "-----END CERTIFICATE-----\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fixture = GetFixture();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  auto raw = fixture.verifier->Verify(input, kNow);
  Check(raw.ok() ? input == fixture.token : !JwtFailureReason(raw.status()).empty());

  // A signed token changed anywhere must be refused, with a reason.
  const std::string spliced = Splice(fixture.token, input);
  auto verified = fixture.verifier->Verify(spliced, kNow);
  Check(verified.ok() == (spliced == fixture.token));
  if (!verified.ok()) {
    Check(verified.status().code() == absl::StatusCode::kUnauthenticated);
    Check(!JwtFailureReason(verified.status()).empty());
  }

  (void)Jwks::Parse(input);
  (void)Jwks::Parse(absl::StrCat(R"({"keys":[)", input, "]}"));

  auto identity = vigil::crypto::ParseCertificateIdentity(input);
  Check(!identity.ok() ||
        (!identity->actor.empty() && !identity->force.empty() && !identity->role.empty()));
  auto spliced_identity =
      vigil::crypto::ParseCertificateIdentity(Pem(Splice(fixture.certificate_der, input)));
  if (spliced_identity.ok()) {
    for (const std::string* part :
         {&spliced_identity->actor, &spliced_identity->force, &spliced_identity->role}) {
      Check(!part->empty());
      for (char c : *part) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
  }
  return 0;
}
