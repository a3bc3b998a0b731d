// vigil-web's sessions: which browser is signed in as whom, with which credential, and the
// sign-ins in progress. Held in memory only: a restart of vigil-web signs everyone out
// (docs/web.md). A cookie is 32 random bytes; the store keys sessions by the cookie's SHA-256, so
// neither a memory dump nor a timing difference in the lookup yields a usable cookie.
#ifndef VIGIL_SERVICES_WEB_SESSIONS_H_
#define VIGIL_SERVICES_WEB_SESSIONS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil::web {

// Who a session speaks for, as shown on the page. For a person signed in with the force's
// provider these are the access token's claims, read for display only: vigild verifies the
// token itself on every call and decides from its own reading.
struct WebIdentity {
  std::string actor;
  std::string role;
  std::string force;
  std::string team;
  std::string rank;
};

struct Session {
  WebIdentity identity;
  // Signed in with the provider: the bearer token for vigild, and the refresh token when the
  // provider issued one. Dev sign-in: both empty; the identity goes as x-vigil-* metadata.
  std::string access_token;
  std::string refresh_token;
  // The ID token of the sign-in: the id_token_hint that ends the person's session at the
  // provider when they sign out (RP-initiated logout). Empty for a dev sign-in.
  std::string id_token;
  absl::Time access_expires = absl::InfiniteFuture();
  absl::Time created;
  absl::Time last_used;
};

// A sign-in in progress: what the provider's redirect back must match.
struct PendingLogin {
  std::string code_verifier;  // PKCE (RFC 7636)
  std::string nonce;          // the ID token must carry it
  std::string return_to;      // the app's route to land on, "#/..."
  absl::Time started;
};

struct SessionLimits {
  absl::Duration idle = absl::Minutes(30);    // signed out after this long unused
  absl::Duration absolute = absl::Hours(12);  // and after this long whatever the use
  size_t max_sessions = 20000;
  absl::Duration login_window = absl::Minutes(10);  // a sign-in must complete within
  size_t max_pending_logins = 20000;
};

class SessionStore {
 public:
  explicit SessionStore(SessionLimits limits) : limits_(limits) {}

  // Starts a session; its cookie value. ResourceExhausted when max_sessions are live.
  absl::StatusOr<std::string> Create(Session session, absl::Time now);
  // The session of `cookie`, marked used at `now`; nullopt when unknown or expired (an expired
  // one is dropped).
  std::optional<Session> Find(absl::string_view cookie, absl::Time now);
  // Whether the session of `cookie` is live at `now`, without marking it used.
  bool IsLive(absl::string_view cookie, absl::Time now) const;
  // Replaces the credential after a refresh; false when the session has ended meanwhile.
  bool UpdateCredential(absl::string_view cookie, std::string access_token,
                        std::string refresh_token, absl::Time access_expires);
  void Erase(absl::string_view cookie);
  size_t size() const;

  // A sign-in begins: its `state` (random; also the pre-login cookie's value). At
  // max_pending_logins the oldest waiting sign-in is dropped: a flood of abandoned sign-ins
  // cannot lock people out (each real one completes in seconds).
  std::string BeginLogin(PendingLogin login, absl::Time now);
  // The sign-in `state` began, once: a second use, or one after login_window, is nullopt.
  std::optional<PendingLogin> FinishLogin(absl::string_view state, absl::Time now);

 private:
  bool Live(const Session& session, absl::Time now) const;
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SessionLimits limits_;
  mutable absl::Mutex mu_;
  // Keyed by SHA-256 of the cookie (or of the state).
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, PendingLogin> pending_ ABSL_GUARDED_BY(mu_);
};

// `bytes` bytes from OpenSSL's CSPRNG, base64url without padding.
std::string RandomToken(size_t bytes = 32);

}  // namespace vigil::web

#endif  // VIGIL_SERVICES_WEB_SESSIONS_H_
