#include "services/obligations/ledger.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"

namespace vigil {
namespace {

absl::Time DueOf(const v1::Obligation& obligation) { return TimeOf(obligation.due_time()); }

std::string DueSuffix(const v1::Obligation& obligation) {
  std::string suffix;
  storage::PutOrderedInt64(&suffix, storage::ToMicros(DueOf(obligation)));
  suffix.push_back(static_cast<char>(obligation.kind()));
  storage::PutLengthPrefixed(&suffix, obligation.id());
  return suffix;
}

void AddEvent(v1::ObligationEventBatch& events, v1::ObligationEventType type,
              const v1::Obligation& obligation, absl::Time event_time,
              const v1::Obligation* previous = nullptr) {
  v1::ObligationEvent* event = events.add_events();
  event->set_type(type);
  *event->mutable_obligation() = obligation;
  *event->mutable_event_time() = ToProtoTime(event_time);
  if (previous != nullptr) *event->mutable_previous() = *previous;
}

}  // namespace

namespace {

// Both unset, or both set to the same instant (presence counts, as for MessageDifferencer).
bool SameTime(bool a_set, const google::protobuf::Timestamp& a, bool b_set,
              const google::protobuf::Timestamp& b) {
  return a_set == b_set && a.seconds() == b.seconds() && a.nanos() == b.nanos();
}

}  // namespace

// Field by field: this runs for every clock of every change, and reflection
// (MessageDifferencer) cost 7% of vigild's CPU under RecordVisit load. A test
// (SameObligation.ComparesEveryField, overdue_index_test.cc) fails when a field is added to
// Obligation and not here.
bool SameObligation(const v1::Obligation& a, const v1::Obligation& b) {
  return a.kind() == b.kind() && a.risk_level() == b.risk_level() &&
         SameTime(a.has_due_time(), a.due_time(), b.has_due_time(), b.due_time()) &&
         SameTime(a.has_start_time(), a.start_time(), b.has_start_time(), b.start_time()) &&
         SameTime(a.has_since_time(), a.since_time(), b.has_since_time(), b.since_time()) &&
         a.id() == b.id() && a.subject_id() == b.subject_id() &&
         a.owner_officer() == b.owner_officer() && a.team() == b.team() && a.force() == b.force() &&
         a.policy_version() == b.policy_version() && a.reason() == b.reason();
}

storage::Deadline ObligationLedger::DeadlineOf(const v1::Obligation& obligation) const {
  return storage::Deadline{
      space_, DueOf(obligation), static_cast<uint8_t>(obligation.kind()),
      absl::StrCat(storage::LengthPrefixed(obligation.force()), obligation.id())};
}

std::string ObligationLedger::HistoryPrefix(absl::string_view force) const {
  return absl::StrCat(context_, "/hist/", storage::LengthPrefixed(force));
}

std::string ObligationLedger::HistoryKey(absl::string_view force, int64_t end_micros,
                                         int64_t begin_micros, absl::string_view id) const {
  std::string key = HistoryPrefix(force);
  storage::PutOrderedInt64(&key, end_micros);
  storage::PutOrderedInt64(&key, begin_micros);
  storage::PutLengthPrefixed(&key, id);
  return key;
}

absl::StatusOr<ObligationLedger::PointInTime> ObligationLedger::OpenAt(
    const storage::ReadView& view, absl::string_view force, absl::Time as_of) const {
  const int64_t at = storage::ToMicros(as_of);
  const std::string prefix = HistoryPrefix(force);
  PointInTime result;
  // Whether anything ended at or before `at`: then the history reaches back past it.
  bool earlier = false;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      storage::Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
        earlier = key.size() >= prefix.size() + 8 &&
                  storage::DecodeOrderedInt64(key.data() + prefix.size()) <= at;
        return false;
      }));
  std::string start = prefix;
  storage::PutOrderedInt64(&start, at == std::numeric_limits<int64_t>::max() ? at : at + 1);
  absl::flat_hash_map<std::string, std::pair<int64_t, v1::Obligation>> by_id;  // begin, version
  std::optional<int64_t> first_begin;
  // Where a version of obligation `id` begun at `begin` goes: the slot to fill when it is the
  // latest begun at or before `at` so far, else null.
  auto slot = [&](absl::string_view id, int64_t begin) -> v1::Obligation* {
    if (!first_begin || begin < *first_begin) first_begin = begin;
    if (begin > at) return nullptr;
    auto [it, inserted] = by_id.try_emplace(std::string(id));
    if (!inserted && it->second.first >= begin) return nullptr;
    it->second.first = begin;
    return &it->second.second;
  };
  absl::Status malformed;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      storage::Family::kIndex, prefix, start, [&](absl::string_view key, absl::string_view value) {
        ++result.scanned;
        absl::string_view rest = key.substr(prefix.size());
        absl::string_view id;
        if (rest.size() < 16) {
          malformed = absl::DataLossError("an obligation history key is malformed");
          return false;
        }
        const int64_t begin = storage::DecodeOrderedInt64(rest.data() + 8);
        rest.remove_prefix(16);
        if (!storage::GetLengthPrefixed(&rest, &id) || !rest.empty()) {
          malformed = absl::DataLossError("an obligation history key is malformed");
          return false;
        }
        v1::Obligation* version = slot(id, begin);
        if (version != nullptr &&
            !version->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          malformed = absl::DataLossError("an obligation version in the history is unreadable");
          return false;
        }
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(malformed);
  // The versions open now are the deadline index's values, each open since its since_time.
  const std::string of_force = storage::LengthPrefixed(force);
  VIGIL_RETURN_IF_ERROR(view.ScanDeadlines(
      space_, absl::InfinitePast(), absl::InfiniteFuture(),
      [&](const storage::Deadline& deadline, absl::string_view value) {
        if (!absl::StartsWith(deadline.id, of_force)) return true;
        ++result.scanned;
        v1::Obligation version;
        if (!version.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          malformed = absl::DataLossError("an open obligation in the deadline index is unreadable");
          return false;
        }
        if (v1::Obligation* kept = slot(version.id(), storage::ToMicros(SinceOf(version)))) {
          *kept = std::move(version);
        }
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(malformed);
  if (!earlier && first_begin.has_value() && *first_begin > at) {
    result.history_begins = storage::FromMicros(*first_begin);
  }
  result.open.reserve(by_id.size());
  for (auto& [id, version] : by_id) result.open.push_back(std::move(version.second));
  return result;
}

absl::Time SinceOf(const v1::Obligation& o) {
  if (o.has_since_time()) return TimeOf(o.since_time());
  if (o.has_start_time()) return TimeOf(o.start_time());
  return absl::InfinitePast();
}

void StampSince(const google::protobuf::RepeatedPtrField<v1::Obligation>& before,
                google::protobuf::RepeatedPtrField<v1::Obligation>& after, absl::Time now,
                bool new_record) {
  for (v1::Obligation& o : after) {
    const v1::Obligation* old = nullptr;
    for (const v1::Obligation& b : before) {
      if (b.id() == o.id()) old = &b;
    }
    if (old != nullptr) {
      v1::Obligation same = o;
      if (old->has_since_time()) {
        *same.mutable_since_time() = old->since_time();
      } else {
        same.clear_since_time();
      }
      if (SameObligation(same, *old)) {
        o = std::move(same);
        continue;
      }
    }
    absl::Time since = now;
    if (old == nullptr && new_record && o.has_start_time() && TimeOf(o.start_time()) < now) {
      since = TimeOf(o.start_time());
    }
    *o.mutable_since_time() = ToProtoTime(since);
  }
}

void ObligationLedger::Open(const v1::Obligation& o, storage::Change& change) const {
  change.AddDeadline(DeadlineOf(o), o.SerializeAsString());
}

void ObligationLedger::Close(const v1::Obligation& o, absl::Time event_time,
                             storage::Change& change, bool keep_deadline) const {
  if (!keep_deadline) change.RemoveDeadline(DeadlineOf(o));
  const int64_t begin = storage::ToMicros(SinceOf(o));
  const int64_t end = storage::ToMicros(event_time);
  if (end > begin) {
    change.Put(storage::Family::kIndex, HistoryKey(o.force(), end, begin, o.id()),
               o.SerializeAsString());
  }
}

std::vector<v1::Obligation> MergeClocks(
    const google::protobuf::RepeatedPtrField<v1::Obligation>& open,
    const std::vector<ClockCandidate>& applicable, std::bitset<16> retime,
    const ObligationHeader& header, std::bitset<16>* derived) {
  std::vector<v1::Obligation> result;
  for (const ClockCandidate& candidate : applicable) {
    const v1::Obligation* existing = nullptr;
    for (const v1::Obligation& o : open) {
      if (o.id() == candidate.id) existing = &o;
    }
    v1::Obligation obligation;
    if (existing != nullptr && !retime.test(candidate.clock)) {
      obligation = *existing;
    } else {
      obligation.set_id(candidate.id);
      obligation.set_kind(candidate.kind);
      *obligation.mutable_due_time() = ToProtoTime(candidate.due);
      obligation.set_policy_version(candidate.policy_version);
      obligation.set_reason(candidate.reason);
      if (candidate.start != absl::InfinitePast()) {
        *obligation.mutable_start_time() = ToProtoTime(candidate.start);
      }
      if (derived != nullptr) derived->set(candidate.clock);
    }
    obligation.set_subject_id(header.subject_id);
    obligation.set_risk_level(header.risk_level);
    obligation.set_owner_officer(header.owner_officer);
    obligation.set_team(header.team);
    obligation.set_force(header.force);
    result.push_back(std::move(obligation));
  }
  return result;
}

int ObligationLedger::Reconcile(const std::vector<v1::Obligation>& before,
                                const std::vector<v1::Obligation>& after, absl::Time event_time,
                                storage::Change& change, v1::ObligationEventBatch& events) const {
  absl::flat_hash_map<std::string, const v1::Obligation*> old_by_id;
  for (const v1::Obligation& o : before) old_by_id[o.id()] = &o;
  int transitions = 0;
  for (const v1::Obligation& o : after) {
    auto it = old_by_id.find(o.id());
    if (it == old_by_id.end()) {
      Open(o, change);
      AddEvent(events, v1::OBLIGATION_EVENT_TYPE_OPENED, o, event_time);
      ++transitions;
      continue;
    }
    const v1::Obligation& old = *it->second;
    old_by_id.erase(it);
    if (SameObligation(old, o)) continue;
    // An entry whose key did not move is overwritten by Open's put (its value, the
    // obligation, changed): a delete as well would be one more key for every commit to write
    // and every read to step over until compaction drops it. (Deletes precede puts within a
    // change, so an entry would survive either way.)
    Close(old, event_time, change, /*keep_deadline=*/DeadlineOf(old) == DeadlineOf(o));
    Open(o, change);
    AddEvent(events, v1::OBLIGATION_EVENT_TYPE_RETIMED, o, event_time, &old);
    ++transitions;
  }
  for (const v1::Obligation& o : before) {
    if (!old_by_id.contains(o.id())) continue;
    Close(o, event_time, change);
    AddEvent(events, v1::OBLIGATION_EVENT_TYPE_CLOSED, o, event_time);
    ++transitions;
  }
  return transitions;
}

namespace {

// Schema 1's index keys of an obligation, for the migration only: force-wide, by team, by
// officer.
std::vector<std::string> V1DueKeys(const v1::Obligation& o, absl::string_view suffix) {
  const std::string force = storage::LengthPrefixed(o.force());
  return {absl::StrCat("due/f/", force, suffix),
          absl::StrCat("due/t/", force, storage::LengthPrefixed(o.team()), suffix),
          absl::StrCat("due/o/", force, storage::LengthPrefixed(o.owner_officer()), suffix)};
}

// The context that owns obligations of `kind` (schema 1 counters did not say).
const LedgerOwner* OwnerOfKind(const std::vector<LedgerOwner>& owners, uint8_t kind) {
  const bool offender =
      kind == v1::OBLIGATION_KIND_ARMS_ASSESSMENT || kind == v1::OBLIGATION_KIND_RMP_REVIEW ||
      kind == v1::OBLIGATION_KIND_HOME_VISIT || kind == v1::OBLIGATION_KIND_NOTIFICATION ||
      kind == v1::OBLIGATION_KIND_RMP_SIGN_OFF || kind == v1::OBLIGATION_KIND_NOTIFICATION_REVIEW;
  for (const LedgerOwner& owner : owners) {
    if ((owner.space == storage::DeadlineSpace::kRso) == offender) return &owner;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<int64_t> MigrateLedgerToV2(storage::Store& store,
                                          const std::vector<LedgerOwner>& owners) {
  constexpr int kPerCommit = 2000;
  int64_t moved = 0;
  for (const LedgerOwner& owner : owners) {
    // Every open obligation of the context is in its deadline space, with itself as the value.
    std::vector<v1::Obligation> open;
    absl::Status parse;
    VIGIL_RETURN_IF_ERROR(store.Snapshot().ScanDeadlines(
        owner.space, absl::InfinitePast(), absl::InfiniteFuture(),
        [&](const storage::Deadline&, absl::string_view value) {
          if (!open.emplace_back().ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            parse = absl::DataLossError("an obligation in the deadline index is unreadable");
            return false;
          }
          return true;
        }));
    VIGIL_RETURN_IF_ERROR(parse);
    for (size_t start = 0; start < open.size(); start += kPerCommit) {
      storage::Change change;
      for (size_t i = start; i < std::min(open.size(), start + kPerCommit); ++i) {
        const v1::Obligation& o = open[i];
        const std::string suffix = DueSuffix(o);
        // Schema 2 to 4 also indexed it by team and by officer under the context's prefix;
        // schema 5 dropped those, so the move only deletes.
        for (std::string& old : V1DueKeys(o, suffix)) {
          change.Delete(storage::Family::kIndex, std::move(old));
        }
      }
      VIGIL_RETURN_IF_ERROR(store.Commit(change).status());
    }
    moved += static_cast<int64_t>(open.size());
  }
  // The counters move in one commit: all or none, so a second run moves nothing twice.
  storage::Change counters;
  absl::Status unknown;
  VIGIL_RETURN_IF_ERROR(
      store.Snapshot().ScanCounters("open/", [&](absl::string_view name, int64_t value) {
        const LedgerOwner* owner =
            name.size() >= 2 ? OwnerOfKind(owners, static_cast<uint8_t>(name[name.size() - 2]))
                             : nullptr;
        if (owner == nullptr) {
          unknown = absl::DataLossError("an open-obligation counter names no known kind");
          return false;
        }
        counters.AddToCounter(name, -value);
        counters.AddToCounter(absl::StrCat(owner->context, "/", name), value);
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(unknown);
  if (!counters.empty()) VIGIL_RETURN_IF_ERROR(store.Commit(counters).status());
  return moved;
}

std::vector<LedgerOwner> LedgerOwners() {
  return {{"rso", storage::DeadlineSpace::kRso}, {"ocait", storage::DeadlineSpace::kOcait}};
}

namespace {

// A schema step of the ledger: `step` over every owning context, logging "ledger: N `done`".
storage::Migration LedgerStep(int to_version, std::string description,
                              absl::StatusOr<int64_t> (*step)(storage::Store&,
                                                              const std::vector<LedgerOwner>&),
                              std::string done) {
  return storage::Migration{to_version, std::move(description),
                            [step, done = std::move(done)](storage::Store& store) -> absl::Status {
                              absl::StatusOr<int64_t> count = step(store, LedgerOwners());
                              if (!count.ok()) return count.status();
                              VIGIL_LOG(INFO) << "ledger: " << *count << " " << done;
                              return absl::OkStatus();
                            }};
}

}  // namespace

storage::Migration LedgerMigration() {
  return LedgerStep(2, "the obligation ledger's keys take their owning context's prefix",
                    MigrateLedgerToV2, "open obligations moved to schema 2");
}

namespace {

// Calls `add` with each owner's ledger, each obligation open in that owner's deadline space,
// and a change that is committed every few thousand of them. Reads in bounded pages by deadline
// key: a space is never held whole. Returns the obligations seen.
absl::StatusOr<int64_t> ForEachOpen(
    storage::Store& store, const std::vector<LedgerOwner>& owners,
    absl::FunctionRef<void(const ObligationLedger&, const v1::Obligation&, storage::Change&)> add) {
  constexpr int kPerCommit = 2000;
  int64_t total = 0;
  for (const LedgerOwner& owner : owners) {
    const ObligationLedger ledger(owner.context, owner.space);
    int64_t seen = 0;
    std::optional<storage::Deadline> next;
    for (;;) {
      storage::Change change;
      int in_change = 0;
      std::optional<storage::Deadline> resume;
      absl::Status parse;
      auto visit = [&](const storage::Deadline& deadline, absl::string_view value) {
        if (in_change == kPerCommit) {
          resume = deadline;
          return false;
        }
        v1::Obligation o;
        if (!o.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("an obligation in the deadline index is unreadable");
          return false;
        }
        add(ledger, o, change);
        ++in_change;
        return true;
      };
      const storage::ReadView view = store.Snapshot();
      if (next.has_value()) {
        VIGIL_RETURN_IF_ERROR(view.ScanDeadlinesFrom(*next, absl::InfiniteFuture(), visit));
      } else {
        VIGIL_RETURN_IF_ERROR(
            view.ScanDeadlines(owner.space, absl::InfinitePast(), absl::InfiniteFuture(), visit));
      }
      VIGIL_RETURN_IF_ERROR(parse);
      if (!change.empty()) VIGIL_RETURN_IF_ERROR(store.Commit(change).status());
      seen += in_change;
      if (seen % 200000 < in_change) {
        VIGIL_LOG(INFO) << "ledger: " << seen << " open obligations of " << owner.context
                        << " migrated so far";
      }
      if (!resume.has_value()) break;
      next = std::move(resume);
    }
    total += seen;
  }
  return total;
}

// Schema 3 to 5's history key of the version `o` open now.
std::string OpenIntervalKey(const ObligationLedger& ledger, const v1::Obligation& o) {
  return ledger.HistoryKey(o.force(), std::numeric_limits<int64_t>::max(),
                           storage::ToMicros(SinceOf(o)), o.id());
}

}  // namespace

absl::StatusOr<int64_t> MigrateHistoryToV3(storage::Store& store,
                                           const std::vector<LedgerOwner>& owners) {
  return ForEachOpen(
      store, owners,
      [](const ObligationLedger& ledger, const v1::Obligation& o, storage::Change& change) {
        change.Put(storage::Family::kIndex, OpenIntervalKey(ledger, o), o.SerializeAsString());
      });
}

storage::Migration HistoryMigration() {
  return LedgerStep(
      3, "the obligation ledger keeps the history of every obligation (point-in-time backlog)",
      MigrateHistoryToV3, "open obligations given a history (schema 3)");
}

absl::StatusOr<int64_t> DropDueIndexes(storage::Store& store,
                                       const std::vector<LedgerOwner>& owners) {
  constexpr int kPerCommit = 4000;
  int64_t dropped = 0;
  for (const LedgerOwner& owner : owners) {
    for (const char* index : {"/due/t/", "/due/o/"}) {
      const std::string prefix = absl::StrCat(owner.context, index);
      // Each round deletes the next keys under the prefix, from just after the last round's
      // (not from the prefix again: that would step over every deletion so far).
      std::string after;
      for (;;) {
        storage::Change change;
        int in_change = 0;
        VIGIL_RETURN_IF_ERROR(store.Snapshot().ScanPrefix(
            storage::Family::kIndex, prefix, after, [&](absl::string_view key, absl::string_view) {
              change.Delete(storage::Family::kIndex, std::string(key));
              if (++in_change < kPerCommit) return true;
              after = absl::StrCat(key, std::string(1, '\0'));
              return false;
            }));
        if (in_change == 0) break;
        VIGIL_RETURN_IF_ERROR(store.Commit(change).status());
        dropped += in_change;
        if (dropped % 200000 < in_change) {
          VIGIL_LOG(INFO) << "ledger: " << dropped << " due index entries dropped so far";
        }
        if (in_change < kPerCommit) break;
      }
    }
  }
  return dropped;
}

storage::Migration DueIndexMigration() {
  return LedgerStep(
      5, "the obligation ledger drops its due indexes by team and by officer (read from memory)",
      DropDueIndexes, "due index entries dropped (schema 5)");
}

absl::StatusOr<int64_t> DropOpenIntervals(storage::Store& store,
                                          const std::vector<LedgerOwner>& owners) {
  return ForEachOpen(
      store, owners,
      [](const ObligationLedger& ledger, const v1::Obligation& o, storage::Change& change) {
        change.Delete(storage::Family::kIndex, OpenIntervalKey(ledger, o));
      });
}

storage::Migration OpenIntervalMigration() {
  return LedgerStep(6,
                    "the obligation ledger's history keeps ended versions only: the open ones "
                    "are read from the deadline index",
                    DropOpenIntervals, "open intervals dropped from the history (schema 6)");
}

absl::StatusOr<int64_t> DropOpenCounters(storage::Store& store,
                                         const std::vector<LedgerOwner>& owners) {
  // A few per team, officer, kind and risk: one commit, all or none.
  storage::Change change;
  int64_t dropped = 0;
  for (const LedgerOwner& owner : owners) {
    VIGIL_RETURN_IF_ERROR(store.Snapshot().ScanCounters(
        absl::StrCat(owner.context, "/open/"), [&](absl::string_view name, int64_t value) {
          change.AddToCounter(name, -value);  // at 0 a counter is removed
          ++dropped;
          return true;
        }));
  }
  if (!change.empty()) VIGIL_RETURN_IF_ERROR(store.Commit(change).status());
  return dropped;
}

storage::Migration OpenCounterMigration() {
  return LedgerStep(7,
                    "the obligation ledger drops its counters of open obligations (the backlog "
                    "counts from the in-memory deadline index)",
                    DropOpenCounters, "open-obligation counters dropped (schema 7)");
}

std::vector<storage::Migration> LedgerMigrations() {
  return {LedgerMigration(), HistoryMigration(), DueIndexMigration(), OpenIntervalMigration(),
          OpenCounterMigration()};
}

}  // namespace vigil
