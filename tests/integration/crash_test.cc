// Kill -9 at random points, hundreds of times: after each kill the store reopens, every
// acknowledged commit is present and whole, nothing is half there, the event feed has no
// gaps and the audit chain verifies.
//
// The writer is this binary re-executed in writer mode (a fresh process, so no RocksDB
// threads are inherited through fork): several threads commit numbered changes and write each
// acknowledged id to a pipe only after Commit returned OK, or CommitAsync's callback got OK.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::IsOk;

constexpr int kWriterThreads = 4;
constexpr int kAsyncWindow = 16;
constexpr char kContext[] = "crash";

std::string Id(int cycle, int thread, int n) { return absl::StrCat(cycle, "/", thread, "/", n); }

Change ChangeFor(const std::string& id, int n) {
  Change change;
  change.Put(Family::kEntities, "e/" + id, std::string(100 + n % 300, 'v'));
  change.Put(Family::kIndex, "i/" + id, "");
  change.AddDeadline({DeadlineSpace::kTesting, absl::FromUnixSeconds(n), 1, id});
  change.AddEvent(kContext, id);
  change.SetAudit(AuditEntry{"wessex", "writer", {id}, id});
  change.AddToCounter("changes", 1);
  return change;
}

// Writer mode: commit forever from kWriterThreads threads; ack each committed id on `fd`.
int RunWriter(const std::string& path, int fd, int cycle) {
  StoreOptions options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "writer: %s\n", store.status().ToString().c_str());
    return 3;
  }
  auto ack = [fd](const std::string& id) {
    const std::string line = id + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::_Exit(0);  // the parent stopped listening
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriterThreads; ++t) {
    if (t % 2 == 0) {
      threads.emplace_back([&, t] {
        for (int n = 0;; ++n) {
          const std::string id = Id(cycle, t, n);
          if (!(*store)->Commit(ChangeFor(id, n)).ok()) std::_Exit(4);
          ack(id);
        }
      });
      continue;
    }
    // The other half queue their changes with CommitAsync, up to kAsyncWindow at once, and
    // ack each from its callback.
    threads.emplace_back([&, t] {
      absl::Mutex mu;
      int outstanding = 0;
      for (int n = 0;; ++n) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&] { return outstanding < kAsyncWindow; };
          mu.Await(absl::Condition(&room));
          ++outstanding;
        }
        std::string id = Id(cycle, t, n);
        Change change = ChangeFor(id, n);
        (*store)->CommitAsync(std::move(change),
                              [&, id = std::move(id)](const absl::StatusOr<CommitResult>& result) {
                                if (!result.ok()) std::_Exit(4);
                                ack(id);
                                absl::MutexLock lock(&mu);
                                --outstanding;
                              });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return 0;
}

char* g_self = nullptr;

// Starts a writer; returns its pid and the read end of its ack pipe.
std::pair<pid_t, int> SpawnWriter(const std::string& path, int cycle) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string fd_text = std::to_string(fds[1]);
    const std::string cycle_text = std::to_string(cycle);
    ::execl(g_self, g_self, "--crash-writer", path.c_str(), fd_text.c_str(), cycle_text.c_str(),
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

int CrashCycles() {
  const char* env = std::getenv("VIGIL_CRASH_CYCLES");
  int cycles = 300;
  if (env != nullptr) (void)absl::SimpleAtoi(env, &cycles);
  return cycles;
}

TEST(CrashTest, KillNineLosesNothingAcknowledgedAndLeavesNothingHalfDone) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Sub("data");
  std::mt19937_64 rng(0xC0FFEE);
  const int cycles = CrashCycles();
  uint64_t total_acked = 0;
  int killed_before_any_ack = 0;

  for (int cycle = 0; cycle < cycles; ++cycle) {
    // Kill after a random number of acknowledgements; sometimes before the first (during
    // open and WAL recovery).
    const int kill_after = static_cast<int>(rng() % 8 == 0 ? 0 : rng() % 400);
    auto [pid, fd] = SpawnWriter(path, cycle);
    std::set<std::string> acked;
    std::string buffer;
    char chunk[4096];
    while (static_cast<int>(acked.size()) < kill_after) {
      const ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t newline;
      while ((newline = buffer.find('\n')) != std::string::npos) {
        acked.insert(buffer.substr(0, newline));
        buffer.erase(0, newline + 1);
      }
    }
    ::kill(pid, SIGKILL);
    // Acks already in the pipe were sent after their commits returned: count them too.
    for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) > 0;)
      buffer.append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      acked.insert(buffer.substr(0, newline));
      buffer.erase(0, newline + 1);
    }
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "writer exited by itself with " << WEXITSTATUS(status) << " in cycle " << cycle;
    if (acked.empty()) ++killed_before_any_ack;
    total_acked += acked.size();

    StoreOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_THAT(store.status(), IsOk()) << "cycle " << cycle;
    const ReadView view = (*store)->Snapshot();

    // Every acknowledged commit is there.
    for (const std::string& id : acked) {
      ASSERT_TRUE(view.Get(Family::kEntities, "e/" + id)->has_value())
          << "acknowledged commit " << id << " lost in cycle " << cycle;
    }
    // Every commit of this cycle that is there is whole, and each thread's are a prefix.
    const std::string prefix = absl::StrCat("e/", cycle, "/");
    std::map<int, std::set<int>> per_thread;
    std::set<std::string> present;
    ASSERT_THAT(view.ScanPrefix(Family::kEntities, prefix, {},
                                [&](absl::string_view key, absl::string_view) {
                                  const std::string id(key.substr(2));
                                  present.insert(id);
                                  std::vector<std::string> parts = absl::StrSplit(id, '/');
                                  per_thread[std::stoi(parts[1])].insert(std::stoi(parts[2]));
                                  return true;
                                }),
                IsOk());
    for (const std::string& id : present) {
      ASSERT_TRUE(view.Get(Family::kIndex, "i/" + id)->has_value()) << id << " half there";
    }
    for (const auto& [thread, ns] : per_thread) {
      ASSERT_EQ(*ns.rbegin() + 1, static_cast<int>(ns.size()))
          << "thread " << thread << " of cycle " << cycle << " has a hole";
    }
    // The feed and the chain hold exactly the present commits, in sequence, without gaps.
    absl::StatusOr<std::vector<FeedEvent>> events = view.ReadEvents(kContext, 0, 10'000'000);
    ASSERT_THAT(events.status(), IsOk());
    std::set<std::string> events_this_cycle;
    for (size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].sequence, i + 1) << "gap in the event feed, cycle " << cycle;
      if ((*events)[i].payload.starts_with(absl::StrCat(cycle, "/"))) {
        events_this_cycle.insert((*events)[i].payload);
      }
    }
    ASSERT_EQ(events_this_cycle, present) << "events and entities disagree in cycle " << cycle;
    ASSERT_EQ((*store)->EventHead(kContext), events->size());
    ASSERT_EQ(*view.Counter("changes"), static_cast<int64_t>(events->size()));
    absl::StatusOr<AuditChainReport> report = view.VerifyAuditChain();
    ASSERT_THAT(report.status(), IsOk());
    ASSERT_TRUE(report->ok) << report->problem << " in cycle " << cycle;
    ASSERT_EQ(report->records_checked, events->size());
  }
  std::printf(
      "crash test: %d cycles, %llu acknowledged commits verified, %d kills before any ack\n",
      cycles, static_cast<unsigned long long>(total_acked), killed_before_any_ack);
}

}  // namespace
}  // namespace vigil::storage

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--crash-writer") == 0) {
    int fd = -1;
    int cycle = 0;
    if (!absl::SimpleAtoi(argv[3], &fd) || !absl::SimpleAtoi(argv[4], &cycle)) return 2;
    return vigil::storage::RunWriter(argv[2], fd, cycle);
  }
  vigil::storage::g_self = argv[0];
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
