// Follows one owning context's obligation feed into the AlertEngine, in one of two ways:
//
// - Across the network (the owner in another vigild): ObligationFeed.WatchObligations. A reader
//   thread collects whole feed entries (up to the event marked last_of_sequence) into a bounded
//   queue; an applier thread commits whatever has queued, up to kMaxEntriesPerCommit at a time,
//   as one AlertEngine::Apply. A slow applier slows the stream (gRPC flow control), never the
//   owner. On any stream error the reader reconnects with backoff from the last entry queued.
// - In process (the owner co-hosted, sharing the store): one thread woken by the owner's
//   commits (FeedNotifier) reads the feed's entries straight from the store after the cursor
//   and applies them, up to kMaxEntriesPerCommit at a time: no RPC, no copy of each event
//   through a stream, no second thread. The events are the same (FlattenFeedEntry), and so is
//   the guarantee: the cursor commits with what the entries produced.
//
// Either way a burst on the owner's side (an import of thousands of records) costs a few large
// commits, not thousands of small ones.
#ifndef VIGIL_SERVICES_ALERTS_FEED_FOLLOWER_H_
#define VIGIL_SERVICES_ALERTS_FEED_FOLLOWER_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/alerts/alert_engine.h"
#include "services/common/feed_stream.h"
#include "services/common/internal_call.h"
#include "storage/store.h"

namespace vigil::alerts {

class FeedFollower {
 public:
  static constexpr size_t kMaxEntriesPerCommit = 512;
  static constexpr size_t kMaxQueuedEntries = 4096;

  // Follows through WatchObligations; `hop` says how `channel` reaches the owner
  // (internal_call.h).
  FeedFollower(AlertEngine& engine, std::string context, std::shared_ptr<grpc::Channel> channel,
               Hop hop = Hop::kInProcess)
      : engine_(engine),
        context_(std::move(context)),
        channel_(std::move(channel)),
        hop_(hop),
        applied_metric_(AppliedMetric(context_)) {}
  // Follows in process: `store` holds the owner's feed, and `notifier` (attached to it) says
  // when it advances. Neither owned; both must outlive the follower.
  FeedFollower(AlertEngine& engine, std::string context, storage::Store& store,
               FeedNotifier& notifier)
      : engine_(engine),
        context_(std::move(context)),
        hop_(Hop::kInProcess),
        store_(&store),
        notifier_(&notifier),
        applied_metric_(AppliedMetric(context_)) {}
  ~FeedFollower() { Stop(); }
  FeedFollower(const FeedFollower&) = delete;
  FeedFollower& operator=(const FeedFollower&) = delete;

  void Start();
  // Cancels the stream, applies nothing more, joins. What was queued and not applied is read
  // again on the next start (the cursor is where it was).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // The last sequence applied (for tests and logs).
  uint64_t applied() const;

 private:
  static Metric& AppliedMetric(const std::string& context);

  // Across the network: the stream's reader and the applier.
  void Read() ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyQueued() ABSL_LOCKS_EXCLUDED(mu_);
  // In process: reads and applies whatever the feed holds after the cursor, then sleeps until
  // the owner commits again.
  void FollowStore() ABSL_LOCKS_EXCLUDED(mu_);
  // One pass of FollowStore from `after`: the last sequence applied.
  absl::StatusOr<uint64_t> ApplyFromStore(uint64_t after);
  void Applied(uint64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  // The cursor stored with the alerts state, read again every 5 s while it cannot be read;
  // nullopt once stopping.
  std::optional<uint64_t> StoredCursor() ABSL_LOCKS_EXCLUDED(mu_);
  // Sleeps `d` unless stopping; false when stopping.
  bool Sleep(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  AlertEngine& engine_;
  const std::string context_;
  const std::shared_ptr<grpc::Channel> channel_;  // null when following in process
  const Hop hop_;
  storage::Store* const store_ = nullptr;  // in process only
  FeedNotifier* const notifier_ = nullptr;
  uint64_t watch_ = 0;  // the notifier's handle, while following in process
  // Rung by the notifier after each commit to the feed; shared with the notifier's callback,
  // which may still run (copied out of the notifier) after Unwatch and this follower are gone.
  struct Doorbell {
    absl::Mutex mu;
    bool rung ABSL_GUARDED_BY(mu) = false;
    bool closed ABSL_GUARDED_BY(mu) = false;
    bool RungOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return rung || closed; }
    void Ring() ABSL_LOCKS_EXCLUDED(mu) {
      absl::MutexLock lock(&mu);
      rung = true;
    }
  };
  const std::shared_ptr<Doorbell> doorbell_ = std::make_shared<Doorbell>();

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // with mu_: queue_ or stopping_ changed
  std::deque<FeedEntry> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  Metric& applied_metric_;
  // The open stream, to cancel.
  std::shared_ptr<grpc::ClientContext> stream_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
  std::thread applier_;
};

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_FEED_FOLLOWER_H_
