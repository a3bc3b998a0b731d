// The in-memory part of a backlog query: OverdueIndex::Summarize (counts by kind x risk x age
// band, due-soon counts, the oldest item) and the first oldest-first page, over N open
// obligations of one force spread like a real one (8 teams x 20 officers, four rso kinds, five
// risk levels, due times from three years ago to a year ahead). The RPC adds the gRPC hop from
// backlog to each owning context and the audit commit (see docs/performance.md for both).
//
// BM_RetimeInOneCell: one entry out and one in, in a cell of N (unallocated referrals).
//
// BM_HistorySummarize30DaysAgo measures the other path, a past as_of answered from the history
// in RocksDB (docs/performance.md, "The backlog as of a past instant").
//
//   build/bench/backlog_bench [--benchmark_filter=...]
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/proto_time.h"
#include "benchmark/benchmark.h"
#include "services/obligations/ledger.h"
#include "services/obligations/overdue_index.h"
#include "storage/store.h"

namespace vigil {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'795'000'000);  // late 2026

std::unique_ptr<OverdueIndex> Build(int64_t n) {
  auto index = std::make_unique<OverdueIndex>(storage::DeadlineSpace::kRso);
  std::mt19937_64 rng(42);
  constexpr v1::ObligationKind kKinds[] = {
      v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::OBLIGATION_KIND_RMP_REVIEW,
      v1::OBLIGATION_KIND_HOME_VISIT, v1::OBLIGATION_KIND_NOTIFICATION};
  v1::ObligationEventBatch batch;
  for (int64_t i = 0; i < n; ++i) {
    v1::ObligationEvent* e = batch.add_events();
    e->set_type(v1::OBLIGATION_EVENT_TYPE_OPENED);
    v1::Obligation* o = e->mutable_obligation();
    o->set_id(absl::StrCat("D", i, "/clock"));
    o->set_kind(kKinds[rng() % 4]);
    o->set_subject_id(absl::StrCat("D", i));
    o->set_risk_level(static_cast<v1::RiskLevel>(rng() % 5));
    o->set_force("wessex");
    const int team = static_cast<int>(rng() % 8);
    o->set_team(absl::StrCat("team-", team));
    o->set_owner_officer(absl::StrCat("DC ", team, "-", rng() % 20));
    *o->mutable_due_time() =
        ToProtoTime(kNow - absl::Hours(24 * 365 * 3) +
                    absl::Seconds(static_cast<int64_t>(rng() % (86400LL * 365 * 4))));
    if (batch.events_size() == 10'000) {
      index->Apply(batch);
      batch.Clear();
    }
  }
  index->Apply(batch);
  return index;
}

OverdueIndex& IndexOf(int64_t n) {
  static std::map<int64_t, std::unique_ptr<OverdueIndex>> built;
  std::unique_ptr<OverdueIndex>& index = built[n];
  if (index == nullptr) index = Build(n);
  return *index;
}

void BM_Summarize(benchmark::State& state) {
  OverdueIndex& index = IndexOf(state.range(0));
  OverdueIndex::Scope scope;
  scope.force = "wessex";
  for (auto _ : state) {
    OverdueIndex::Summary summary = index.Summarize(scope, kNow);
    benchmark::DoNotOptimize(summary.total_overdue);
  }
  state.counters["open"] = static_cast<double>(index.size());
}

void BM_SummarizeOneTeam(benchmark::State& state) {
  OverdueIndex& index = IndexOf(state.range(0));
  OverdueIndex::Scope scope;
  scope.force = "wessex";
  scope.team = "team-3";
  for (auto _ : state) {
    OverdueIndex::Summary summary = index.Summarize(scope, kNow);
    benchmark::DoNotOptimize(summary.total_overdue);
  }
}

void BM_OldestFirstPage(benchmark::State& state) {
  OverdueIndex& index = IndexOf(state.range(0));
  OverdueIndex::Scope scope;
  scope.force = "wessex";
  for (auto _ : state) {
    bool more = false;
    std::vector<OverdueIndex::Entry> page =
        index.List(scope, kNow, v1::BACKLOG_ORDER_OLDEST_FIRST, OverdueIndex::Cursor(), 50, &more);
    benchmark::DoNotOptimize(page.data());
  }
}

// One obligation of a cell of N re-timed to a random due time (an entry out and one in),
// as every CreateReferral does in the default team's cell of unallocated referrals, which
// holds every referral not yet allocated to an officer.
void BM_RetimeInOneCell(benchmark::State& state) {
  const int64_t n = state.range(0);
  OverdueIndex index(storage::DeadlineSpace::kOcait);
  std::mt19937_64 rng(11);
  auto obligation = [&](int64_t i) {
    v1::Obligation o;
    o.set_id(absl::StrCat("REF-", i, "/action"));
    o.set_kind(v1::OBLIGATION_KIND_REFERRAL_ACTION);
    o.set_risk_level(v1::RISK_LEVEL_HIGH);
    o.set_force("wessex");
    o.set_team("referrals");
    *o.mutable_due_time() =
        ToProtoTime(kNow - absl::Hours(24 * 365) +
                    absl::Seconds(static_cast<int64_t>(rng() % (86400LL * 365 * 2))));
    return o;
  };
  std::vector<v1::Obligation> all;
  for (int64_t i = 0; i < n; ++i) all.push_back(obligation(i));
  index.InsertAll(all);
  for (auto _ : state) index.Insert(obligation(static_cast<int64_t>(rng() % n)));
  state.counters["open"] = static_cast<double>(index.size());
}

// The point-in-time backlog (ledger.h, docs/api.md): a force's history in a real store (every
// obligation open now with the version it has had since it began, up to three years ago, and
// for half of them an earlier version re-timed at a random instant in the last 90 days), asked
// what was open 30 days ago: the RocksDB scan of the versions open now or ended since, the
// temporary index of those open then, and its summary.
struct HistoryStore {
  std::string dir;
  std::unique_ptr<storage::Store> store;
  ~HistoryStore() {
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Closed and removed by main, before static destruction (a store must not outlive RocksDB's
// own statics).
std::map<int64_t, HistoryStore>& HistoryStores() {
  static auto* built = new std::map<int64_t, HistoryStore>();
  return *built;
}

HistoryStore& HistoryOf(int64_t n) {
  HistoryStore& h = HistoryStores()[n];
  if (h.store != nullptr) return h;
  char path[] = "/tmp/backlog_bench_XXXXXX";
  if (mkdtemp(path) == nullptr) std::abort();
  h.dir = path;
  storage::StoreOptions options;
  options.path = h.dir + "/data";
  h.store = *storage::Store::Open(options);
  const ObligationLedger ledger("rso", storage::DeadlineSpace::kRso);
  std::mt19937_64 rng(7);
  storage::Change change;
  auto put = [&](const v1::Obligation& o, int64_t end, int64_t begin) {
    change.Put(storage::Family::kIndex, ledger.HistoryKey(o.force(), end, begin, o.id()),
               o.SerializeAsString());
    if (change.ops().size() >= 20'000) {
      if (!h.store->Commit(change).ok()) std::abort();
      change = storage::Change();
    }
  };
  const int64_t now = storage::ToMicros(kNow);
  constexpr int64_t kDay = int64_t{86'400'000'000};
  for (int64_t i = 0; i < n; ++i) {
    v1::Obligation o;
    o.set_id(absl::StrCat("D", i, "/clock"));
    o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
    o.set_subject_id(absl::StrCat("D", i));
    o.set_risk_level(static_cast<v1::RiskLevel>(rng() % 5));
    o.set_force("wessex");
    const int team = static_cast<int>(rng() % 8);
    o.set_team(absl::StrCat("team-", team));
    o.set_owner_officer(absl::StrCat("DC ", team, "-", rng() % 20));
    o.set_reason("visit within 91 days of the last visit (policy v1)");
    o.set_policy_version("v1");
    const int64_t due = now - 365 * kDay + static_cast<int64_t>(rng() % (730 * kDay));
    *o.mutable_due_time() = ToProtoTime(storage::FromMicros(due));
    int64_t begin = now - static_cast<int64_t>(rng() % (3 * 365 * kDay));
    if (i % 2 == 0) {
      const int64_t retimed = now - static_cast<int64_t>(rng() % (90 * kDay));
      if (retimed > begin) {
        v1::Obligation old = o;
        *old.mutable_due_time() = ToProtoTime(storage::FromMicros(due - 91 * kDay));
        put(old, retimed, begin);
        begin = retimed;
      }
    }
    *o.mutable_since_time() = ToProtoTime(storage::FromMicros(begin));
    change.AddDeadline(ledger.DeadlineOf(o), o.SerializeAsString());  // open now
  }
  if (!change.empty() && !h.store->Commit(change).ok()) std::abort();
  return h;
}

void BM_HistorySummarize30DaysAgo(benchmark::State& state) {
  HistoryStore& h = HistoryOf(state.range(0));
  const ObligationLedger ledger("rso", storage::DeadlineSpace::kRso);
  const absl::Time as_of = kNow - absl::Hours(24 * 30);
  OverdueIndex::Scope scope;
  scope.force = "wessex";
  int64_t scanned = 0, open_then = 0;
  for (auto _ : state) {
    absl::StatusOr<ObligationLedger::PointInTime> then =
        ledger.OpenAt(h.store->Snapshot(), "wessex", as_of);
    if (!then.ok()) std::abort();
    OverdueIndex index(storage::DeadlineSpace::kRso);
    index.InsertAll(then->open);
    OverdueIndex::Summary summary = index.Summarize(scope, as_of);
    benchmark::DoNotOptimize(summary.total_overdue);
    scanned = then->scanned;
    open_then = summary.total_open;
  }
  state.counters["versions_read"] = static_cast<double>(scanned);
  state.counters["open_then"] = static_cast<double>(open_then);
}

BENCHMARK(BM_HistorySummarize30DaysAgo)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Summarize)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SummarizeOneTeam)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OldestFirstPage)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RetimeInOneCell)->Arg(1'000)->Arg(10'000)->Arg(100'000);

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  vigil::HistoryStores().clear();
  return 0;
}
