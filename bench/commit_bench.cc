// Durable commits per second through storage::Store (group commit, one WriteBatch with
// sync=true per group) next to raw RocksDB sync writes on the same disk, at 1, 16 and 64
// concurrent writers. Each Store commit looks like a real state change: entity, two index
// entries, a deadline moved, an event, a hash-chained audit record and counter deltas.
//
//   build/bench/commit_bench --benchmark_counters_tabular=true [--dir=/path/on/the/data/disk]
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "rocksdb/db.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "storage/store.h"

namespace {

std::string g_dir;
std::atomic<uint64_t> g_next_id{0};

std::string Fresh(const std::string& name) {
  const std::string path = g_dir + "/" + name;
  std::filesystem::remove_all(path);
  return path;
}

// One shared store per benchmark run, opened by thread 0.
std::unique_ptr<vigil::storage::Store> g_store;

vigil::storage::Change RealisticChange(uint64_t id, int counters) {
  using vigil::storage::Family;
  vigil::storage::Change change;
  const std::string key = absl::StrCat("offender/", id);
  change.Put(Family::kEntities, key, std::string(300, 'o'));
  change.Put(Family::kIndex, absl::StrCat("by-officer/DC", id % 97, "/", id), "");
  change.Put(Family::kIndex, absl::StrCat("by-team/T", id % 13, "/", id), "");
  const absl::Time due =
      absl::FromUnixSeconds(1'700'000'000 + static_cast<int64_t>(id % 1'000'000));
  change.RemoveDeadline({vigil::storage::DeadlineSpace::kRso, due - absl::Hours(24), 1, key});
  change.AddDeadline({vigil::storage::DeadlineSpace::kRso, due, 1, key});
  change.AddEvent("rso", std::string(100, 'e'));
  change.SetAudit(vigil::storage::AuditEntry{
      "wessex", absl::StrCat("DC", id % 97), {key}, std::string(200, 'a')});
  for (int c = 0; c < counters; ++c) {
    change.AddToCounter(absl::StrCat("open/", c, "/T", id % 13, "/DC", id % 97), 1);
  }
  return change;
}

void BM_StoreCommit(benchmark::State& state) {
  const int counters = static_cast<int>(state.range(0));
  if (state.thread_index() == 0) {
    vigil::storage::StoreOptions options;
    options.path = Fresh("store");
    g_store = std::move(vigil::storage::Store::Open(options)).value();
  }
  for (auto _ : state) {
    absl::StatusOr<vigil::storage::CommitResult> r =
        g_store->Commit(RealisticChange(g_next_id.fetch_add(1), counters));
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const vigil::storage::StoreStats stats = g_store->stats();
    state.counters["changes_per_fsync"] =
        stats.groups == 0 ? 0
                          : static_cast<double>(stats.commits) / static_cast<double>(stats.groups);
    g_store.reset();
  }
}
BENCHMARK(BM_StoreCommit)
    ->ArgName("counters")
    ->Arg(0)
    ->Arg(4)
    ->Threads(1)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();

rocksdb::DB* g_raw = nullptr;

void OpenRaw(bool with_merge) {
  rocksdb::Options options;
  options.create_if_missing = true;
  if (with_merge) {
    class Int64Add : public rocksdb::AssociativeMergeOperator {
     public:
      bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
                 std::string* new_value, rocksdb::Logger*) const override {
        int64_t a = 0, b = 0;
        if (existing != nullptr && existing->size() == 8) std::memcpy(&a, existing->data(), 8);
        if (value.size() == 8) std::memcpy(&b, value.data(), 8);
        a += b;
        new_value->assign(reinterpret_cast<const char*>(&a), 8);
        return true;
      }
      const char* Name() const override { return "Int64Add"; }
    };
    options.merge_operator = std::make_shared<Int64Add>();
  }
  if (!rocksdb::DB::Open(options, Fresh("raw"), &g_raw).ok()) std::abort();
}

// db_bench's fillrandom sync=1 with 1000-byte values, on the same disk.
void BM_RawRocksSyncPut(benchmark::State& state) {
  if (state.thread_index() == 0) OpenRaw(false);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const std::string value(1000, 'v');
  for (auto _ : state) {
    const std::string key = absl::StrCat("k", g_next_id.fetch_add(1));
    if (!g_raw->Put(sync, key, value).ok()) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete g_raw;
    g_raw = nullptr;
  }
}
BENCHMARK(BM_RawRocksSyncPut)->Threads(1)->Threads(16)->Threads(64)->UseRealTime();

// A WriteBatch of 8 x 128 B, sync; with range(0) = 1, plus 4 merge-operator counter deltas
// (the alternative to the Store's in-leader read-modify-write of counters).
void BM_RawRocksSyncBatch(benchmark::State& state) {
  const bool merges = state.range(0) != 0;
  if (state.thread_index() == 0) OpenRaw(merges);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const std::string value(128, 'v');
  for (auto _ : state) {
    const uint64_t id = g_next_id.fetch_add(1);
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 8; ++i) (void)batch.Put(absl::StrCat("k", id, "/", i), value);
    if (merges) {
      const int64_t one = 1;
      for (int c = 0; c < 4; ++c) {
        (void)batch.Merge(absl::StrCat("counter/", c, "/T", id % 13, "/DC", id % 97),
                          rocksdb::Slice(reinterpret_cast<const char*>(&one), 8));
      }
    }
    if (!g_raw->Write(sync, &batch).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete g_raw;
    g_raw = nullptr;
  }
}
BENCHMARK(BM_RawRocksSyncBatch)
    ->ArgName("merge_counters")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  g_dir = "/tmp/vigil-commit-bench";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dir=", 6) == 0) g_dir = argv[i] + 6;
  }
  std::filesystem::create_directories(g_dir);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(g_dir);
  return 0;
}
