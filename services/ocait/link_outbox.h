// Delivers referral links to the offender register. A referral change that the register must
// hear of writes an outbox entry in the same commit as the change; this worker delivers each
// entry through OffenderLink (idempotent on its request id) and deletes it once delivered, so a
// crash between the commit and the delivery loses nothing and delivers at most once more.
#ifndef VIGIL_SERVICES_OCAIT_LINK_OUTBOX_H_
#define VIGIL_SERVICES_OCAIT_LINK_OUTBOX_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/ocait/offender_link.h"
#include "storage/store.h"

namespace vigil::ocait {

class LinkOutbox {
 public:
  // Neither owned. `retry` is how long to wait before trying again after a failed delivery.
  LinkOutbox(storage::Store& store, OffenderLink& link, absl::Duration retry = absl::Seconds(5))
      : store_(store), link_(link), retry_(retry) {}
  ~LinkOutbox() { Stop(); }

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes the delivery in progress, then stops. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes the worker: a new entry was committed.
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);

  // Delivers every pending entry once; returns how many remain undelivered. Used by the worker
  // and by tests.
  size_t DeliverPending();

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // What the worker waits for: an entry to deliver, or Stop.
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ || stopping_; }

  storage::Store& store_;
  OffenderLink& link_;
  const absl::Duration retry_;
  absl::Mutex mu_;  // Run awaits Woken(): setting either flag wakes it when mu_ is released
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_LINK_OUTBOX_H_
