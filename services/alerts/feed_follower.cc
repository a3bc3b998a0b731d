#include "services/alerts/feed_follower.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "base/logging.h"
#include "services/obligations/obligation_feed_service.h"
#include "vigil/v1/obligations.grpc.pb.h"

namespace vigil::alerts {

Metric& FeedFollower::AppliedMetric(const std::string& context) {
  return Metrics::Default().Get(
      "alerts_feed_applied_" + context,
      "The last sequence of the " + context + " obligation feed the alerts context applied");
}

void FeedFollower::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  if (store_ != nullptr) {
    {
      absl::MutexLock lock(&doorbell_->mu);
      doorbell_->closed = false;
      doorbell_->rung = true;  // whatever the feed holds already
    }
    watch_ = notifier_->Watch(
        context_, [doorbell = doorbell_] { doorbell->Ring(); }, [] {});
    applier_ = std::thread([this] { FollowStore(); });
    return;
  }
  reader_ = std::thread([this] { Read(); });
  applier_ = std::thread([this] { ApplyQueued(); });
}

void FeedFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (stream_ != nullptr) stream_->TryCancel();
  }
  {
    absl::MutexLock lock(&doorbell_->mu);
    doorbell_->closed = true;
  }
  changed_.SignalAll();
  if (reader_.joinable()) reader_.join();
  if (applier_.joinable()) applier_.join();
  if (watch_ != 0) {
    notifier_->Unwatch(watch_);
    watch_ = 0;
  }
}

void FeedFollower::Applied(uint64_t sequence) {
  applied_metric_.Set(static_cast<int64_t>(sequence));
  absl::MutexLock lock(&mu_);
  applied_ = sequence;
}

void FeedFollower::FollowStore() {
  uint64_t after = 0;
  bool have_cursor = false;
  while (true) {
    {
      Doorbell& bell = *doorbell_;
      absl::MutexLock lock(&bell.mu);
      // A commit rings it; the timeout only bounds a ring lost to a notifier attached late.
      bell.mu.AwaitWithTimeout(absl::Condition(&bell, &Doorbell::RungOrClosed), absl::Seconds(1));
      if (bell.closed) return;
      bell.rung = false;
    }
    if (!have_cursor) {
      const std::optional<uint64_t> cursor = StoredCursor();
      if (!cursor.has_value()) return;  // stopping
      after = *cursor;
      have_cursor = true;
      Applied(after);
    }
    absl::StatusOr<uint64_t> applied = ApplyFromStore(after);
    if (!applied.ok()) {
      VIGIL_LOG(ERROR) << "alerts: applying the " << context_ << " feed after " << after
                       << " failed: " << applied.status() << "; retrying in 5s";
      have_cursor = false;  // the cursor, as committed, says where to resume
      if (!Sleep(absl::Seconds(5))) return;
      doorbell_->Ring();
      continue;
    }
    after = *applied;
  }
}

absl::StatusOr<uint64_t> FeedFollower::ApplyFromStore(uint64_t after) {
  while (true) {
    VIGIL_ASSIGN_OR_RETURN(std::vector<storage::FeedEvent> read,
                           store_->Snapshot().ReadEvents(context_, after, kMaxEntriesPerCommit));
    if (read.empty()) return after;
    std::vector<FeedEntry> batch(read.size());
    for (size_t i = 0; i < read.size(); ++i) {
      batch[i].sequence = read[i].sequence;
      VIGIL_RETURN_IF_ERROR(
          FlattenFeedEntry(read[i].sequence, read[i].payload, /*force=*/{}, batch[i].events));
    }
    VIGIL_RETURN_IF_ERROR(engine_.Apply(context_, batch));
    after = batch.back().sequence;
    Applied(after);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return after;
    }
    if (read.size() < kMaxEntriesPerCommit) return after;
  }
}

uint64_t FeedFollower::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

std::optional<uint64_t> FeedFollower::StoredCursor() {
  while (true) {
    absl::StatusOr<uint64_t> cursor = engine_.Cursor(context_);
    if (cursor.ok()) return *cursor;
    VIGIL_LOG(ERROR) << "alerts: reading the " << context_ << " cursor: " << cursor.status();
    if (!Sleep(absl::Seconds(5))) return std::nullopt;
  }
}

bool FeedFollower::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
}

void FeedFollower::Read() {
  absl::Duration backoff = absl::Milliseconds(100);
  uint64_t after = 0;
  bool have_cursor = false;
  while (true) {
    if (!have_cursor) {
      const std::optional<uint64_t> cursor = StoredCursor();
      if (!cursor.has_value()) return;  // stopping
      after = *cursor;
      have_cursor = true;
      applied_metric_.Set(static_cast<int64_t>(after));
    }
    auto context = std::make_shared<grpc::ClientContext>();
    IdentifyInternalCall(*context, hop_,
                         Principal{"vigild alerts", Role::kService, std::string(kAllForces)},
                         "alerting on overdue obligations");
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stream_ = context;
    }
    v1::WatchObligationsRequest request;
    request.set_context(context_);
    request.set_after_sequence(after);
    std::unique_ptr<grpc::ClientReader<v1::ObligationEvent>> reader =
        v1::ObligationFeed::NewStub(channel_)->WatchObligations(context.get(), request);
    FeedEntry entry;
    v1::ObligationEvent event;
    while (reader->Read(&event)) {
      backoff = absl::Milliseconds(100);
      if (event.sequence() <= after) continue;
      entry.sequence = event.sequence();
      const bool last = event.last_of_sequence();
      entry.events.push_back(std::move(event));
      if (!last) continue;
      absl::MutexLock lock(&mu_);
      while (!stopping_ && queue_.size() >= kMaxQueuedEntries) changed_.Wait(&mu_);
      if (stopping_) break;
      after = entry.sequence;
      queue_.push_back(std::move(entry));
      entry = FeedEntry();
      changed_.SignalAll();
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      stream_.reset();
      if (stopping_) return;
    }
    VIGIL_LOG(WARNING) << "alerts: the " << context_ << " feed ended (" << status.error_code()
                       << ": " << status.error_message() << "); resuming after " << after << " in "
                       << backoff;
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

void FeedFollower::ApplyQueued() {
  while (true) {
    std::vector<FeedEntry> batch;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) changed_.Wait(&mu_);
      if (stopping_) return;
      const size_t n = std::min(queue_.size(), kMaxEntriesPerCommit);
      for (size_t i = 0; i < n; ++i) batch.push_back(queue_[i]);
    }
    if (absl::Status s = engine_.Apply(context_, batch); !s.ok()) {
      VIGIL_LOG(ERROR) << "alerts: applying the " << context_ << " feed up to "
                       << batch.back().sequence << " failed: " << s << "; retrying in 5s";
      if (!Sleep(absl::Seconds(5))) return;
      continue;
    }
    applied_metric_.Set(static_cast<int64_t>(batch.back().sequence));
    absl::MutexLock lock(&mu_);
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
    applied_ = batch.back().sequence;
    changed_.SignalAll();
  }
}

}  // namespace vigil::alerts
