// The overdue index against a brute-force scan of the deadline index: thousands of random
// obligation openings, re-timings and closings committed through the ledger, with time moving,
// and every summary and page compared at random points.
#include "services/obligations/overdue_index.h"

#include <map>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/obligations/ledger.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil {
namespace {

using ::vigil::testing::IsOk;

constexpr const char* kTeams[] = {"north", "south", "east"};
constexpr const char* kOfficers[] = {"DC 1", "DC 2", "DC 3", "DC 4"};
constexpr const char* kForces[] = {"wessex", "mercia"};

class OverdueIndexTest : public vigil::testing::StoreFixture {
 protected:
  // Every open obligation, read back from the deadline index itself.
  std::vector<v1::Obligation> Scan() {
    std::vector<v1::Obligation> all;
    EXPECT_THAT(store_->Snapshot().ScanDeadlines(
                    storage::DeadlineSpace::kTesting, absl::InfinitePast(), absl::InfiniteFuture(),
                    [&](const storage::Deadline&, absl::string_view value) {
                      all.emplace_back().ParseFromArray(value.data(),
                                                        static_cast<int>(value.size()));
                      return true;
                    }),
                IsOk());
    return all;
  }
};

bool InScope(const OverdueIndex::Scope& scope, const v1::Obligation& o) {
  return o.force() == scope.force && (scope.team.empty() || o.team() == scope.team) &&
         (scope.officer.empty() || o.owner_officer() == scope.officer) &&
         (scope.kinds.empty() ||
          std::find(scope.kinds.begin(), scope.kinds.end(), o.kind()) != scope.kinds.end()) &&
         (scope.risks.empty() ||
          std::find(scope.risks.begin(), scope.risks.end(), o.risk_level()) != scope.risks.end());
}

int RiskRank(v1::RiskLevel r) {
  return r == v1::RISK_LEVEL_VERY_HIGH ? 0
         : r == v1::RISK_LEVEL_HIGH    ? 1
         : r == v1::RISK_LEVEL_MEDIUM  ? 2
         : r == v1::RISK_LEVEL_LOW     ? 3
                                       : 4;
}

TEST_F(OverdueIndexTest, AgreesWithABruteForceScanThroughThousandsOfRandomChanges) {
  OverdueIndex index(storage::DeadlineSpace::kTesting);
  ASSERT_THAT(index.Attach(*store_, "test"), IsOk());
  const ObligationLedger ledger("testing", storage::DeadlineSpace::kTesting);
  std::mt19937_64 rng(99);
  absl::Time now = absl::FromCivil(absl::CivilSecond(2026, 1, 1), absl::UTCTimeZone());
  std::map<std::string, v1::Obligation> open;  // key: force|id
  auto random_obligation = [&](const std::string& id, const std::string& force) {
    v1::Obligation o;
    o.set_id(id);
    o.set_force(force);
    o.set_subject_id(id.substr(0, id.find('/')));
    o.set_kind(static_cast<v1::ObligationKind>(1 + rng() % 7));
    o.set_risk_level(static_cast<v1::RiskLevel>(rng() % 5));
    o.set_team(kTeams[rng() % 3]);
    o.set_owner_officer(kOfficers[rng() % 4]);
    // Due anywhere from four years ago to a year ahead, sometimes exactly on a band edge.
    absl::Duration offset =
        absl::Hours(24) * static_cast<int64_t>(rng() % 1826) - absl::Hours(24 * 1461);
    if (rng() % 10 == 0) {
      const int edges[] = {0, 7, 8, 30, 31, 90, 91, 180, 181, 365, 366};
      offset = -absl::Hours(24) * edges[rng() % 11];
    }
    *o.mutable_due_time() =
        ToProtoTime(now + offset + absl::Microseconds(static_cast<int64_t>(rng() % 1000)));
    o.set_reason("random");
    return o;
  };

  int checks = 0;
  for (int step = 0; step < 4000; ++step) {
    // One commit opens, re-times or closes a few obligations of one record.
    const std::string force = kForces[rng() % 2];
    const std::string subject = absl::StrCat("S", rng() % 300);
    std::vector<v1::Obligation> before, after;
    for (int c = 0; c < 3; ++c) {
      const std::string id = absl::StrCat(subject, "/c", c);
      auto it = open.find(absl::StrCat(force, "|", id));
      if (it != open.end()) before.push_back(it->second);
      const uint64_t op = rng() % 3;
      if (op == 0 && it != open.end()) {
        after.push_back(it->second);  // unchanged
      } else if (op == 1) {
        after.push_back(random_obligation(id, force));  // opened or re-timed
      }                                                 // op 2: closed (or stays closed)
    }
    storage::Change change;
    v1::ObligationEventBatch events;
    ledger.Reconcile(before, after, now, change, events);
    change.AddEvent("test", events.SerializeAsString());
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
    for (const v1::Obligation& o : before) open.erase(force + "|" + o.id());
    for (const v1::Obligation& o : after) open[force + "|" + o.id()] = o;

    if (rng() % 7 == 0) now += absl::Hours(static_cast<int64_t>(rng() % 200));  // time moves
    if (step % 97 != 0) continue;

    // Compare a random scope at a random as_of.
    ++checks;
    const std::vector<v1::Obligation> truth = Scan();
    ASSERT_EQ(truth.size(), open.size());
    ASSERT_EQ(index.size(), open.size());
    OverdueIndex::Scope scope;
    scope.force = kForces[rng() % 2];
    if (rng() % 2) scope.team = kTeams[rng() % 3];
    if (rng() % 3 == 0) scope.officer = kOfficers[rng() % 4];
    if (rng() % 3 == 0)
      scope.kinds = {static_cast<v1::ObligationKind>(1 + rng() % 7),
                     v1::OBLIGATION_KIND_HOME_VISIT};
    if (rng() % 3 == 0) {
      scope.risks = {static_cast<v1::RiskLevel>(rng() % 5), v1::RISK_LEVEL_UNSPECIFIED};
    }
    if (rng() % 3 == 0) {
      scope.age_bands = {static_cast<v1::AgeBand>(1 + rng() % 6),
                         static_cast<v1::AgeBand>(1 + rng() % 6)};
    }
    auto in_bands = [&](v1::AgeBand band) {
      return scope.age_bands.empty() || std::find(scope.age_bands.begin(), scope.age_bands.end(),
                                                  band) != scope.age_bands.end();
    };
    const absl::Time as_of =
        now + absl::Hours(static_cast<int64_t>(rng() % 400)) - absl::Hours(200);
    int64_t expected[8][5][7] = {};
    int64_t expected_open = 0, expected_overdue = 0, soon7 = 0, soon28 = 0;
    std::optional<std::tuple<int64_t, std::string>> oldest;  // of every band
    std::vector<std::tuple<int64_t, std::string>> oldest_first;
    std::vector<std::tuple<int, int64_t, std::string>> risk_first;
    for (const v1::Obligation& o : truth) {
      if (!InScope(scope, o)) continue;
      ++expected_open;
      const absl::Time due = *FromProtoTime(o.due_time(), "");
      if (due >= as_of) {
        soon7 += due < as_of + absl::Hours(24 * 7);
        soon28 += due < as_of + absl::Hours(24 * 28);
        continue;
      }
      ++expected_overdue;
      ++expected[o.kind()][o.risk_level()][AgeBandOf(as_of - due)];
      const std::tuple<int64_t, std::string> at{storage::ToMicros(due), o.id()};
      if (!oldest.has_value() || at < *oldest) oldest = at;
      if (!in_bands(AgeBandOf(as_of - due))) continue;  // listings only
      oldest_first.emplace_back(storage::ToMicros(due), o.id());
      risk_first.emplace_back(RiskRank(o.risk_level()), storage::ToMicros(due), o.id());
    }
    const OverdueIndex::Summary summary = index.Summarize(scope, as_of);
    ASSERT_EQ(summary.total_open, expected_open) << "step " << step;
    ASSERT_EQ(summary.total_overdue, expected_overdue) << "step " << step;
    int64_t got7 = 0, got28 = 0;
    for (int k = 0; k < 8; ++k) {
      for (int r = 0; r < 5; ++r) {
        got7 += summary.due_within_7[k][r];
        got28 += summary.due_within_28[k][r];
        for (int b = 0; b < 7; ++b) {
          ASSERT_EQ(summary.counts[k][r][b], expected[k][r][b])
              << "kind " << k << " risk " << r << " band " << b << " at step " << step;
        }
      }
    }
    ASSERT_EQ(got7, soon7);
    ASSERT_EQ(got28, soon28);
    std::sort(oldest_first.begin(), oldest_first.end());
    std::sort(risk_first.begin(), risk_first.end());
    if (oldest.has_value()) {
      ASSERT_TRUE(summary.oldest.has_value());
      EXPECT_EQ(summary.oldest->id, std::get<1>(*oldest));
    }
    // Page through both orders with a small page size.
    for (v1::BacklogOrder order :
         {v1::BACKLOG_ORDER_OLDEST_FIRST, v1::BACKLOG_ORDER_RISK_THEN_AGE}) {
      std::vector<std::string> listed;
      OverdueIndex::Cursor cursor;
      for (;;) {
        bool more = false;
        const std::vector<OverdueIndex::Entry> page =
            index.List(scope, as_of, order, cursor, 7, &more);
        for (const auto& e : page) listed.push_back(e.id);
        if (!more) break;
        cursor = OverdueIndex::CursorAfter(page.back(), order);
      }
      std::vector<std::string> want;
      if (order == v1::BACKLOG_ORDER_OLDEST_FIRST) {
        for (const auto& t : oldest_first) want.push_back(std::get<1>(t));
      } else {
        for (const auto& t : risk_first) want.push_back(std::get<2>(t));
      }
      ASSERT_EQ(listed, want) << "order " << order << " at step " << step;
    }
  }
  EXPECT_GT(checks, 30);

  // A fresh index loaded from storage agrees with the one that followed the commits.
  OverdueIndex reloaded(storage::DeadlineSpace::kTesting);
  ASSERT_THAT(reloaded.Attach(*store_, "other"), IsOk());
  for (const char* force : kForces) {
    OverdueIndex::Scope scope;
    scope.force = force;
    EXPECT_EQ(reloaded.Summarize(scope, now).total_overdue,
              index.Summarize(scope, now).total_overdue);
    EXPECT_EQ(reloaded.Summarize(scope, now).total_open, index.Summarize(scope, now).total_open);
  }
}

// Every entry of a force, oldest first, as (due, id).
std::vector<std::pair<int64_t, std::string>> Everything(const OverdueIndex& index,
                                                        const std::string& force) {
  OverdueIndex::Scope scope;
  scope.force = force;
  bool more = false;
  std::vector<std::pair<int64_t, std::string>> all;
  for (const OverdueIndex::Entry& e : index.List(
           scope, absl::InfiniteFuture(), v1::BACKLOG_ORDER_OLDEST_FIRST, {}, 1 << 20, &more)) {
    all.emplace_back(e.due_micros, e.id);
  }
  return all;
}

// Attach loads the deadline index in bulk, read on another thread in batches of 1,024 with at
// most four waiting (5,000 entries make the reader wait). An index loaded so then follows
// re-timings, moves between cells and closings, and agrees entry by entry with one loaded
// again afterwards.
TEST_F(OverdueIndexTest, AnIndexLoadedInBulkFollowsLaterCommits) {
  const ObligationLedger ledger("testing", storage::DeadlineSpace::kTesting);
  const absl::Time now = absl::FromCivil(absl::CivilSecond(2026, 1, 1), absl::UTCTimeZone());
  std::mt19937_64 rng(7);
  auto obligation = [&](const std::string& force, int n) {
    v1::Obligation o;
    o.set_id(absl::StrCat("S", n, "/visit"));
    o.set_force(force);
    o.set_subject_id(absl::StrCat("S", n));
    o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
    o.set_risk_level(static_cast<v1::RiskLevel>(rng() % 5));
    o.set_team(kTeams[rng() % 3]);
    o.set_owner_officer(kOfficers[rng() % 4]);
    // Sixty days at midnight: many entries of a cell fall due at the same instant.
    *o.mutable_due_time() =
        ToProtoTime(now + absl::Hours(24) * static_cast<int64_t>(rng() % 60) - absl::Hours(720));
    o.set_reason("random");
    return o;
  };
  auto commit = [&](const std::vector<v1::Obligation>& before,
                    const std::vector<v1::Obligation>& after) {
    storage::Change change;
    v1::ObligationEventBatch events;
    ledger.Reconcile(before, after, now, change, events);
    change.AddEvent("test", events.SerializeAsString());
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  };
  std::map<std::pair<std::string, int>, v1::Obligation> open;
  for (const char* force : kForces) {
    for (int first = 0; first < 2500; first += 100) {
      std::vector<v1::Obligation> opened;
      for (int n = first; n < first + 100; ++n) {
        opened.push_back(obligation(force, n));
        open[{force, n}] = opened.back();
      }
      commit({}, opened);
    }
  }
  OverdueIndex loaded(storage::DeadlineSpace::kTesting);
  ASSERT_THAT(loaded.Attach(*store_, "test"), IsOk());
  ASSERT_EQ(loaded.size(), 5000u);
  // Re-time (often into another cell) or close a third of them, one commit each.
  for (auto& [key, o] : open) {
    if (rng() % 3 != 0) continue;
    if (rng() % 2 == 0) {
      commit({o}, {});
      o.clear_id();
    } else {
      const v1::Obligation retimed = obligation(key.first, key.second);
      commit({o}, {retimed});
      o = retimed;
    }
  }
  OverdueIndex reloaded(storage::DeadlineSpace::kTesting);
  ASSERT_THAT(reloaded.Attach(*store_, "other"), IsOk());
  for (const char* force : kForces) {
    std::vector<std::pair<int64_t, std::string>> want;
    for (const auto& [key, o] : open) {
      if (key.first != force || o.id().empty()) continue;
      want.emplace_back(storage::ToMicros(*FromProtoTime(o.due_time(), "")), o.id());
    }
    std::sort(want.begin(), want.end());
    ASSERT_GT(want.size(), 1000u);
    EXPECT_EQ(Everything(loaded, force), want) << force;
    EXPECT_EQ(Everything(reloaded, force), want) << force;
  }
  EXPECT_EQ(loaded.size(), reloaded.size());
}

// InsertAll (an index of a past instant) loads in bulk too: an id given twice keeps its later
// due time, as inserting one by one in due order would; later changes find the entry kept.
TEST(OverdueIndexLoad, AnIdGivenTwiceKeepsItsLaterDueTime) {
  OverdueIndex index(storage::DeadlineSpace::kTesting);
  auto obligation = [](const std::string& id, const std::string& officer, int64_t due_seconds) {
    v1::Obligation o;
    o.set_id(id);
    o.set_force("wessex");
    o.set_owner_officer(officer);
    o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
    *o.mutable_due_time() = ToProtoTime(absl::FromUnixSeconds(due_seconds));
    return o;
  };
  // DC 1's cell given out of order; "d" at 50 s alone in DC 3's cell, which goes with it.
  index.InsertAll({obligation("a", "DC 1", 500), obligation("b", "DC 1", 300),
                   obligation("d", "DC 3", 50), obligation("a", "DC 2", 100),
                   obligation("c", "DC 2", 200), obligation("d", "DC 1", 250)});
  EXPECT_EQ(index.size(), 4u);
  using Listed = std::vector<std::pair<int64_t, std::string>>;
  EXPECT_EQ(
      Everything(index, "wessex"),
      (Listed{{200'000'000, "c"}, {250'000'000, "d"}, {300'000'000, "b"}, {500'000'000, "a"}}));
  OverdueIndex::Scope dc3;
  dc3.force = "wessex";
  dc3.officer = "DC 3";
  EXPECT_EQ(index.Summarize(dc3, absl::FromUnixSeconds(1000)).total_open, 0);
  // The due times, sorted with their entries, count what is overdue at 400 s: d and b.
  OverdueIndex::Scope dc1;
  dc1.force = "wessex";
  dc1.officer = "DC 1";
  EXPECT_EQ(index.Summarize(dc1, absl::FromUnixSeconds(400)).total_overdue, 2);
  v1::ObligationEventBatch closed;
  closed.add_events()->set_type(v1::OBLIGATION_EVENT_TYPE_CLOSED);
  *closed.mutable_events(0)->mutable_obligation() = obligation("d", "DC 1", 250);
  index.Apply(closed);
  index.Insert(obligation("a", "DC 2", 400));  // moves "a" back to DC 2's cell
  EXPECT_EQ(index.Summarize(dc1, absl::FromUnixSeconds(1000)).total_open, 1);
  EXPECT_EQ(Everything(index, "wessex"),
            (Listed{{200'000'000, "c"}, {300'000'000, "b"}, {400'000'000, "a"}}));
  EXPECT_EQ(index.size(), 3u);
}

// A force-wide summary reads the force's roll-ups (one per kind and risk level), and a
// force-wide page the cells they point it to; a team's reads its cells. Through a bulk load
// and thousands of changes, with many obligations due at the same instant in different cells
// (so the oldest, and the order, are decided by id), the force's summary is its teams' summed
// and its pages are their listings merged, with and without filters.
TEST(OverdueIndexRollUps, AForceWideSummaryAndListingAreItsTeams) {
  OverdueIndex index(storage::DeadlineSpace::kTesting);
  std::mt19937_64 rng(7);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto random_obligation = [&](int n) {
    v1::Obligation o;
    o.set_id(absl::StrCat("o", n));
    o.set_force("wessex");
    o.set_team(kTeams[rng() % 3]);
    o.set_owner_officer(kOfficers[rng() % 4]);
    o.set_kind(static_cast<v1::ObligationKind>(1 + rng() % 7));
    o.set_risk_level(static_cast<v1::RiskLevel>(rng() % 5));
    // 40 instants ten days apart, from 380 days ago: every band, and many ties.
    *o.mutable_due_time() =
        ToProtoTime(now - absl::Hours(24) * 380 + absl::Hours(240) * (rng() % 40));
    return o;
  };
  std::vector<v1::Obligation> initial;
  initial.reserve(6000);
  for (int n = 0; n < 6000; ++n) initial.push_back(random_obligation(n));
  index.InsertAll(initial);

  auto check = [&](const OverdueIndex::Scope& filters) {
    OverdueIndex::Scope force = filters;
    force.force = "wessex";
    const OverdueIndex::Summary whole = index.Summarize(force, now);
    OverdueIndex::Summary summed;
    for (const char* team : kTeams) {
      OverdueIndex::Scope scope = force;
      scope.team = team;
      const OverdueIndex::Summary part = index.Summarize(scope, now);
      summed.total_open += part.total_open;
      summed.total_overdue += part.total_overdue;
      for (int k = 0; k < kObligationKindSlots; ++k) {
        for (int r = 0; r < 5; ++r) {
          summed.due_within_7[k][r] += part.due_within_7[k][r];
          summed.due_within_28[k][r] += part.due_within_28[k][r];
          for (int b = 0; b < 7; ++b) summed.counts[k][r][b] += part.counts[k][r][b];
        }
      }
      if (part.earliest_due_micros &&
          (!summed.earliest_due_micros || *part.earliest_due_micros < *summed.earliest_due_micros))
        summed.earliest_due_micros = part.earliest_due_micros;
      if (part.oldest.has_value() && (!summed.oldest.has_value() ||
                                      std::pair(part.oldest->due_micros, part.oldest->id) <
                                          std::pair(summed.oldest->due_micros, summed.oldest->id)))
        summed.oldest = part.oldest;
    }
    ASSERT_GT(whole.total_open, 0);
    ASSERT_EQ(whole.total_open, summed.total_open);
    ASSERT_EQ(whole.total_overdue, summed.total_overdue);
    ASSERT_EQ(whole.earliest_due_micros, summed.earliest_due_micros);
    ASSERT_EQ(whole.oldest.has_value(), summed.oldest.has_value());
    if (whole.oldest.has_value()) {
      ASSERT_EQ(whole.oldest->id, summed.oldest->id);
    }
    // Listed force-wide a page of 7 at a time (the roll-ups choose the cells each page
    // merges), as the teams' own listings merged: every entry once, in order.
    for (v1::BacklogOrder order :
         {v1::BACKLOG_ORDER_OLDEST_FIRST, v1::BACKLOG_ORDER_RISK_THEN_AGE}) {
      std::vector<std::tuple<int, int64_t, std::string>> want;
      for (const char* team : kTeams) {
        OverdueIndex::Scope scope = force;
        scope.team = team;
        bool more = false;
        for (const OverdueIndex::Entry& e : index.List(scope, now, order, {}, 1 << 20, &more)) {
          want.emplace_back(order == v1::BACKLOG_ORDER_OLDEST_FIRST ? 0 : RiskRank(e.risk),
                            e.due_micros, e.id);
        }
      }
      std::sort(want.begin(), want.end());
      std::vector<std::tuple<int, int64_t, std::string>> listed;
      OverdueIndex::Cursor cursor;
      for (bool more = true; more;) {
        const std::vector<OverdueIndex::Entry> page =
            index.List(force, now, order, cursor, 7, &more);
        for (const OverdueIndex::Entry& e : page) {
          listed.emplace_back(order == v1::BACKLOG_ORDER_OLDEST_FIRST ? 0 : RiskRank(e.risk),
                              e.due_micros, e.id);
        }
        if (more) cursor = OverdueIndex::CursorAfter(page.back(), order);
      }
      ASSERT_EQ(listed, want) << "order " << order;
    }
    for (int k = 0; k < kObligationKindSlots; ++k) {
      for (int r = 0; r < 5; ++r) {
        ASSERT_EQ(whole.due_within_7[k][r], summed.due_within_7[k][r]);
        ASSERT_EQ(whole.due_within_28[k][r], summed.due_within_28[k][r]);
        for (int b = 0; b < 7; ++b) ASSERT_EQ(whole.counts[k][r][b], summed.counts[k][r][b]);
      }
    }
  };
  OverdueIndex::Scope visits_of_the_riskiest;
  visits_of_the_riskiest.kinds = {v1::OBLIGATION_KIND_HOME_VISIT};
  visits_of_the_riskiest.risks = {v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_VERY_HIGH};
  check({});
  check(visits_of_the_riskiest);
  for (int step = 0; step < 6000; ++step) {
    const int n = static_cast<int>(rng() % 7000);
    if (rng() % 3 == 0) {
      v1::ObligationEventBatch closed;
      closed.add_events()->set_type(v1::OBLIGATION_EVENT_TYPE_CLOSED);
      *closed.mutable_events(0)->mutable_obligation() = random_obligation(n);
      index.Apply(closed);
    } else {
      index.Insert(random_obligation(n));  // opens, or moves and re-times
    }
    if (step % 500 == 0) {
      check({});
      check(visits_of_the_riskiest);
    }
  }
  check({});
  check(visits_of_the_riskiest);

  // A cursor in a rank no entry has lists nothing (the feed service refuses it first).
  OverdueIndex::Scope force;
  force.force = "wessex";
  for (int rank : {-1, 5}) {
    OverdueIndex::Cursor cursor{rank, 0, "o1"};
    bool more = true;
    EXPECT_THAT(index.List(force, now, v1::BACKLOG_ORDER_RISK_THEN_AGE, cursor, 7, &more),
                ::testing::IsEmpty());
    EXPECT_FALSE(more);
  }
}

// ParseIndexedFields reads what the index keeps of an obligation exactly as a whole parse
// does, into a message reused from another obligation, whatever else the bytes hold.
TEST(ParseIndexedFields, ReadsTheIndexedFieldsAsAWholeParseDoes) {
  std::mt19937_64 rng(7);
  auto text = [&](int max) {
    std::string s(rng() % (max + 1), 'x');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  };
  v1::Obligation reused;
  for (int i = 0; i < 2000; ++i) {
    v1::Obligation o;
    // Each field present or not (proto3 writes nothing for an empty one).
    if (rng() % 4 != 0) o.set_id(text(40));
    if (rng() % 4 != 0) o.set_kind(static_cast<v1::ObligationKind>(rng() % 9));
    if (rng() % 4 != 0) o.set_subject_id(text(20));
    if (rng() % 4 != 0) o.set_risk_level(static_cast<v1::RiskLevel>(rng() % 6));
    if (rng() % 4 != 0) {
      o.mutable_due_time()->set_seconds(static_cast<int64_t>(rng() % 8000000000) - 2000000000);
      o.mutable_due_time()->set_nanos(static_cast<int32_t>(rng() % 1000000000));
    }
    if (rng() % 4 != 0) o.set_owner_officer(text(20));
    if (rng() % 4 != 0) o.set_team(text(12));
    if (rng() % 4 != 0) o.set_force(text(12));
    o.set_policy_version(text(8));
    o.set_reason(text(200));
    *o.mutable_start_time() =
        ToProtoTime(absl::FromUnixSeconds(static_cast<int64_t>(rng() % 2000000000)));
    *o.mutable_since_time() = o.start_time();
    std::string bytes = o.SerializeAsString();
    // A field this build does not know: number 100, length-delimited, 3 bytes.
    const std::string unknown = std::string("\xa2\x06\x03", 3) + "abc";
    if (i % 3 == 0) bytes += unknown;
    ASSERT_TRUE(ParseIndexedFields(bytes, reused)) << i;
    v1::Obligation expected;
    expected.set_id(o.id());
    expected.set_kind(o.kind());
    expected.set_risk_level(o.risk_level());
    if (o.has_due_time()) *expected.mutable_due_time() = o.due_time();
    expected.set_owner_officer(o.owner_officer());
    expected.set_team(o.team());
    expected.set_force(o.force());
    EXPECT_EQ(reused.SerializeAsString(), expected.SerializeAsString()) << i;
  }
  // Malformed: cut short inside a string, inside the due time.
  v1::Obligation o;
  o.set_id("R1/home-visit");
  o.mutable_due_time()->set_seconds(1800000000);
  o.set_team("north");
  const std::string bytes = o.SerializeAsString();
  EXPECT_FALSE(ParseIndexedFields(bytes.substr(0, 5), reused));
  EXPECT_FALSE(ParseIndexedFields(bytes.substr(0, bytes.find("north") - 4), reused));
  // A field 1 sent as a varint: whatever a whole parse makes of it (an unknown field).
  EXPECT_TRUE(ParseIndexedFields(std::string("\x08\x01", 2), reused));
  EXPECT_EQ(reused.id(), "");
  EXPECT_TRUE(ParseIndexedFields("", reused));
  EXPECT_EQ(reused.SerializeAsString(), "");
}

TEST(AgeBands, FollowWholeDaysOverdue) {
  EXPECT_EQ(AgeBandOf(absl::Seconds(1)), v1::AGE_BAND_0_7_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 8) - absl::Seconds(1)), v1::AGE_BAND_0_7_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 8)), v1::AGE_BAND_8_30_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 31)), v1::AGE_BAND_31_90_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 91)), v1::AGE_BAND_91_180_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 181)), v1::AGE_BAND_181_365_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 366) - absl::Seconds(1)), v1::AGE_BAND_181_365_DAYS);
  EXPECT_EQ(AgeBandOf(absl::Hours(24 * 366)), v1::AGE_BAND_OVER_365_DAYS);
}

// SameObligation compares field by field (ledger.cc): every field of Obligation, including any
// added later, must make two obligations differ, and a copy must compare the same. Driven by
// the descriptor, so a new field that SameObligation forgets fails here.
TEST(SameObligation, ComparesEveryField) {
  v1::Obligation base;
  base.set_id("o1");
  base.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  *base.mutable_due_time() = ToProtoTime(absl::FromUnixSeconds(1000));
  EXPECT_TRUE(SameObligation(base, v1::Obligation(base)));
  const google::protobuf::Descriptor* descriptor = v1::Obligation::descriptor();
  const google::protobuf::Reflection* reflection = v1::Obligation::GetReflection();
  ASSERT_GT(descriptor->field_count(), 10);
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    v1::Obligation other = base;
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        reflection->SetString(&other, field, "changed");
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
        reflection->SetEnumValue(&other, field, reflection->GetEnumValue(base, field) + 1);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE: {
        // Set where unset (presence counts), and a later instant where set.
        auto* time =
            static_cast<google::protobuf::Timestamp*>(reflection->MutableMessage(&other, field));
        if (reflection->HasField(base, field)) time->set_nanos(time->nanos() + 1);
        break;
      }
      default:
        FAIL() << "Obligation." << field->name() << " has a type this test does not change: "
               << "teach SameObligation (ledger.cc) and this test about it";
    }
    EXPECT_FALSE(SameObligation(base, other)) << "Obligation." << field->name();
    EXPECT_FALSE(SameObligation(other, base)) << "Obligation." << field->name();
  }
}

}  // namespace
}  // namespace vigil
