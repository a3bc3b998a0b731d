// An in-memory view of one context's open obligations, ordered by due time within each cell
// (force x team x officer x kind x risk), so that overdue counts by age band, oldest-first and
// riskiest-first pages, and workloads are answered without scanning storage.
//
// It is loaded from the deadline index at start-up and then kept current by the store's commit
// listener, which sees every commit's obligation events in commit order: it is exactly the
// deadline index as of the latest commit. Memory: about 110 bytes per open obligation (its
// entry, its location by id, and its due time again in its force's roll-up).
// Thread-safe: queries share a lock; commits take it briefly.
#ifndef VIGIL_SERVICES_OBLIGATIONS_OVERDUE_INDEX_H_
#define VIGIL_SERVICES_OBLIGATIONS_OVERDUE_INDEX_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/obligations/chunked_entries.h"
#include "services/obligations/ranked_dues.h"
#include "storage/store.h"
#include "vigil/v1/obligations.pb.h"

namespace vigil {

// Slots of arrays indexed by ObligationKind (UNSPECIFIED included): every kind there is.
inline constexpr int kObligationKindSlots = v1::ObligationKind_ARRAYSIZE;

// Whole days overdue: floor(overdue / 24h).
int32_t DaysOverdue(absl::Duration overdue);

// Parses into `obligation` (cleared first) only the fields the index keeps of a serialized
// Obligation: id, kind, risk level, due time, owner officer, team and force; every other field
// is skipped unread. Loading a million at start-up, whole parses were the critical path. A
// known field of an unexpected wire type falls back to a whole parse. False when malformed.
bool ParseIndexedFields(absl::string_view bytes, v1::Obligation& obligation);

// The age band of an obligation overdue by `overdue` (> 0), by DaysOverdue.
v1::AgeBand AgeBandOf(absl::Duration overdue);

// The order of risk in RISK_THEN_AGE listings: very high first (0), "not assessed" last.
int RiskRank(v1::RiskLevel risk);

// Overdue counts by kind, risk and age band, and due-soon counts by kind and risk, added up over
// several parts (owning contexts, shards) and written out in key order, without zero rows.
class BacklogTally {
 public:
  void Add(const google::protobuf::RepeatedPtrField<v1::BacklogRow>& rows,
           const google::protobuf::RepeatedPtrField<v1::DueSoonRow>& due_soon);
  void WriteTo(google::protobuf::RepeatedPtrField<v1::BacklogRow>& rows,
               google::protobuf::RepeatedPtrField<v1::DueSoonRow>& due_soon) const;

 private:
  std::map<std::tuple<int, int, int>, int64_t> rows_;                // kind, risk, band
  std::map<std::pair<int, int>, std::pair<int64_t, int64_t>> soon_;  // kind, risk: 7, 28 days
};

class OverdueIndex {
 public:
  // What to look at: a force, optionally one team and/or one officer, optionally some kinds and
  // risk levels; listings optionally only some age bands.
  struct Scope {
    std::string force;
    std::string team;
    std::string officer;
    std::vector<v1::ObligationKind> kinds;  // empty: all
    std::vector<v1::RiskLevel> risks;       // empty: all; UNSPECIFIED: not assessed
    // List only (empty: all): overdue by one of these bands at as_of, by AgeBandOf. Summarize
    // and Workload count every band.
    std::vector<v1::AgeBand> age_bands;
  };

  // One open obligation as the index holds it.
  struct Entry {
    int64_t due_micros = 0;
    std::string id;
    v1::ObligationKind kind = v1::OBLIGATION_KIND_UNSPECIFIED;
    v1::RiskLevel risk = v1::RISK_LEVEL_UNSPECIFIED;
  };

  // A position in a listing: after this entry (empty = from the start).
  struct Cursor {
    int rank = 0;  // risk rank for RISK_THEN_AGE; 0 for oldest-first
    int64_t due_micros = 0;
    std::string id;
    bool empty() const { return id.empty(); }
  };

  explicit OverdueIndex(storage::DeadlineSpace space) : space_(space) {}

  // Loads every open obligation of the space from `store` and follows `feed_context`'s commits
  // from then on. Call once, before the store takes writes for the context.
  absl::Status Attach(storage::Store& store, std::string feed_context);

  // Applies one commit's obligation events (used by the commit listener, and by tests).
  void Apply(const v1::ObligationEventBatch& batch);

  // Adds (or replaces) one open obligation: for an index built from another source than the
  // store's commits, such as the obligations open at a past instant.
  void Insert(const v1::Obligation& obligation);
  // Adds many obligations at once (each id once per force, none already held): O(n log n),
  // where n Inserts cost O(n x cell size).
  void InsertAll(const std::vector<v1::Obligation>& obligations);

  struct Summary {
    // [kind][risk][band] counts of overdue obligations.
    int64_t counts[kObligationKindSlots][5][7] = {};
    int64_t total_open = 0;
    int64_t total_overdue = 0;
    std::optional<Entry> oldest;
    // The earliest due time of any open obligation in scope.
    std::optional<int64_t> earliest_due_micros;
    int64_t due_within_7[kObligationKindSlots][5] = {};
    int64_t due_within_28[kObligationKindSlots][5] = {};
  };
  Summary Summarize(const Scope& scope, absl::Time as_of) const;

  // Up to `limit` overdue entries in scope (and in its age bands) after `cursor`, oldest first
  // or riskiest first; `more` says whether any remain. Each page costs O(cells in scope + page
  // size x log cells), however many entries the filters leave out; without a team or officer,
  // the cells holding the page's entries instead of those in scope.
  std::vector<Entry> List(const Scope& scope, absl::Time as_of, v1::BacklogOrder order,
                          const Cursor& cursor, size_t limit, bool* more) const;
  static Cursor CursorAfter(const Entry& entry, v1::BacklogOrder order);

  struct OfficerCounts {
    std::string officer;
    std::string team;
    int64_t open[kObligationKindSlots][5] = {};
    int64_t overdue[kObligationKindSlots][5] = {};
  };
  std::vector<OfficerCounts> Workload(const Scope& scope, absl::Time as_of) const;

  // The earliest due time among every open obligation of every force, or nullopt.
  std::optional<absl::Time> EarliestDue() const;
  std::vector<std::string> Forces() const;
  size_t size() const;

  storage::DeadlineSpace space() const { return space_; }

  // The deadline index key of an entry of `force`, to read the obligation itself.
  std::string DeadlineKey(absl::string_view force, const Entry& entry) const;

 private:
  struct Cell {
    std::string team;
    std::string officer;
    v1::ObligationKind kind;
    v1::RiskLevel risk;
    ChunkedEntries<Entry> entries;  // by (due, id)
  };
  // Where an obligation's entry is: its cell, and its due time, which with its id finds the
  // entry by binary search.
  struct Location {
    Cell* cell = nullptr;
    int64_t due_micros = 0;
  };
  struct Force {
    absl::node_hash_map<std::string, Cell> cells;      // by CellKey; a cell never moves
    absl::flat_hash_map<std::string, Location> where;  // by obligation id
    // Every entry's due time again, with its cell, by [kind][risk] slot across teams and
    // officers: what a force-wide summary counts and a force-wide page starts from (RollUp:
    // KindIndex, RiskIndex of the cell).
    RankedDues<const Cell*> roll_ups[kObligationKindSlots][5];
    RankedDues<const Cell*>& RollUp(const Cell& cell);
  };

  static std::string CellKey(absl::string_view team, absl::string_view officer, int kind, int risk);
  static bool InScope(const Scope& scope, const Cell& cell);
  // No team and no officer: what the force's roll-ups answer.
  static bool ForceWide(const Scope& scope) { return scope.team.empty() && scope.officer.empty(); }
  // The cells that hold the first `need` entries of a force-wide listing (none filtered by
  // team or officer) due in `windows`, of risk rank `rank` (none: any), at or after `after_due`
  // (the cursor's; none: from the start), and any more due at the same instant as the last of
  // them: found from the force's roll-ups instead of by searching every cell.
  static std::vector<const Cell*> CellsAhead(
      const Force& force, const Scope& scope, std::optional<int> rank,
      const std::vector<std::pair<int64_t, int64_t>>& windows, std::optional<int64_t> after_due,
      size_t need);
  void InsertLocked(const v1::Obligation& obligation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(absl::string_view force, absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loading an empty index in bulk: AppendLocked adds entries to their cells only, in any
  // order; FinishLoadLocked then sorts the cells and records every entry's location by id.
  void AppendLocked(const v1::Obligation& obligation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the entry `at` and `id` name from its (ordered) cell, and the cell if that was its
  // last entry.
  void EraseEntryLocked(Force& force, const Location& at, absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const storage::DeadlineSpace space_;
  mutable absl::Mutex mu_;  // readers share it
  absl::flat_hash_map<std::string, Force> forces_ ABSL_GUARDED_BY(mu_);
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_OVERDUE_INDEX_H_
