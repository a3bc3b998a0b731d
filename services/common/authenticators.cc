#include "services/common/authenticators.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/crypto/jwt.h"
#include "base/crypto/x509.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/metrics.h"

namespace vigil {
namespace {

void CountCertificateRefusal() {
  Metrics::Default()
      .Get("auth_certificate_refused", "Calls refused for a missing or unusable certificate")
      .Add(1);
}

void CountTokenRefusal(absl::string_view reason) {
  Metrics::Default()
      .Get(absl::StrCat("auth_token_refused_", reason),
           absl::StrCat("Bearer tokens refused: ", reason))
      .Add(1);
}

}  // namespace

absl::StatusOr<Principal> CertificateIdentities::Of(const grpc::ServerContextBase& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  std::vector<grpc::string_ref> pems;
  if (auth != nullptr) pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError(
        "no client certificate: this server identifies callers by a certificate from its CA "
        "(vigil certs create-client; the CLI's --cert and --key)");
  }
  const absl::string_view pem(pems.front().data(), pems.front().size());
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = known_.find(pem); it != known_.end()) return it->second;
  }
  absl::StatusOr<Principal> principal = FromPem(pem);
  absl::MutexLock lock(&mu_);
  if (known_.size() >= kMaxKnown) known_.clear();
  known_.emplace(pem, principal);
  return principal;
}

absl::StatusOr<Principal> CertificateIdentities::FromPem(absl::string_view pem) {
  absl::StatusOr<crypto::CertificateIdentity> identity = crypto::ParseCertificateIdentity(pem);
  if (!identity.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: ", identity.status().message()));
  }
  IdentityClaims claims{identity->actor, identity->role, identity->force, std::nullopt,
                        std::nullopt};
  if (!identity->team.empty()) claims.team = identity->team;
  if (!identity->rank.empty()) claims.rank = identity->rank;
  ClaimSources sources;
  sources.actor = "client certificate CN";
  sources.role = "client certificate role";
  sources.force = "client certificate O";
  sources.team = "client certificate OU";
  sources.rank = "client certificate title";
  return PrincipalFromClaims(claims, sources, /*allow_service=*/true);
}

std::optional<absl::string_view> BearerToken(const grpc::ServerContextBase& context) {
  std::optional<absl::string_view> header = MetadataValue(context, "authorization");
  if (!header.has_value()) return std::nullopt;
  absl::string_view value = *header;
  if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) {
    return absl::string_view();  // present but not a bearer token: refused by the caller
  }
  return value;
}

absl::StatusOr<Principal> MtlsAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  absl::StatusOr<Principal> principal = certificates_.Of(context);
  if (!principal.ok()) CountCertificateRefusal();
  return principal;
}

absl::StatusOr<Principal> JwtAuthenticator::FromToken(absl::string_view token) const {
  absl::StatusOr<crypto::VerifiedToken> verified = verifier_.Verify(token, clock_.Now());
  if (!verified.ok()) {
    CountTokenRefusal(crypto::JwtFailureReason(verified.status()));
    return verified.status();
  }
  IdentityClaims claims{verified->StringClaim(claims_.actor), verified->StringClaim(claims_.role),
                        verified->StringClaim(claims_.force), verified->StringClaim(claims_.team),
                        verified->StringClaim(claims_.rank)};
  ClaimSources sources;
  sources.actor = absl::StrCat("token claim ", claims_.actor);
  sources.role = absl::StrCat("token claim ", claims_.role);
  sources.force = absl::StrCat("token claim ", claims_.force);
  sources.team = absl::StrCat("token claim ", claims_.team);
  sources.rank = absl::StrCat("token claim ", claims_.rank);
  absl::StatusOr<Principal> principal =
      PrincipalFromClaims(claims, sources, /*allow_service=*/false);
  if (!principal.ok()) CountTokenRefusal("claims");
  return principal;
}

std::string JwtAuthenticator::ClaimedSubject(const grpc::ServerContextBase& context) const {
  const std::optional<absl::string_view> token = BearerToken(context);
  if (!token.has_value() || token->size() > 16384) return {};
  const std::vector<absl::string_view> parts = absl::StrSplit(*token, '.');
  if (parts.size() < 2) return {};
  const std::optional<std::string> payload = crypto::Base64UrlDecode(parts[1]);
  if (!payload.has_value()) return {};
  google::protobuf::Struct claims;
  if (!google::protobuf::util::JsonStringToMessage(*payload, &claims).ok()) return {};
  for (const std::string& name : {claims_.actor, std::string("sub")}) {
    auto it = claims.fields().find(name);
    if (it == claims.fields().end() || !it->second.has_string_value()) continue;
    const std::string& subject = it->second.string_value();
    if (ValidateActor(subject).ok()) return subject;
  }
  return {};
}

absl::StatusOr<Principal> JwtAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  const std::optional<absl::string_view> token = BearerToken(context);
  absl::StatusOr<Principal> certificate = certificates_.Of(context);
  if (!token.has_value()) {
    // Only vigild's own processes call without a token: with their service certificate.
    if (certificate.ok() && certificate->role == Role::kService) return certificate;
    CountTokenRefusal("missing");
    return absl::UnauthenticatedError(
        "no bearer token: send 'authorization: Bearer <access token>' from your force's "
        "identity provider (the CLI's --token or VIGIL_TOKEN)");
  }
  if (token->empty()) {
    CountTokenRefusal("malformed");
    return absl::UnauthenticatedError(
        "authorization: not a bearer token ('authorization: Bearer <access token>')");
  }
  if (require_certificate_ && !certificate.ok()) {
    CountCertificateRefusal();
    return certificate.status();
  }
  VIGIL_ASSIGN_OR_RETURN(Principal principal, FromToken(*token));
  if (require_certificate_ && certificate->force != principal.force) {
    CountTokenRefusal("force_mismatch");
    return absl::UnauthenticatedError(absl::StrCat("the token's force '", principal.force,
                                                   "' is not the client certificate's force '",
                                                   certificate->force, "'"));
  }
  return principal;
}

}  // namespace vigil
