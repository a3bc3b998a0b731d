#include "services/common/feed_stream.h"

#include <chrono>

namespace vigil {

FeedNotifier::~FeedNotifier() {
  stopping_ = true;
  if (ticker_.joinable()) ticker_.join();
}

void FeedNotifier::Attach(storage::Store& store) {
  store.AddCommitListener(
      [this](const std::vector<storage::CommittedEvent>& events) { Committed(events); });
  ticker_ = std::thread([this] {
    while (!stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      TickAll();
    }
  });
}

uint64_t FeedNotifier::Watch(absl::string_view context, std::function<void()> wake,
                             std::function<void()> tick) {
  absl::MutexLock lock(&mu_);
  const uint64_t handle = next_++;
  watchers_.emplace(handle, Watcher{std::string(context), std::move(wake), std::move(tick)});
  return handle;
}

void FeedNotifier::Unwatch(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(handle);
}

void FeedNotifier::Committed(const std::vector<storage::CommittedEvent>& events) {
  // Copied out so that the callbacks run without the lock (they may end a stream, which
  // unwatches).
  std::vector<std::function<void()>> wake;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [handle, watcher] : watchers_) {
      for (const storage::CommittedEvent& e : events) {
        if (e.context == watcher.context) {
          wake.push_back(watcher.wake);
          break;
        }
      }
    }
  }
  for (const auto& w : wake) w();
}

void FeedNotifier::TickAll() {
  std::vector<std::function<void()>> ticks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [handle, watcher] : watchers_) ticks.push_back(watcher.tick);
  }
  for (const auto& t : ticks) t();
}

}  // namespace vigil
