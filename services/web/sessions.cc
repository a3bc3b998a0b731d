#include "services/web/sessions.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "base/crypto/digest.h"
#include "base/crypto/jwt.h"
#include "base/logging.h"

namespace vigil::web {
namespace {

std::string KeyOf(absl::string_view secret) { return crypto::Sha256({"vigil-web:", secret}); }

}  // namespace

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1) {
    // A session id that is not random would let anyone guess another's sign-in.
    VIGIL_LOG(ERROR) << "OpenSSL's random generator failed; stopping";
    std::abort();
  }
  return crypto::Base64UrlEncode(raw);
}

bool SessionStore::Live(const Session& session, absl::Time now) const {
  return now - session.last_used < limits_.idle && now - session.created < limits_.absolute;
}

void SessionStore::SweepLocked(absl::Time now) {
  absl::erase_if(sessions_, [&](const auto& entry) { return !Live(entry.second, now); });
  absl::erase_if(pending_, [&](const auto& entry) {
    return now - entry.second.started >= limits_.login_window;
  });
}

absl::StatusOr<std::string> SessionStore::Create(Session session, absl::Time now) {
  std::string cookie = RandomToken();
  session.created = now;
  session.last_used = now;
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= limits_.max_sessions) SweepLocked(now);
  if (sessions_.size() >= limits_.max_sessions) {
    return absl::ResourceExhaustedError("too many people are signed in; try again later");
  }
  sessions_.emplace(KeyOf(cookie), std::move(session));
  return cookie;
}

std::optional<Session> SessionStore::Find(absl::string_view cookie, absl::Time now) {
  if (cookie.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(KeyOf(cookie));
  if (it == sessions_.end()) return std::nullopt;
  if (!Live(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

bool SessionStore::IsLive(absl::string_view cookie, absl::Time now) const {
  if (cookie.empty()) return false;
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(KeyOf(cookie));
  return it != sessions_.end() && Live(it->second, now);
}

bool SessionStore::UpdateCredential(absl::string_view cookie, std::string access_token,
                                    std::string refresh_token, absl::Time access_expires) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(KeyOf(cookie));
  if (it == sessions_.end()) return false;
  it->second.access_token = std::move(access_token);
  if (!refresh_token.empty()) it->second.refresh_token = std::move(refresh_token);
  it->second.access_expires = access_expires;
  return true;
}

void SessionStore::Erase(absl::string_view cookie) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(KeyOf(cookie));
}

size_t SessionStore::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

std::string SessionStore::BeginLogin(PendingLogin login, absl::Time now) {
  std::string state = RandomToken();
  login.started = now;
  absl::MutexLock lock(&mu_);
  if (pending_.size() >= limits_.max_pending_logins) SweepLocked(now);
  if (pending_.size() >= limits_.max_pending_logins && !pending_.empty()) {
    auto oldest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->second.started < oldest->second.started) oldest = it;
    }
    pending_.erase(oldest);
  }
  pending_.emplace(KeyOf(state), std::move(login));
  return state;
}

std::optional<PendingLogin> SessionStore::FinishLogin(absl::string_view state, absl::Time now) {
  if (state.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(KeyOf(state));
  if (it == pending_.end()) return std::nullopt;
  PendingLogin login = std::move(it->second);
  pending_.erase(it);
  if (now - login.started >= limits_.login_window) return std::nullopt;
  return login;
}

}  // namespace vigil::web
