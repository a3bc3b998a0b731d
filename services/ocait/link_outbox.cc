#include "services/ocait/link_outbox.h"

#include <vector>

#include "base/logging.h"
#include "services/ocait/keys.h"
#include "storage/key_codec.h"

namespace vigil::ocait {

void LinkOutbox::Start() {
  absl::MutexLock lock(&mu_);
  if (worker_.joinable()) return;
  stopping_ = false;
  pending_ = true;  // deliver what a previous run left
  worker_ = std::thread([this] { Run(); });
}

void LinkOutbox::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

void LinkOutbox::Notify() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
}

void LinkOutbox::Run() {
  mu_.Lock();
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(this, &LinkOutbox::Woken), retry_);
    if (stopping_) break;
    pending_ = false;
    mu_.Unlock();
    // Undelivered entries are retried after `retry_`, or sooner when something new arrives.
    DeliverPending();
    mu_.Lock();
  }
  mu_.Unlock();
}

size_t LinkOutbox::DeliverPending() {
  struct Entry {
    std::string key;
    std::string force;
    v1::LinkReferralRequest request;
  };
  std::vector<Entry> entries;
  absl::Status scan = store_.Snapshot().ScanPrefix(
      storage::Family::kEntities, OutboxPrefix(), {},
      [&](absl::string_view key, absl::string_view value) {
        absl::string_view rest = key.substr(OutboxPrefix().size());
        absl::string_view force;
        Entry entry;
        if (!storage::GetLengthPrefixed(&rest, &force) ||
            !entry.request.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          VIGIL_LOG(ERROR) << "referral outbox: an entry is unreadable; leaving it";
          return true;
        }
        entry.key = std::string(key);
        entry.force = std::string(force);
        entries.push_back(std::move(entry));
        return true;
      });
  if (!scan.ok()) {
    VIGIL_LOG(WARNING) << "referral outbox: " << scan.message();
    return 1;
  }
  size_t left = 0;
  for (const Entry& entry : entries) {
    const absl::Status delivered = link_.Deliver(entry.force, entry.request);
    // A register that answers "no such offender" (removed since) or refuses the request will
    // never accept it: drop the entry rather than retry forever, and say so.
    const bool permanent = absl::IsNotFound(delivered) || absl::IsInvalidArgument(delivered) ||
                           absl::IsPermissionDenied(delivered);
    if (!delivered.ok() && !permanent) {
      VIGIL_LOG(WARNING) << "referral outbox: delivering " << entry.request.referral().referral_id()
                         << " failed (will retry): " << delivered.message();
      ++left;
      continue;
    }
    if (!delivered.ok()) {
      VIGIL_LOG(ERROR) << "referral outbox: the register refused the link of "
                       << entry.request.referral().referral_id() << " to "
                       << entry.request.offender_id() << ": " << delivered.message();
    }
    storage::Change done;
    done.Delete(storage::Family::kEntities, entry.key);
    if (absl::Status s = store_.Commit(done).status(); !s.ok()) {
      VIGIL_LOG(WARNING) << "referral outbox: " << s.message();
      ++left;
    }
  }
  return left;
}

}  // namespace vigil::ocait
