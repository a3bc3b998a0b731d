// vigil-web as an OpenID Connect relying party: the authorization-code flow with PKCE (S256) at
// the force's provider, found by discovery, for a public client (PKCE only) or a confidential one
// (client_secret_basic). The access token it gets is the person's credential for vigild, sent as
// a bearer token on every call; vigil-web never widens what it allows.
#ifndef VIGIL_SERVICES_WEB_OIDC_H_
#define VIGIL_SERVICES_WEB_OIDC_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "services/common/authenticators.h"
#include "services/web/sessions.h"

namespace vigil::web {

struct OidcOptions {
  std::string issuer;  // e.g. https://login.force.example/realms/vigil
  std::string client_id;
  std::string client_secret;  // empty: a public client
  std::string redirect_uri;   // PUBLIC_URL/auth/callback
  std::string ca_file;        // PEM bundle to trust for an https provider; empty: the system's
  std::string scope = "openid profile";
  // Where the identity sits in the access token (as vigild's --jwt-claim-* flags say).
  TokenClaimNames claims;
};

struct ProviderEndpoints {
  std::string authorization;
  std::string token;
  std::string end_session;  // optional
};

struct Tokens {
  std::string access_token;
  std::string refresh_token;
  std::string id_token;
  absl::Time access_expires;
};

class OidcClient {
 public:
  // Reads ISSUER/.well-known/openid-configuration. InvalidArgument for a bad option (named);
  // Unavailable when the provider cannot be reached or answers nonsense.
  static absl::StatusOr<std::unique_ptr<OidcClient>> Discover(OidcOptions options);

  // The provider's authorization URL for one sign-in.
  std::string AuthorizationUrl(absl::string_view state, absl::string_view nonce,
                               absl::string_view code_verifier) const;
  // Redeems the code at the token endpoint, and checks the ID token that comes back with it
  // (issuer, audience, nonce; its signature is not needed for a token taken straight from the
  // provider over the channel we opened — OpenID Connect Core 3.1.3.7). Unauthenticated when the
  // provider refuses or the ID token does not match.
  absl::StatusOr<Tokens> Redeem(absl::string_view code, absl::string_view code_verifier,
                                absl::string_view nonce, absl::Time now) const;
  // A new access token from a refresh token. Unauthenticated when the provider refuses.
  absl::StatusOr<Tokens> Refresh(absl::string_view refresh_token, absl::Time now) const;

  // The identity an access token names, for display.
  WebIdentity IdentityOf(absl::string_view access_token) const;

  const OidcOptions& options() const { return options_; }
  const ProviderEndpoints& endpoints() const { return endpoints_; }

 private:
  OidcClient(OidcOptions options, ProviderEndpoints endpoints)
      : options_(std::move(options)), endpoints_(std::move(endpoints)) {}
  absl::StatusOr<Tokens> TokenRequest(const std::vector<std::pair<std::string, std::string>>& form,
                                      absl::Time now) const;

  const OidcOptions options_;
  const ProviderEndpoints endpoints_;
};

// The PKCE S256 challenge of `verifier`: base64url(SHA-256(verifier)).
std::string PkceChallenge(absl::string_view verifier);

// A JWT's payload as JSON values, unverified. InvalidArgument when it is not a JWT.
absl::StatusOr<google::protobuf::Struct> UnverifiedJwtPayload(absl::string_view jwt);

// An absolute http(s) URL split into "scheme://host[:port]" and the rest ("/path?query", or "/").
// InvalidArgument naming `what` when it is not one.
struct SplitUrl {
  std::string origin;
  std::string path;
};
absl::StatusOr<SplitUrl> SplitHttpUrl(absl::string_view url, absl::string_view what);

// application/x-www-form-urlencoded encoding of one value.
std::string FormEncode(absl::string_view value);

}  // namespace vigil::web

#endif  // VIGIL_SERVICES_WEB_OIDC_H_
