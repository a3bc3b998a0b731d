// The real authenticators (docs/security.md): identity from a verified client certificate,
// from a verified bearer token, or both. Each is thread-safe; refusals are Unauthenticated
// with a message naming the check that failed (never echoing a credential) and are counted in
// metrics (auth_certificate_refused, auth_token_refused_<reason>).
#ifndef VIGIL_SERVICES_COMMON_AUTHENTICATORS_H_
#define VIGIL_SERVICES_COMMON_AUTHENTICATORS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/crypto/jwt.h"
#include "services/common/auth.h"

namespace vigil {

// The identities in verified client certificates (docs/security.md: CN actor, O force, OU team,
// role, title rank), remembered by the certificate's bytes: every call on a connection presents
// the same certificate, so it is parsed once, not per call (the TLS handshake verified it; the
// same bytes always name the same identity). Thread-safe.
class CertificateIdentities {
 public:
  // The identity in the call's client certificate; Unauthenticated when the call has none or
  // the certificate does not name an identity.
  absl::StatusOr<Principal> Of(const grpc::ServerContextBase& context) const;

 private:
  // At most this many certificates are remembered; when full, the memory starts afresh.
  static constexpr size_t kMaxKnown = 1024;

  static absl::StatusOr<Principal> FromPem(absl::string_view pem);

  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, absl::StatusOr<Principal>> known_ ABSL_GUARDED_BY(mu_);
};

// The bearer token of the call ("authorization: Bearer ..."), or nullopt.
std::optional<absl::string_view> BearerToken(const grpc::ServerContextBase& context);

// --auth=mtls: the verified client certificate is the identity.
class MtlsAuthenticator final : public Authenticator {
 public:
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const override;
  absl::string_view name() const override { return "mtls"; }
  bool trusts_client_claims() const override { return false; }

 private:
  CertificateIdentities certificates_;
};

// Which token claims carry which part of the identity (--jwt-claim-*).
struct TokenClaimNames {
  std::string actor = "preferred_username";
  std::string role = "vigil_role";
  std::string force = "vigil_force";
  std::string team = "vigil_team";
  std::string rank = "vigil_rank";
};

// --auth=jwt (require_certificate false) and --auth=mtls+jwt (true): the bearer token is the
// identity. A verified certificate with role `service` and no token identifies vigild's own
// processes. With require_certificate, every call needs a verified certificate, and a token's
// force must be the certificate's.
class JwtAuthenticator final : public Authenticator {
 public:
  // None owned; both must outlive the authenticator.
  JwtAuthenticator(const crypto::JwtVerifier& verifier, const Clock& clock, TokenClaimNames claims,
                   bool require_certificate)
      : verifier_(verifier),
        clock_(clock),
        claims_(std::move(claims)),
        require_certificate_(require_certificate) {}

  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const override;
  absl::string_view name() const override { return require_certificate_ ? "mtls+jwt" : "jwt"; }
  bool trusts_client_claims() const override { return false; }
  // The bearer token's actor claim (else "sub"), read without verifying anything; at most 128
  // printable characters, else empty.
  std::string ClaimedSubject(const grpc::ServerContextBase& context) const override;

 private:
  absl::StatusOr<Principal> FromToken(absl::string_view token) const;

  const crypto::JwtVerifier& verifier_;
  const Clock& clock_;
  const TokenClaimNames claims_;
  const bool require_certificate_;
  CertificateIdentities certificates_;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_AUTHENTICATORS_H_
