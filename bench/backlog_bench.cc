// The in-memory part of a backlog query: OverdueIndex::Summarize (counts by kind x risk x age
// band, due-soon counts, the oldest item) and the first oldest-first page, over N open
// obligations of one force spread like a real one (8 teams x 20 officers, four rso kinds, five
// risk levels, due times from three years ago to a year ahead). The RPC adds the gRPC hop from
// backlog to each owning context and the audit commit (see docs/performance.md for both).
//
//   build/bench/backlog_bench [--benchmark_filter=...]
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/proto_time.h"
#include "benchmark/benchmark.h"
#include "services/obligations/overdue_index.h"

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

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
