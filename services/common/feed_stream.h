// Server-streaming of a storage event feed (ObligationFeed.WatchObligations,
// AlertService.Subscribe): a reactor that pages messages out of the store after a cursor,
// writes them one at a time, and once caught up sleeps until the next commit of its context.
// A finite stream (AuditService.ExportAuditRecords) pages the same way until a page says it is
// the last, and then finishes with OK.
//
// Nothing is buffered beyond one page, so a slow reader holds little memory and never slows
// the writers or the scanner: the store is the buffer. A reader that takes longer than
// FeedNotifier's stuck-write limit to accept one message is cancelled; it resumes from the
// sequence of the last message it received.
//
// Reactions never block: fetches run on the worker pool. The stream is owned by shared
// pointers (its own until OnDone, and each queued fetch's), and wake-ups hold only weak ones,
// so nothing can touch it after it is gone.
#ifndef VIGIL_SERVICES_COMMON_FEED_STREAM_H_
#define VIGIL_SERVICES_COMMON_FEED_STREAM_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/errors.h"
#include "services/common/executor.h"
#include "storage/store.h"

namespace vigil {

// Initial metadata of a feed stream: the sequence it starts after.
inline constexpr absl::string_view kCursorMetadata = "x-vigil-cursor";

// Tells streams when their context's feed advances, and ticks them about four times a second
// (for stuck-write checks and periodic messages). Thread-safe.
class FeedNotifier {
 public:
  explicit FeedNotifier(absl::Duration stuck_write_limit = absl::Seconds(30))
      : stuck_write_limit_(stuck_write_limit) {}
  ~FeedNotifier();
  FeedNotifier(const FeedNotifier&) = delete;
  FeedNotifier& operator=(const FeedNotifier&) = delete;

  // Follows every commit of `store` and starts the ticker. Call once, before serving.
  void Attach(storage::Store& store);

  // Calls `wake` after every commit that adds an event to `context`, and `tick` on every tick,
  // until Unwatch. Both run on the committing or ticker thread: they must only schedule work.
  uint64_t Watch(absl::string_view context, std::function<void()> wake, std::function<void()> tick)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unwatch(uint64_t handle) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Duration stuck_write_limit() const { return stuck_write_limit_; }

 private:
  struct Watcher {
    std::string context;
    std::function<void()> wake;
    std::function<void()> tick;
  };

  void Committed(const std::vector<storage::CommittedEvent>& events) ABSL_LOCKS_EXCLUDED(mu_);
  void TickAll() ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration stuck_write_limit_;
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stopping_{false};
  std::thread ticker_;
};

// A stream of `Message`s produced from a feed. Create with Start; gRPC owns it from there.
template <typename Message>
class FeedStream : public grpc::ServerWriteReactor<Message>,
                   public std::enable_shared_from_this<FeedStream<Message>> {
 public:
  // A fetched page: the messages to send (none when everything read was filtered out or
  // nothing is new) and the cursor to fetch after next time.
  struct Page {
    std::vector<Message> messages;
    uint64_t cursor = 0;
    // More may follow at once (the page was cut short): fetch again without waiting.
    bool more = false;
    // Nothing follows: finish the stream with OK once these messages are written.
    bool end = false;
  };
  using Fetch = std::function<absl::StatusOr<Page>(uint64_t after)>;

  struct Options {
    // The feed whose commits wake the stream; empty for a finite stream, which no commit wakes.
    std::string feed_context;
    uint64_t cursor = 0;
    Fetch fetch;
    // Also fetch on every tick, not only after commits (for messages that depend on time,
    // such as digests).
    bool fetch_on_tick = false;
  };

  // Starts streaming; returns the reactor for the handler to return. The initial metadata,
  // sent at once, carries the starting cursor as kCursorMetadata, so that a client that asked
  // to start at the head knows where to resume even before the first message.
  static grpc::ServerWriteReactor<Message>* Start(grpc::CallbackServerContext* context,
                                                  Executor& executor, FeedNotifier& notifier,
                                                  Options options) {
    context->AddInitialMetadata(std::string(kCursorMetadata), std::to_string(options.cursor));
    std::shared_ptr<FeedStream> stream(
        new FeedStream(context, executor, notifier, std::move(options)));
    stream->self_ = stream;
    const std::weak_ptr<FeedStream> weak = stream;
    stream->watch_ = notifier.Watch(
        stream->options_.feed_context,
        [weak] {
          if (auto s = weak.lock()) s->Poke();
        },
        [weak] {
          if (auto s = weak.lock()) s->Tick();
        });
    stream->StartSendInitialMetadata();
    stream->Poke();
    return stream.get();
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    Message* next = nullptr;
    bool fetch = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!pending_.empty()) pending_.pop_front();
      if (!ok && !finished_) {
        finished_ = true;
        finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled");
      }
      if (finished_) {
        finish.swap(finish_);
      } else if (!pending_.empty()) {
        next = BeginWriteLocked();
      } else if (ending_) {
        finished_ = true;
        finish = grpc::Status::OK;
      } else {
        fetch = BeginFetchLocked();
      }
    }
    if (finish.has_value()) this->Finish(*std::move(finish));
    if (next != nullptr) this->StartWrite(next);
    if (fetch) ScheduleFetch();
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    notifier_.Unwatch(watch_);
    std::shared_ptr<FeedStream> self = std::move(self_);
    // `self` may be the last owner: nothing of this object is touched after this line.
  }

 private:
  FeedStream(grpc::CallbackServerContext* context, Executor& executor, FeedNotifier& notifier,
             Options options)
      : context_(context), executor_(executor), notifier_(notifier), options_(std::move(options)) {
    cursor_ = options_.cursor;
  }

  // Something may be new: fetch now, or after the fetch or writes in progress.
  void Poke() {
    bool fetch = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || ending_) return;
      if (fetching_ || writing_ || !pending_.empty()) {
        again_ = true;
      } else {
        fetch = BeginFetchLocked();
      }
    }
    if (fetch) ScheduleFetch();
  }

  void Tick() {
    bool stuck = false;
    {
      absl::MutexLock lock(&mu_);
      stuck =
          !finished_ && writing_ && absl::Now() - write_started_ > notifier_.stuck_write_limit();
    }
    if (stuck) {
      End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       "the stream stopped reading; resume after the last sequence received"));
      context_->TryCancel();
      return;
    }
    if (options_.fetch_on_tick) Poke();
  }

  bool BeginFetchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    fetching_ = true;
    again_ = false;
    return true;
  }

  void ScheduleFetch() {
    std::shared_ptr<FeedStream> self = this->shared_from_this();
    if (!executor_.TrySchedule([self] { self->RunFetch(); })) {
      {
        absl::MutexLock lock(&mu_);
        fetching_ = false;
      }
      End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       "the server is at capacity; resume after the last sequence received"));
    }
  }

  void RunFetch() {
    // Only one fetch runs at a time (fetching_), so cursor_ is read here without the lock.
    absl::StatusOr<Page> page = options_.fetch(cursor_);
    Message* next = nullptr;
    bool fetch = false;
    bool done = false;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (finished_) return;
      if (page.ok()) {
        const bool advanced = page->cursor != cursor_;
        cursor_ = page->cursor;
        ending_ = page->end;
        for (Message& m : page->messages) pending_.push_back(std::move(m));
        if (!pending_.empty()) {
          if (!writing_) next = BeginWriteLocked();
        } else if (ending_) {
          done = !writing_;
        } else if (advanced || page->more || again_) {
          fetch = BeginFetchLocked();
        }
      }
    }
    if (!page.ok()) {
      End(ToGrpcStatus(page.status()));
      return;
    }
    if (done) End(grpc::Status::OK);
    if (next != nullptr) this->StartWrite(next);
    if (fetch) ScheduleFetch();
  }

  Message* BeginWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    write_started_ = absl::Now();
    return &pending_.front();
  }

  // Finishes the stream with `status`, at once or, with a write outstanding, when it completes.
  void End(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      if (writing_) {
        finish_ = std::move(status);
        return;
      }
    }
    this->Finish(std::move(status));
  }

  grpc::CallbackServerContext* const context_;
  Executor& executor_;
  FeedNotifier& notifier_;
  const Options options_;
  uint64_t watch_ = 0;
  std::shared_ptr<FeedStream> self_;  // gRPC's reference, dropped in OnDone

  absl::Mutex mu_;
  // Written under mu_, read without it by the one fetch that runs at a time (fetching_).
  uint64_t cursor_ = 0;
  std::deque<Message> pending_ ABSL_GUARDED_BY(mu_);  // front() is in flight when writing_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;                  // poked while busy
  bool ending_ ABSL_GUARDED_BY(mu_) = false;                 // the last page was fetched
  bool finished_ ABSL_GUARDED_BY(mu_) = false;               // no more writes may start
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // Finish once the write completes
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
};

// A streaming call refused before it started: it writes nothing, and ends with the status its
// holder finishes it with (at once, RefuseStream; once its refusal is audited, AdmitStream).
template <typename Message>
class RefusedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  void OnDone() override { delete this; }
};

// A streaming call refused before it started (not admitted, bad request): finished at once.
template <typename Message>
grpc::ServerWriteReactor<Message>* RefuseStream(const absl::Status& status) {
  auto* refused = new RefusedStream<Message>();
  refused->Finish(ToGrpcStatus(status));
  return refused;
}

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_FEED_STREAM_H_
