// How an owning context (rso, ocait) keeps its open obligations in storage. For each open
// obligation, in the same Change as the state change that opened, moved or closed it:
//
//   deadlines  space | due | kind | lp(force) id  -> the Obligation (serialized)
//
// and, for every version of every obligation that has ended (the point-in-time backlog):
//
//   index      ctx "/hist/" lp(force) end:int64-ordered begin:int64-ordered lp(id)
//                -> the Obligation version (serialized)
//
// the interval [begin, end) in microseconds during which that version was the obligation's
// state: begin is its since_time (SinceOf), end is the commit that re-timed or closed it. A
// re-time ends the old version's interval and begins the new one's at the same instant; an
// empty interval (re-timed again in the same microsecond) is not kept. The version open now is
// its deadline entry, open since its since_time: the versions open at T are those ended after
// T (a seek, then a scan of what ended since T) and those open now, that began at or before T.
//
// where ctx is the owning context ("rso", "ocait"): no context reads another's keys. Plus an
// ObligationEventBatch describing the transitions, for the context's feed. Obligation ids are
// unique within a force. Backlog pages, workloads and visit plans (by force, team or officer)
// come from the deadline index itself, held in memory by OverdueIndex.
//
// Layout history: schema 1 wrote the index and counters without the context prefix, and a
// force-wide "due/f/" index nothing read; MigrateLedgerToV2 moves a schema-1 store over.
// Schema 3 adds the history; MigrateHistoryToV3 writes the open interval of every obligation
// open at the upgrade. Schemas 2-4 also kept due indexes by team and by officer (ctx "/due/t/",
// ctx "/due/o/"), read only by the visit plan; schema 5 drops them (DropDueIndexes). Schemas
// 3-5 kept each open version in the history too (end INT64_MAX), a copy of its deadline entry
// that every open, re-time and close rewrote: schema 6 drops those (DropOpenIntervals). Schemas
// 1-6 also kept a counter of open obligations per force, team, officer, kind and risk (ctx
// "/open/"), which nothing has read since the backlog counts from memory: schema 7 drops them
// (DropOpenCounters).
#ifndef VIGIL_SERVICES_OBLIGATIONS_LEDGER_H_
#define VIGIL_SERVICES_OBLIGATIONS_LEDGER_H_

#include <bitset>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/change.h"
#include "storage/key_codec.h"
#include "storage/store.h"
#include "vigil/v1/common.pb.h"
#include "vigil/v1/obligations.pb.h"

namespace vigil {

// The owner_officer of work nobody owns yet (a referral waiting for allocation): its alerts
// start at the team's sergeant, and workload counts it as a queue, not as an officer.
inline constexpr absl::string_view kUnallocatedOwner = "(unallocated)";

class ObligationLedger {
 public:
  // `context` ("rso") prefixes the context's keys; `space` is its partition of the deadline
  // index.
  ObligationLedger(absl::string_view context, storage::DeadlineSpace space)
      : context_(context), space_(space) {}

  // Adds to `change` everything that turns the open set `before` into `after` (both keyed by
  // obligation id, all of one force), and appends the transitions to `events`. Obligations
  // equal in both are untouched; the history interval of a version re-timed or closed ends at
  // `event_time`, and each new version's begins at its since_time (StampSince sets it). Returns
  // the number of transitions.
  int Reconcile(const std::vector<v1::Obligation>& before, const std::vector<v1::Obligation>& after,
                absl::Time event_time, storage::Change& change,
                v1::ObligationEventBatch& events) const;

  // The deadline index entry of `obligation`.
  storage::Deadline DeadlineOf(const v1::Obligation& obligation) const;

  // The history of `force` (see the file comment), and one interval's key.
  std::string HistoryPrefix(absl::string_view force) const;
  std::string HistoryKey(absl::string_view force, int64_t end_micros, int64_t begin_micros,
                         absl::string_view id) const;

  // What the history of one force says of an instant.
  struct PointInTime {
    // The version of each obligation that was open at the instant: the one whose interval
    // holds it (when a clock re-opened with a backdated start overlaps its own earlier
    // interval, the later-begun version).
    std::vector<v1::Obligation> open;
    // Set when the instant is before any history of the force: the earliest begin there is.
    std::optional<absl::Time> history_begins;
    // Intervals read (open now, or closed after the instant), for the cost the docs state.
    int64_t scanned = 0;
  };
  // The obligations of `force` open at `as_of` in `view`. O(open now in the context + closed
  // since as_of): one seek, then every interval that ends after as_of, then the deadline index
  // (each of the force's entries parsed). DataLoss when an entry is unreadable.
  absl::StatusOr<PointInTime> OpenAt(const storage::ReadView& view, absl::string_view force,
                                     absl::Time as_of) const;

  const std::string& context() const { return context_; }
  storage::DeadlineSpace space() const { return space_; }

 private:
  void Open(const v1::Obligation& obligation, storage::Change& change) const;
  // `keep_deadline`: its deadline entry stays, for an Open of the same key to overwrite (a
  // re-timed obligation whose due time did not move).
  void Close(const v1::Obligation& obligation, absl::Time event_time, storage::Change& change,
             bool keep_deadline = false) const;

  std::string context_;
  storage::DeadlineSpace space_;
};

// Moves a schema-1 store's ledger keys to the layout above, for the owning contexts `owners`
// (context name and deadline space each): deletes its unprefixed due indexes in commits of a
// few thousand obligations (schemas 2-4 rewrote them under the context's prefix; schema 5 keeps
// none; idempotent: a crash part-way is finished by the next run), then moves every counter in
// one commit. Returns the obligations moved. Run by Store::Open (StoreOptions::
// migrations) before anything reads the ledger.
struct LedgerOwner {
  std::string context;
  storage::DeadlineSpace space;
};
absl::StatusOr<int64_t> MigrateLedgerToV2(storage::Store& store,
                                          const std::vector<LedgerOwner>& owners);
// Every owning context vigil has (rso, ocait): the owners each ledger migration runs for.
std::vector<LedgerOwner> LedgerOwners();
// The migration of every owning context vigil has, for StoreOptions::migrations.
storage::Migration LedgerMigration();

// Writes the history interval of every obligation open in a schema-2 store (from SinceOf(o) to
// INT64_MAX), for the owning contexts `owners`, in commits of a few thousand. Idempotent: each
// key and value follows from the obligation alone, so a run after a crash part-way rewrites the
// same entries. Returns the obligations given a history. Run by Store::Open before anything
// reads the ledger.
absl::StatusOr<int64_t> MigrateHistoryToV3(storage::Store& store,
                                           const std::vector<LedgerOwner>& owners);
// The schema-3 migration of every owning context vigil has, for StoreOptions::migrations.
storage::Migration HistoryMigration();

// Deletes schema 2-4's due indexes by team and by officer (ctx "/due/t/", ctx "/due/o/") of the
// owning contexts `owners`, in commits of a few thousand keys. Idempotent. Returns the keys
// deleted. The visit plan reads the in-memory OverdueIndex instead, and each re-timed
// obligation writes four keys fewer.
absl::StatusOr<int64_t> DropDueIndexes(storage::Store& store,
                                       const std::vector<LedgerOwner>& owners);
// The schema-5 migration of every owning context vigil has, for StoreOptions::migrations.
storage::Migration DueIndexMigration();
// Deletes schema 3-5's history entry of each open obligation (its open interval: end INT64_MAX)
// of the owning contexts `owners`, in commits of a few thousand. Idempotent. Returns the open
// obligations whose entry was deleted. OpenAt reads the open versions from the deadline index,
// and each open, re-time or close writes two history keys fewer.
absl::StatusOr<int64_t> DropOpenIntervals(storage::Store& store,
                                          const std::vector<LedgerOwner>& owners);
// The schema-6 migration of every owning context vigil has, for StoreOptions::migrations.
storage::Migration OpenIntervalMigration();
// Deletes schema 1-6's counters of open obligations (ctx "/open/") of the owning contexts
// `owners`, in one commit. Idempotent. Returns the counters deleted. The backlog's counts come
// from the in-memory deadline index (OverdueIndex); each open, re-time and close wrote one or
// two counters.
absl::StatusOr<int64_t> DropOpenCounters(storage::Store& store,
                                         const std::vector<LedgerOwner>& owners);
// The schema-7 migration of every owning context vigil has, for StoreOptions::migrations.
storage::Migration OpenCounterMigration();
// Every migration of the obligation ledger, oldest first: what vigild opens its store with.
std::vector<storage::Migration> LedgerMigrations();

// When the version `obligation` took effect: its since_time; for a version written before
// vigil recorded since_time, its start_time; failing both, InfinitePast (it has been open, as
// it is, as far back as anyone asks).
absl::Time SinceOf(const v1::Obligation& obligation);

// Sets since_time on each obligation of `after` (the open set after an edit at `now`): a
// version equal to the one in `before` apart from since_time keeps the old since_time (unset
// stays unset); any other gets `now`, except that a clock of a new record (`new_record`) whose
// start_time is earlier begins then, so records imported with their past have one.
void StampSince(const google::protobuf::RepeatedPtrField<v1::Obligation>& before,
                google::protobuf::RepeatedPtrField<v1::Obligation>& after, absl::Time now,
                bool new_record);

// True when two obligations differ in anything the ledger stores.
bool SameObligation(const v1::Obligation& a, const v1::Obligation& b);

// A clock that applies to a record now, as derived from its facts and the current policy.
struct ClockCandidate {
  int clock = 0;  // the context's clock number (its bit in ClockBits)
  std::string id;
  v1::ObligationKind kind = v1::OBLIGATION_KIND_UNSPECIFIED;
  absl::Time due;
  std::string reason;
  std::string policy_version;
  absl::Time start = absl::InfinitePast();  // when its interval began (InfinitePast: unknown)
};

// What every obligation of one record shares.
struct ObligationHeader {
  std::string subject_id;
  v1::RiskLevel risk_level = v1::RISK_LEVEL_UNSPECIFIED;
  std::string owner_officer;
  std::string team;
  std::string force;
};

// The open obligations after an edit: each applicable clock keeps its existing due time, reason
// and policy version unless its bit is in `retime` or it was not open before (a policy change
// never moves a due date silently); all take `header`. Clocks not applicable close. Sets in
// `*derived` (if given) the bits of clocks derived afresh.
std::vector<v1::Obligation> MergeClocks(
    const google::protobuf::RepeatedPtrField<v1::Obligation>& open,
    const std::vector<ClockCandidate>& applicable, std::bitset<16> retime,
    const ObligationHeader& header, std::bitset<16>* derived = nullptr);

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_LEDGER_H_
