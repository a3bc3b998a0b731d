#include "services/obligations/overdue_index.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <mutex>
#include <queue>
#include <thread>
#include <tuple>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/key_codec.h"

namespace vigil {
namespace {

constexpr int64_t kDayMicros = int64_t{24} * 3600 * 1000000;

int KindIndex(int kind) { return kind >= 0 && kind < kObligationKindSlots ? kind : 0; }
int RiskIndex(int risk) { return risk >= 0 && risk < 5 ? risk : 0; }

// Whether a scope's filter (empty: everything) takes kind slot k, or risk slot r.
bool Wanted(const std::vector<v1::ObligationKind>& kinds, int k) {
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}
bool Wanted(const std::vector<v1::RiskLevel>& risks, int r) {
  return risks.empty() || std::find(risks.begin(), risks.end(), r) != risks.end();
}

bool Before(const OverdueIndex::Entry& a, const OverdueIndex::Entry& b) {
  return a.due_micros != b.due_micros ? a.due_micros < b.due_micros : a.id < b.id;
}

// The due times [from, to) that are overdue at `now` in `band`: AgeBandOf's edges, as
// Summarize counts them (band 0 ends before now; band b's older edge is excluded).
std::pair<int64_t, int64_t> DueWindow(v1::AgeBand band, int64_t now) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  auto edge = [now](int days) { return now - days * kDayMicros + 1; };
  switch (band) {
    case v1::AGE_BAND_0_7_DAYS:
      return {edge(8), now};
    case v1::AGE_BAND_8_30_DAYS:
      return {edge(31), edge(8)};
    case v1::AGE_BAND_31_90_DAYS:
      return {edge(91), edge(31)};
    case v1::AGE_BAND_91_180_DAYS:
      return {edge(181), edge(91)};
    case v1::AGE_BAND_181_365_DAYS:
      return {edge(366), edge(181)};
    case v1::AGE_BAND_OVER_365_DAYS:
      return {kMin, edge(366)};
    default:
      return {0, 0};
  }
}

// Queries over many cells wait on memory at 1M (each cell's due times are an allocation of
// their own): they ask for the due times of the cell this many ahead of the one they search
// (ChunkedEntries::Prefetch).
constexpr size_t kPrefetchAhead = 8;

int64_t DueMicros(const v1::Obligation& o) { return storage::ToMicros(TimeOf(o.due_time())); }

}  // namespace

bool ParseIndexedFields(absl::string_view bytes, v1::Obligation& obligation) {
  using google::protobuf::internal::WireFormatLite;
  obligation.Clear();
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  auto whole = [&] {
    return obligation.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  };
  constexpr WireFormatLite::WireType kVarint = WireFormatLite::WIRETYPE_VARINT;
  constexpr WireFormatLite::WireType kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage();
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const WireFormatLite::WireType type = WireFormatLite::GetTagWireType(tag);
    std::string* text = nullptr;
    switch (field) {
      case v1::Obligation::kIdFieldNumber:
        text = obligation.mutable_id();
        break;
      case v1::Obligation::kOwnerOfficerFieldNumber:
        text = obligation.mutable_owner_officer();
        break;
      case v1::Obligation::kTeamFieldNumber:
        text = obligation.mutable_team();
        break;
      case v1::Obligation::kForceFieldNumber:
        text = obligation.mutable_force();
        break;
      case v1::Obligation::kKindFieldNumber:
      case v1::Obligation::kRiskLevelFieldNumber: {
        uint32_t value = 0;
        if (type != kVarint) return whole();
        if (!in.ReadVarint32(&value)) return false;
        if (field == v1::Obligation::kKindFieldNumber) {
          obligation.set_kind(static_cast<v1::ObligationKind>(value));
        } else {
          obligation.set_risk_level(static_cast<v1::RiskLevel>(value));
        }
        continue;
      }
      case v1::Obligation::kDueTimeFieldNumber: {
        if (type != kBytes) return whole();
        int length = 0;
        if (!in.ReadVarintSizeAsInt(&length)) return false;
        const auto limit = in.PushLimit(length);
        google::protobuf::Timestamp& due = *obligation.mutable_due_time();
        while (const uint32_t inner = in.ReadTag()) {
          const int inner_field = WireFormatLite::GetTagFieldNumber(inner);
          if (inner_field == google::protobuf::Timestamp::kSecondsFieldNumber ||
              inner_field == google::protobuf::Timestamp::kNanosFieldNumber) {
            uint64_t value = 0;
            if (WireFormatLite::GetTagWireType(inner) != kVarint) return whole();
            if (!in.ReadVarint64(&value)) return false;
            if (inner_field == google::protobuf::Timestamp::kSecondsFieldNumber) {
              due.set_seconds(static_cast<int64_t>(value));
            } else {
              due.set_nanos(static_cast<int32_t>(value));
            }
          } else if (!WireFormatLite::SkipField(&in, inner)) {
            return false;
          }
        }
        if (!in.ConsumedEntireMessage()) return false;
        in.PopLimit(limit);
        continue;
      }
      default:
        if (!WireFormatLite::SkipField(&in, tag)) return false;
        continue;
    }
    if (type != kBytes) return whole();
    if (!WireFormatLite::ReadString(&in, text)) return false;
  }
}

int32_t DaysOverdue(absl::Duration overdue) {
  return static_cast<int32_t>(absl::ToInt64Hours(absl::Floor(overdue, absl::Hours(24))) / 24);
}

v1::AgeBand AgeBandOf(absl::Duration overdue) {
  const int64_t days = DaysOverdue(overdue);
  if (days <= 7) return v1::AGE_BAND_0_7_DAYS;
  if (days <= 30) return v1::AGE_BAND_8_30_DAYS;
  if (days <= 90) return v1::AGE_BAND_31_90_DAYS;
  if (days <= 180) return v1::AGE_BAND_91_180_DAYS;
  if (days <= 365) return v1::AGE_BAND_181_365_DAYS;
  return v1::AGE_BAND_OVER_365_DAYS;
}

std::string OverdueIndex::CellKey(absl::string_view team, absl::string_view officer, int kind,
                                  int risk) {
  std::string key;
  storage::PutLengthPrefixed(&key, team);
  storage::PutLengthPrefixed(&key, officer);
  key.push_back(static_cast<char>(kind));
  key.push_back(static_cast<char>(risk));
  return key;
}

bool OverdueIndex::InScope(const Scope& scope, const Cell& cell) {
  if (!scope.team.empty() && cell.team != scope.team) return false;
  if (!scope.officer.empty() && cell.officer != scope.officer) return false;
  // By slot, as the roll-ups and the counts file them: a risk level this build does not know
  // counts as not assessed.
  return Wanted(scope.kinds, KindIndex(cell.kind)) && Wanted(scope.risks, RiskIndex(cell.risk));
}

RankedDues<const OverdueIndex::Cell*>& OverdueIndex::Force::RollUp(const Cell& cell) {
  return roll_ups[KindIndex(cell.kind)][RiskIndex(cell.risk)];
}

void OverdueIndex::InsertLocked(const v1::Obligation& o) {
  // Remove any earlier entry first: it may be the force's last, which removes the force.
  RemoveLocked(o.force(), o.id());
  Force& force = forces_[o.force()];
  Cell& cell = force.cells[CellKey(o.team(), o.owner_officer(), o.kind(), o.risk_level())];
  if (cell.entries.empty()) {
    cell.team = o.team();
    cell.officer = o.owner_officer();
    cell.kind = o.kind();
    cell.risk = o.risk_level();
  }
  Entry entry{DueMicros(o), o.id(), o.kind(), o.risk_level()};
  force.where[o.id()] = Location{&cell, entry.due_micros};
  force.RollUp(cell).Insert(entry.due_micros, &cell);
  cell.entries.Insert(std::move(entry));
  ++size_;
}

void OverdueIndex::EraseEntryLocked(Force& force, const Location& at, absl::string_view id) {
  Cell& cell = *at.cell;
  std::optional<int64_t> erased;
  if (cell.entries.Erase(at.due_micros, id)) {
    erased = at.due_micros;
  } else {
    // `where` and the cell disagree on the due time: a bug, but the entry must still go.
    erased = cell.entries.EraseAnywhere(id);
    VIGIL_LOG(ERROR) << "overdue index: " << id << " is not at its recorded due time"
                     << (erased.has_value() ? "" : " nor anywhere in its cell");
  }
  if (erased.has_value()) {
    if (!force.RollUp(cell).Erase(*erased, &cell)) {
      VIGIL_LOG(ERROR) << "overdue index: " << id << " is missing from its force's roll-up";
    }
    --size_;
  }
  if (cell.entries.empty())
    force.cells.erase(CellKey(cell.team, cell.officer, cell.kind, cell.risk));
}

void OverdueIndex::RemoveLocked(absl::string_view force_name, absl::string_view id) {
  auto force = forces_.find(force_name);
  if (force == forces_.end()) return;
  auto where = force->second.where.find(id);
  if (where == force->second.where.end()) return;
  EraseEntryLocked(force->second, where->second, id);
  force->second.where.erase(where);
  if (force->second.where.empty()) forces_.erase(force);
}

void OverdueIndex::AppendLocked(const v1::Obligation& o) {
  Force& force = forces_[o.force()];
  Cell& cell = force.cells[CellKey(o.team(), o.owner_officer(), o.kind(), o.risk_level())];
  if (cell.entries.empty()) {
    cell.team = o.team();
    cell.officer = o.owner_officer();
    cell.kind = o.kind();
    cell.risk = o.risk_level();
  }
  const int64_t due = DueMicros(o);
  cell.entries.Append(Entry{due, o.id(), o.kind(), o.risk_level()});
  ++size_;
}

void OverdueIndex::FinishLoadLocked() {
  // (Named references, not structured bindings: the lambdas below capture them.)
  for (auto& named : forces_) {
    Force& force = named.second;
    size_t entries = 0;
    for (auto& [key, cell] : force.cells) {
      cell.entries.FinishAppending();
      entries += cell.entries.size();
    }
    // The roll-ups in one go: each one's items gathered from its cells, then put in order.
    std::vector<RankedDues<const Cell*>::Item> items[kObligationKindSlots][5];
    for (const auto& keyed : force.cells) {
      const Cell* cell = &keyed.second;
      auto& into = items[KindIndex(cell->kind)][RiskIndex(cell->risk)];
      cell->entries.ForEach([&](const Entry& entry) { into.push_back({entry.due_micros, cell}); });
    }
    for (int k = 0; k < kObligationKindSlots; ++k) {
      for (int r = 0; r < 5; ++r) force.roll_ups[k][r].Assign(std::move(items[k][r]));
    }
    // Sized once: growing to a million ids would rehash twenty times.
    force.where.reserve(entries);
    // An id loaded twice (the deadline index names each obligation once, so only a damaged
    // store has one) keeps its latest due time, as inserting them one by one in due order
    // would; of two at the same time, whichever cell comes first here.
    std::vector<std::pair<Location, std::string>> stale;
    for (auto& keyed : force.cells) {
      Cell* cell = &keyed.second;
      cell->entries.ForEach([&](const Entry& entry) {
        Location here{cell, entry.due_micros};
        auto [at, added] = force.where.try_emplace(entry.id, here);
        if (added) return;
        if (here.due_micros > at->second.due_micros) std::swap(here, at->second);
        stale.emplace_back(here, entry.id);
      });
    }
    for (const auto& [at, id] : stale) EraseEntryLocked(force, at, id);
  }
}

void OverdueIndex::Apply(const v1::ObligationEventBatch& batch) {
  absl::MutexLock lock(&mu_);
  for (const v1::ObligationEvent& event : batch.events()) {
    switch (event.type()) {
      case v1::OBLIGATION_EVENT_TYPE_OPENED:
      case v1::OBLIGATION_EVENT_TYPE_RETIMED:
        // A retimed obligation may have moved cell (owner, team, risk): re-insert it.
        InsertLocked(event.obligation());
        break;
      case v1::OBLIGATION_EVENT_TYPE_CLOSED:
        RemoveLocked(event.obligation().force(), event.obligation().id());
        break;
      default:
        break;
    }
  }
}

void OverdueIndex::Insert(const v1::Obligation& obligation) {
  absl::MutexLock lock(&mu_);
  InsertLocked(obligation);
}

void OverdueIndex::InsertAll(const std::vector<v1::Obligation>& obligations) {
  absl::MutexLock lock(&mu_);
  if (size_ > 0) {
    for (const v1::Obligation& o : obligations) InsertLocked(o);
    return;
  }
  for (const v1::Obligation& o : obligations) AppendLocked(o);
  FinishLoadLocked();
}

namespace {

// The deadline index read and decoded on a thread of its own, handed over in batches: at 1M
// open obligations reading and decoding take about as long as filling the cells.
class DeadlineReader {
 public:
  static constexpr size_t kBatch = 1024;
  static constexpr size_t kInFlight = 4;

  // Reads every value under `prefix` of the deadline family of `view`.
  DeadlineReader(const storage::ReadView& view, std::string prefix)
      : thread_([this, &view, prefix = std::move(prefix)] { Read(view, prefix); }) {}
  ~DeadlineReader() {
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
    }
    thread_.join();
  }

  // Calls fn for every obligation read, in key order; then returns how the read ended.
  absl::Status ForEach(absl::FunctionRef<void(const v1::Obligation&)> fn) {
    while (true) {
      std::vector<v1::Obligation> batch;
      size_t filled = 0;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](DeadlineReader* r)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return !r->full_.empty() || r->done_; },
            this));
        if (full_.empty()) return status_;
        std::tie(batch, filled) = std::move(full_.front());
        full_.pop_front();
      }
      for (size_t i = 0; i < filled; ++i) fn(batch[i]);
      absl::MutexLock lock(&mu_);
      spare_.push_back(std::move(batch));
    }
  }

 private:
  void Read(const storage::ReadView& view, absl::string_view prefix) {
    std::vector<v1::Obligation> batch(kBatch);
    size_t filled = 0;
    // Waits for room, hands the batch over and takes a spare one; false once stopped.
    auto hand_over = [&]() {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](DeadlineReader* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
            return r->full_.size() < kInFlight || r->stopped_;
          },
          this));
      if (stopped_) return false;
      full_.emplace_back(std::move(batch), filled);
      if (!spare_.empty()) {
        batch = std::move(spare_.back());
        spare_.pop_back();
      } else {
        batch = std::vector<v1::Obligation>(kBatch);
      }
      filled = 0;
      return true;
    };
    absl::Status malformed;
    absl::Status scan = view.ScanPrefix(
        storage::Family::kDeadlines, prefix, {}, [&](absl::string_view, absl::string_view value) {
          // Each obligation parsed into one used before: its strings keep their capacity.
          if (!ParseIndexedFields(value, batch[filled])) {
            malformed = absl::DataLossError("a deadline index entry holds no obligation");
            return false;
          }
          return ++filled < kBatch || hand_over();
        });
    if (scan.ok() && malformed.ok() && filled > 0) hand_over();
    absl::MutexLock lock(&mu_);
    status_ = !scan.ok() ? scan : malformed;
    done_ = true;
  }

  absl::Mutex mu_;
  std::deque<std::pair<std::vector<v1::Obligation>, size_t>> full_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<v1::Obligation>> spare_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace

absl::Status OverdueIndex::Attach(storage::Store& store, std::string feed_context) {
  const storage::ReadView view = store.Snapshot();
  absl::Status read;
  {
    absl::MutexLock lock(&mu_);
    DeadlineReader reader(view, std::string(1, static_cast<char>(space_)));
    // Loaded in bulk into an empty index (as it is unless attached twice), else one by one.
    const bool load = size_ == 0;
    read = reader.ForEach([&](const v1::Obligation& obligation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      load ? AppendLocked(obligation) : InsertLocked(obligation);
    });
    if (load) FinishLoadLocked();
  }
  if (!read.ok()) return read;
  store.AddCommitListener([this, feed_context = std::move(feed_context)](
                              const std::vector<storage::CommittedEvent>& events) {
    for (const storage::CommittedEvent& event : events) {
      if (event.context != feed_context) continue;
      v1::ObligationEventBatch batch;
      if (!batch.ParseFromArray(event.payload.data(), static_cast<int>(event.payload.size()))) {
        VIGIL_LOG(ERROR) << "overdue index: feed event " << event.sequence << " is unreadable";
        continue;
      }
      Apply(batch);
    }
  });
  return absl::OkStatus();
}

namespace {

// A cell's due times, as Tally counts them.
struct CellDues {
  const ChunkedEntries<OverdueIndex::Entry>& entries;
  size_t size() const { return entries.size(); }
  int64_t front() const { return entries.front_due(); }
  size_t CountBefore(int64_t x) const { return entries.CountBefore(x); }
  size_t CountAtOrBefore(int64_t x) const { return entries.CountAtOrBefore(x); }
};

// A roll-up's, likewise.
template <typename T>
struct RollUpDues {
  const RankedDues<T>& dues;
  size_t size() const { return dues.size(); }
  int64_t front() const { return dues.front().due; }
  size_t CountBefore(int64_t x) const { return dues.CountBefore(x); }
  size_t CountAtOrBefore(int64_t x) const { return dues.CountAtOrBefore(x); }
};

// Adds the due times of one cell or roll-up (not empty) of kind slot k and risk slot r to
// `summary`, at `now`; returns how many are overdue. Band b holds due in
// (now - (hi_b + 1) days, now - lo_b days]; band 0 excludes due == now.
template <typename Dues>
size_t Tally(const Dues& v, int k, int r, int64_t now, OverdueIndex::Summary& summary) {
  summary.total_open += static_cast<int64_t>(v.size());
  if (!summary.earliest_due_micros || v.front() < *summary.earliest_due_micros) {
    summary.earliest_due_micros = v.front();
  }
  const size_t overdue = v.CountBefore(now);
  summary.due_within_7[k][r] += v.CountBefore(now + 7 * kDayMicros) - overdue;
  summary.due_within_28[k][r] += v.CountBefore(now + 28 * kDayMicros) - overdue;
  if (overdue == 0) return 0;
  summary.total_overdue += static_cast<int64_t>(overdue);
  constexpr int kEdgeDays[] = {8, 31, 91, 181, 366};
  size_t at_or_before[5];
  for (int i = 0; i < 5; ++i) {
    at_or_before[i] = std::min(v.CountAtOrBefore(now - kEdgeDays[i] * kDayMicros), overdue);
  }
  auto& counts = summary.counts[k][r];
  counts[v1::AGE_BAND_0_7_DAYS] += overdue - at_or_before[0];
  counts[v1::AGE_BAND_8_30_DAYS] += at_or_before[0] - at_or_before[1];
  counts[v1::AGE_BAND_31_90_DAYS] += at_or_before[1] - at_or_before[2];
  counts[v1::AGE_BAND_91_180_DAYS] += at_or_before[2] - at_or_before[3];
  counts[v1::AGE_BAND_181_365_DAYS] += at_or_before[3] - at_or_before[4];
  counts[v1::AGE_BAND_OVER_365_DAYS] += at_or_before[4];
  return overdue;
}

}  // namespace

OverdueIndex::Summary OverdueIndex::Summarize(const Scope& scope, absl::Time as_of) const {
  Summary summary;
  const int64_t now = storage::ToMicros(as_of);
  absl::ReaderMutexLock lock(&mu_);
  auto found = forces_.find(scope.force);
  if (found == forces_.end()) return summary;
  const Force& force = found->second;
  // The oldest overdue entry is the front of a cell whose earliest due time is the scope's.
  auto consider_oldest = [&](const Cell& cell) {
    const Entry& front = cell.entries.front();
    if (!summary.oldest.has_value() || front.due_micros < summary.oldest->due_micros ||
        (front.due_micros == summary.oldest->due_micros && Before(front, *summary.oldest))) {
      summary.oldest = front;
    }
  };
  if (ForceWide(scope)) {
    // Force-wide: the roll-ups, one per kind and risk level, whatever the number of cells.
    for (int k = 0; k < kObligationKindSlots; ++k) {
      for (int r = 0; r < 5; ++r) {
        const RankedDues<const Cell*>& dues = force.roll_ups[k][r];
        if (dues.empty() || !Wanted(scope.kinds, k) || !Wanted(scope.risks, r)) continue;
        if (Tally(RollUpDues<const Cell*>{dues}, k, r, now, summary) == 0) continue;
        if (summary.oldest.has_value() && dues.front().due > summary.oldest->due_micros) continue;
        // Each cell with an entry due at the roll-up's earliest instant (usually one; a cell's
        // items at one instant are neighbours).
        const int64_t earliest = dues.front().due;
        const Cell* last = nullptr;
        for (auto at = dues.LowerBound(earliest); !at.done() && at->due == earliest; at.Next()) {
          if (at->value != last) consider_oldest(*(last = at->value));
        }
      }
    }
    return summary;
  }
  // The cells in scope first, so that each one's due times can be fetched from memory a few
  // cells ahead of the binary searches that read them (at 1M the searches wait on memory).
  std::vector<const Cell*> cells;
  cells.reserve(force.cells.size());
  for (const auto& [key, cell] : force.cells) {
    if (InScope(scope, cell)) cells.push_back(&cell);
  }
  for (size_t c = 0; c < cells.size(); ++c) {
    if (c + kPrefetchAhead < cells.size()) cells[c + kPrefetchAhead]->entries.Prefetch();
    const Cell& cell = *cells[c];
    if (Tally(CellDues{cell.entries}, KindIndex(cell.kind), RiskIndex(cell.risk), now, summary) ==
        0)
      continue;
    // The entries (a cache miss per cell at 1M) only when the due times do not decide.
    if (!summary.oldest.has_value() || cell.entries.front_due() <= summary.oldest->due_micros) {
      consider_oldest(cell);
    }
  }
  return summary;
}

OverdueIndex::Cursor OverdueIndex::CursorAfter(const Entry& entry, v1::BacklogOrder order) {
  return Cursor{order == v1::BACKLOG_ORDER_RISK_THEN_AGE ? RiskRank(entry.risk) : 0,
                entry.due_micros, entry.id};
}

std::vector<OverdueIndex::Entry> OverdueIndex::List(const Scope& scope, absl::Time as_of,
                                                    v1::BacklogOrder order, const Cursor& cursor,
                                                    size_t limit, bool* more) const {
  std::vector<Entry> page;
  *more = false;
  const int64_t now = storage::ToMicros(as_of);
  const bool by_risk = order == v1::BACKLOG_ORDER_RISK_THEN_AGE;
  absl::ReaderMutexLock lock(&mu_);
  auto force = forces_.find(scope.force);
  if (force == forces_.end()) return page;
  const Entry after{cursor.due_micros, cursor.id, v1::OBLIGATION_KIND_UNSPECIFIED,
                    v1::RISK_LEVEL_UNSPECIFIED};
  // The due-time windows to list, disjoint: every overdue entry, or those of the asked bands.
  std::vector<std::pair<int64_t, int64_t>> windows;
  if (scope.age_bands.empty()) {
    windows.emplace_back(std::numeric_limits<int64_t>::min(), now);
  } else {
    for (v1::AgeBand band : scope.age_bands) {
      const auto window = DueWindow(band, now);
      if (window.first < window.second &&
          std::find(windows.begin(), windows.end(), window) == windows.end()) {
        windows.push_back(window);
      }
    }
  }
  // A rank no entry has (the caller's to refuse) lists nothing, rather than every rank.
  if (by_risk && !cursor.empty() && (cursor.rank < 0 || cursor.rank > 4)) return page;
  for (int rank = by_risk ? cursor.rank : 0; rank < (by_risk ? 5 : 1); ++rank) {
    // A k-way merge of the cells' overdue entries (those after the cursor in this rank), one
    // run per cell and window. A head carries its run's next due time: the heap compares
    // entries (a cache miss each at 1M) only when two fall due at the same instant.
    struct Run {
      ChunkedEntries<Entry>::Iterator at;
      size_t left;  // entries from `at` on in the window
    };
    struct Head {
      int64_t due;
      size_t run;
    };
    std::vector<Run> runs;
    auto later = [&runs](const Head& a, const Head& b) {
      return a.due != b.due ? a.due > b.due : Before(*runs[b.run].at, *runs[a.run].at);
    };
    std::vector<Head> starts;
    const bool after_cursor = !cursor.empty() && (!by_risk || rank == cursor.rank);
    std::vector<const Cell*> cells;
    if (ForceWide(scope)) {
      // Enough for the rest of the page and one more (to say whether there is more).
      const size_t left = limit - page.size();
      cells = CellsAhead(force->second, scope, by_risk ? std::optional(rank) : std::nullopt,
                         windows, after_cursor ? std::optional(cursor.due_micros) : std::nullopt,
                         left == std::numeric_limits<size_t>::max() ? left : left + 1);
    } else {
      for (const auto& [key, cell] : force->second.cells) {
        if (InScope(scope, cell) && (!by_risk || RiskRank(cell.risk) == rank)) {
          cells.push_back(&cell);
        }
      }
    }
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c + kPrefetchAhead < cells.size()) cells[c + kPrefetchAhead]->entries.Prefetch();
      const ChunkedEntries<Entry>& v = cells[c]->entries;
      // Entries after the cursor, when it is in this rank.
      const size_t first = after_cursor ? v.CountAtOrBeforeEntry(after) : 0;
      for (const auto& [from, to] : windows) {
        const size_t begin = std::max(first, v.CountBefore(from));
        const size_t end = v.CountBefore(to);
        if (begin >= end) continue;
        runs.push_back({v.At(begin), end - begin});
        starts.push_back({runs.back().at.due(), runs.size() - 1});
      }
    }
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later, std::move(starts));
    while (!heads.empty()) {
      Head head = heads.top();
      heads.pop();
      if (page.size() == limit) {
        *more = true;
        return page;
      }
      Run& run = runs[head.run];
      page.push_back(*run.at);
      if (--run.left > 0) {
        run.at.Next();
        heads.push({run.at.due(), head.run});
      }
    }
  }
  return page;
}

std::vector<const OverdueIndex::Cell*> OverdueIndex::CellsAhead(
    const Force& force, const Scope& scope, std::optional<int> rank,
    const std::vector<std::pair<int64_t, int64_t>>& windows, std::optional<int64_t> after_due,
    size_t need) {
  using Dues = RankedDues<const Cell*>;
  // A k-way merge of the roll-ups' items in each window, by due time.
  struct Stream {
    Dues::Iterator at;
    int64_t to;
  };
  auto later = [](const Stream& a, const Stream& b) { return a.at->due > b.at->due; };
  std::vector<Stream> streams;
  for (int k = 0; k < kObligationKindSlots; ++k) {
    for (int r = 0; r < 5; ++r) {
      const Dues& dues = force.roll_ups[k][r];
      if (dues.empty() || !Wanted(scope.kinds, k) || !Wanted(scope.risks, r) ||
          (rank.has_value() && RiskRank(static_cast<v1::RiskLevel>(r)) != *rank)) {
        continue;
      }
      for (const auto& [from, to] : windows) {
        Dues::Iterator at = dues.LowerBound(after_due ? std::max(from, *after_due) : from);
        if (!at.done() && at->due < to) streams.push_back({at, to});
      }
    }
  }
  std::make_heap(streams.begin(), streams.end(), later);
  std::vector<const Cell*> cells;
  absl::flat_hash_set<const Cell*> seen;
  size_t counted = 0;
  int64_t last = 0;  // once `need` are counted, the due time of the last of them
  while (!streams.empty()) {
    std::pop_heap(streams.begin(), streams.end(), later);
    Stream& stream = streams.back();
    const int64_t due = stream.at->due;
    if (counted >= need && due > last) break;
    if (seen.insert(stream.at->value).second) cells.push_back(stream.at->value);
    // At the cursor's instant an entry may be at or before the cursor: its cell is searched,
    // but it is not counted.
    if ((!after_due || due > *after_due) && ++counted == need) last = due;
    stream.at.Next();
    if (stream.at.done() || stream.at->due >= stream.to) {
      streams.pop_back();
    } else {
      std::push_heap(streams.begin(), streams.end(), later);
    }
  }
  return cells;
}

std::vector<OverdueIndex::OfficerCounts> OverdueIndex::Workload(const Scope& scope,
                                                                absl::Time as_of) const {
  const int64_t now = storage::ToMicros(as_of);
  absl::flat_hash_map<std::string, OfficerCounts> by_officer;
  absl::ReaderMutexLock lock(&mu_);
  auto force = forces_.find(scope.force);
  if (force == forces_.end()) return {};
  for (const auto& [key, cell] : force->second.cells) {
    if (!InScope(scope, cell)) continue;
    OfficerCounts& counts = by_officer[CellKey(cell.team, cell.officer, 0, 0)];
    counts.officer = cell.officer;
    counts.team = cell.team;
    counts.open[KindIndex(cell.kind)][RiskIndex(cell.risk)] +=
        static_cast<int64_t>(cell.entries.size());
    counts.overdue[KindIndex(cell.kind)][RiskIndex(cell.risk)] +=
        static_cast<int64_t>(cell.entries.CountBefore(now));
  }
  std::vector<OfficerCounts> result;
  for (auto& [key, counts] : by_officer) result.push_back(std::move(counts));
  std::sort(result.begin(), result.end(), [](const OfficerCounts& a, const OfficerCounts& b) {
    return a.team != b.team ? a.team < b.team : a.officer < b.officer;
  });
  return result;
}

std::optional<absl::Time> OverdueIndex::EarliestDue() const {
  absl::ReaderMutexLock lock(&mu_);
  std::optional<int64_t> earliest;
  for (const auto& [name, force] : forces_) {
    for (const auto& [key, cell] : force.cells) {
      if (!cell.entries.empty() && (!earliest || cell.entries.front().due_micros < *earliest)) {
        earliest = cell.entries.front().due_micros;
      }
    }
  }
  if (!earliest) return std::nullopt;
  return storage::FromMicros(*earliest);
}

std::vector<std::string> OverdueIndex::Forces() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, force] : forces_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

size_t OverdueIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return size_;
}

std::string OverdueIndex::DeadlineKey(absl::string_view force, const Entry& entry) const {
  std::string id;
  storage::PutLengthPrefixed(&id, force);
  id.append(entry.id);
  return storage::EncodeDeadlineKey(storage::Deadline{space_, storage::FromMicros(entry.due_micros),
                                                      static_cast<uint8_t>(entry.kind), id});
}

int RiskRank(v1::RiskLevel risk) {
  switch (risk) {
    case v1::RISK_LEVEL_VERY_HIGH:
      return 0;
    case v1::RISK_LEVEL_HIGH:
      return 1;
    case v1::RISK_LEVEL_MEDIUM:
      return 2;
    case v1::RISK_LEVEL_LOW:
      return 3;
    default:
      return 4;
  }
}

void BacklogTally::Add(const google::protobuf::RepeatedPtrField<v1::BacklogRow>& rows,
                       const google::protobuf::RepeatedPtrField<v1::DueSoonRow>& due_soon) {
  for (const v1::BacklogRow& row : rows) {
    rows_[{row.kind(), row.risk_level(), row.age_band()}] += row.count();
  }
  for (const v1::DueSoonRow& row : due_soon) {
    auto& [seven, twenty_eight] = soon_[{row.kind(), row.risk_level()}];
    seven += row.within_7_days();
    twenty_eight += row.within_28_days();
  }
}

void BacklogTally::WriteTo(google::protobuf::RepeatedPtrField<v1::BacklogRow>& rows,
                           google::protobuf::RepeatedPtrField<v1::DueSoonRow>& due_soon) const {
  for (const auto& [key, count] : rows_) {
    v1::BacklogRow* row = rows.Add();
    row->set_kind(static_cast<v1::ObligationKind>(std::get<0>(key)));
    row->set_risk_level(static_cast<v1::RiskLevel>(std::get<1>(key)));
    row->set_age_band(static_cast<v1::AgeBand>(std::get<2>(key)));
    row->set_count(count);
  }
  for (const auto& [key, counts] : soon_) {
    v1::DueSoonRow* row = due_soon.Add();
    row->set_kind(static_cast<v1::ObligationKind>(key.first));
    row->set_risk_level(static_cast<v1::RiskLevel>(key.second));
    row->set_within_7_days(counts.first);
    row->set_within_28_days(counts.second);
  }
}

}  // namespace vigil
