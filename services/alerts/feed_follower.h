// Follows one owning context's obligation feed (ObligationFeed.WatchObligations, over an
// in-process channel when co-hosted, across the network otherwise) into the AlertEngine.
//
// A reader thread collects whole feed entries (up to the event marked last_of_sequence) into a
// bounded queue; an applier thread commits whatever has queued, up to kMaxEntriesPerCommit at a
// time, as one AlertEngine::Apply. A burst on the owner's side (an import of thousands of
// records) therefore costs a few large commits, not thousands of small ones, and a slow
// applier slows the stream (gRPC flow control), never the owner. On any stream error the
// reader reconnects with backoff from the last entry it queued.
#ifndef VIGIL_SERVICES_ALERTS_FEED_FOLLOWER_H_
#define VIGIL_SERVICES_ALERTS_FEED_FOLLOWER_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/alerts/alert_engine.h"
#include "services/common/internal_call.h"

namespace vigil::alerts {

class FeedFollower {
 public:
  static constexpr size_t kMaxEntriesPerCommit = 512;
  static constexpr size_t kMaxQueuedEntries = 4096;

  // `hop` says how `channel` reaches the owner (internal_call.h).
  FeedFollower(AlertEngine& engine, std::string context, std::shared_ptr<grpc::Channel> channel,
               Hop hop = Hop::kInProcess)
      : engine_(engine),
        context_(std::move(context)),
        channel_(std::move(channel)),
        hop_(hop),
        applied_metric_(Metrics::Default().Get("alerts_feed_applied_" + context_,
                                               "The last sequence of the " + context_ +
                                                   " obligation feed the alerts context applied")) {
  }
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
  void Read() ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyQueued() ABSL_LOCKS_EXCLUDED(mu_);
  // Sleeps `d` unless stopping; false when stopping.
  bool Sleep(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  AlertEngine& engine_;
  const std::string context_;
  const std::shared_ptr<grpc::Channel> channel_;
  const Hop hop_;

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
