#include "services/alerts/feed_follower.h"

#include <algorithm>

#include "base/logging.h"
#include "vigil/v1/obligations.grpc.pb.h"

namespace vigil::alerts {

void FeedFollower::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
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
  changed_.SignalAll();
  if (reader_.joinable()) reader_.join();
  if (applier_.joinable()) applier_.join();
}

uint64_t FeedFollower::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
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
      absl::StatusOr<uint64_t> cursor = engine_.Cursor(context_);
      if (!cursor.ok()) {
        VIGIL_LOG(ERROR) << "alerts: reading the " << context_ << " cursor: " << cursor.status();
        if (!Sleep(absl::Seconds(5))) return;
        continue;
      }
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
