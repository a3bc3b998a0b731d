// The alerts context's unit of work: AlertEngine::Txn, the records one commit reads and changes.
// Private to services/alerts (alert_engine.cc, alert_transitions.cc, alert_queries.cc).
#ifndef VIGIL_SERVICES_ALERTS_ALERT_TXN_H_
#define VIGIL_SERVICES_ALERTS_ALERT_TXN_H_

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/keys.h"
#include "services/alerts/ladder.h"
#include "vigil/internal/alerts_state.pb.h"

namespace vigil::alerts {

// The alerts record stored under `key` as `raw`, parsed (nullopt when there is none).
template <typename Message>
absl::StatusOr<std::optional<Message>> Parsed(const std::string& key,
                                              const std::optional<std::string>& raw) {
  if (!raw.has_value()) return std::optional<Message>();
  Message message;
  if (!message.ParseFromString(*raw)) {
    return absl::DataLossError(
        absl::StrCat("the alerts record under ", absl::CHexEscape(key), " is unreadable"));
  }
  return std::optional<Message>(std::move(message));
}

template <typename Message>
absl::StatusOr<std::optional<Message>> Read(const storage::ReadView& view, storage::Family family,
                                            const std::string& key) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw, view.Get(family, key));
  return Parsed<Message>(key, raw);
}

// The records one commit reads and changes, and the change that writes them. Every derived
// entry (listing index, deadlines) follows from the records' before and after states, so the
// code that changes a record never maintains them by hand.
class AlertEngine::Txn {
 public:
  Txn(storage::Store& store, absl::Time now)
      : view_(store.Snapshot()), next_sequence_(store.EventHead(kAlertFeed) + 1), now_(now) {}

  absl::Time now() const { return now_; }
  const storage::ReadView& view() const { return view_; }
  storage::Change& change() { return change_; }
  // The earliest deadline Finish added (InfiniteFuture when none).
  absl::Time earliest_added() const { return earliest_added_; }
  // Overdue alerts raised (or raised again) in this unit of work, by the scanner or the
  // follower: counted in alerts_raised_total once it commits.
  void CountOverdueRaised() { ++overdue_raised_; }
  int overdue_raised() const { return overdue_raised_; }
  // The escalation ladders this unit of work has worked out (SetLadder's memo).
  LadderMemo& ladders() { return ladders_; }

  // The alert, or nullptr. `rederive`: rewrite its deadlines even if it does not change.
  absl::StatusOr<v1::Alert*> FindAlert(absl::string_view force, absl::string_view id,
                                       bool rederive = false) {
    return Find(alerts_, AlertKey(force, id), rederive);
  }
  v1::Alert* AddAlert(v1::Alert alert) {
    Slot<v1::Alert>& slot = alerts_[AlertKey(alert.force(), alert.id())];
    slot.current = std::move(alert);
    return &*slot.current;
  }

  // Reads the alerts under `keys` (AlertKey) not yet in this unit of work, in one batched read,
  // so that the FindAlert calls that follow find them here (a scan's batch asks for hundreds).
  absl::Status PrefetchAlerts(std::vector<std::string> keys) {
    return Prefetch(alerts_, std::move(keys));
  }
  // As PrefetchAlerts, for followed obligations (ObligationKey).
  absl::Status PrefetchFollowed(std::vector<std::string> keys) {
    return Prefetch(followed_, std::move(keys));
  }

  absl::StatusOr<internal::AlertedObligation*> FindFollowed(absl::string_view context,
                                                            absl::string_view force,
                                                            absl::string_view obligation_id,
                                                            bool rederive = false) {
    return Find(followed_, ObligationKey(context, force, obligation_id), rederive);
  }
  internal::AlertedObligation* Follow(internal::AlertedObligation followed) {
    const v1::Obligation& o = followed.obligation();
    Slot<internal::AlertedObligation>& slot =
        followed_[ObligationKey(followed.context(), o.force(), o.id())];
    slot.current = std::move(followed);
    return &*slot.current;
  }
  void Unfollow(const internal::AlertedObligation& followed) {
    const v1::Obligation& o = followed.obligation();
    followed_[ObligationKey(followed.context(), o.force(), o.id())].current.reset();
  }

  // Records a transition of `alert`: stamps it with the event's sequence and revision, and
  // publishes the event.
  void Emit(v1::AlertEventType type, v1::Alert& alert) {
    alert.set_sequence(next_sequence_++);
    alert.set_revision(alert.revision() + 1);
    *alert.mutable_update_time() = ToProtoTime(now_);
    v1::AlertEvent event;
    event.set_sequence(alert.sequence());
    event.set_type(type);
    // The event carries `alert` itself for as long as it takes to serialize, not a copy; it
    // gives it back before it is destroyed, however this block is left.
    event.unsafe_arena_set_allocated_alert(&alert);
    const absl::Cleanup give_back = [&event] { (void)event.unsafe_arena_release_alert(); };
    *event.mutable_event_time() = ToProtoTime(now_);
    change_.AddEvent(std::string(kAlertFeed), event.SerializeAsString());
    std::vector<std::string>& subjects = subjects_[alert.force()];
    subjects.push_back(alert.id());
    // The watchdog's system alerts are about no subject.
    if (!alert.obligation().subject_id().empty()) {
      subjects.push_back(alert.obligation().subject_id());
    }
    ++events_;
  }

  int events() const { return events_; }
  void AddSubject(const v1::Obligation& obligation) {
    subjects_[obligation.force()].push_back(obligation.subject_id());
  }
  // The subjects this unit of work concerned, by force, in order and each once, taken out of
  // it: the engine audits its work under each. (Gathered as they come, put in order once.)
  std::map<std::string, std::vector<std::string>> TakeSubjectsByForce() {
    std::map<std::string, std::vector<std::string>> by_force = std::move(subjects_);
    subjects_.clear();
    for (auto& [force, subjects] : by_force) {
      std::sort(subjects.begin(), subjects.end());
      subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
    }
    return by_force;
  }

  // Removes a deadline entry, once however often asked (the scan removes each passed deadline,
  // and the record it belongs to removes it again with its other deadlines).
  void RemoveDeadline(const storage::Deadline& deadline) {
    RemoveDeadlineKey(storage::EncodeDeadlineKey(deadline));
  }

  // Adds every record write and derived entry to the change, and returns it.
  storage::Change& Finish() {
    std::string bytes;
    for (auto& [key, slot] : alerts_) {
      if (!Changed(slot, &bytes)) {
        if (slot.rederive) WriteDeadlines(slot);
        continue;
      }
      const v1::Alert* before = slot.original ? &*slot.original : nullptr;
      const v1::Alert* after = slot.current ? &*slot.current : nullptr;
      if (before != nullptr && (after == nullptr || ListKey(*before) != ListKey(*after))) {
        change_.Delete(storage::Family::kIndex, ListKey(*before));
      }
      if (after != nullptr && (before == nullptr || ListKey(*before) != ListKey(*after) ||
                               ListValue(*before) != ListValue(*after))) {
        change_.Put(storage::Family::kIndex, ListKey(*after), ListValue(*after));
      }
      Write(key, slot, std::move(bytes));
    }
    for (auto& [key, slot] : followed_) {
      if (Changed(slot, &bytes)) {
        Write(key, slot, std::move(bytes));
      } else if (slot.rederive) {
        WriteDeadlines(slot);
      }
    }
    return change_;
  }

 private:
  template <typename T>
  struct Slot {
    std::optional<T> original;
    std::optional<T> current;
    std::string stored;  // `original` as read (empty when there was none)
    bool rederive = false;
  };

  // Whether the record itself changed since it was read (its deadlines may need writing back
  // regardless: see `rederive`); when it did and still exists, `*bytes` is it serialized.
  template <typename T>
  static bool Changed(const Slot<T>& slot, std::string* bytes) {
    if (!slot.current.has_value()) return slot.original.has_value();
    *bytes = slot.current->SerializeAsString();
    return !slot.original.has_value() || *bytes != slot.stored;
  }

  // The slot of a record read as `raw` (nullopt: there is none).
  template <typename T>
  static absl::StatusOr<Slot<T>> Loaded(const std::string& key, std::optional<std::string> raw) {
    Slot<T> slot;
    VIGIL_ASSIGN_OR_RETURN(slot.original, Parsed<T>(key, raw));
    slot.current = slot.original;
    if (raw.has_value()) slot.stored = *std::move(raw);
    return slot;
  }

  template <typename T>
  absl::StatusOr<T*> Find(std::map<std::string, Slot<T>>& slots, const std::string& key,
                          bool rederive) {
    auto it = slots.find(key);
    if (it == slots.end()) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                             view_.Get(storage::Family::kEntities, key));
      VIGIL_ASSIGN_OR_RETURN(Slot<T> slot, Loaded<T>(key, std::move(raw)));
      it = slots.emplace(key, std::move(slot)).first;
    }
    it->second.rederive = it->second.rederive || rederive;
    return it->second.current ? &*it->second.current : nullptr;
  }

  template <typename T>
  absl::Status Prefetch(std::map<std::string, Slot<T>>& slots, std::vector<std::string> keys) {
    std::erase_if(keys, [&](const std::string& key) { return slots.contains(key); });
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> raw,
                           view_.MultiGet(storage::Family::kEntities, keys));
    for (size_t i = 0; i < keys.size(); ++i) {
      VIGIL_ASSIGN_OR_RETURN(Slot<T> slot, Loaded<T>(keys[i], std::move(raw[i])));
      slots.emplace(std::move(keys[i]), std::move(slot));
    }
    return absl::OkStatus();
  }

  // The record (serialized as `bytes` when it exists), and its deadlines.
  template <typename T>
  void Write(const std::string& key, const Slot<T>& slot, std::string bytes) {
    if (slot.current) {
      change_.Put(storage::Family::kEntities, key, std::move(bytes));
    } else {
      change_.Delete(storage::Family::kEntities, key);
    }
    WriteDeadlines(slot);
  }

  // The record's deadline entries: those it no longer has are removed, those it gains added,
  // and one it keeps is left in place unless this unit of work removed it (a passed deadline
  // the scan took out), in which case it is put back.
  template <typename T>
  void WriteDeadlines(const Slot<T>& slot) {
    const std::vector<storage::Deadline> after =
        slot.current ? DeadlinesOf(*slot.current) : std::vector<storage::Deadline>();
    std::vector<std::string> after_keys;
    after_keys.reserve(after.size());
    for (const storage::Deadline& d : after) after_keys.push_back(storage::EncodeDeadlineKey(d));
    std::vector<std::string> kept;
    if (slot.original) {
      for (const storage::Deadline& d : DeadlinesOf(*slot.original)) {
        std::string key = storage::EncodeDeadlineKey(d);
        if (std::find(after_keys.begin(), after_keys.end(), key) == after_keys.end()) {
          RemoveDeadlineKey(std::move(key));
        } else if (!removed_.contains(key)) {
          kept.push_back(std::move(key));
        }
      }
    }
    for (size_t i = 0; i < after.size(); ++i) {
      if (std::find(kept.begin(), kept.end(), after_keys[i]) != kept.end()) continue;  // in place
      earliest_added_ = std::min(earliest_added_, after[i].due);
      change_.Put(storage::Family::kDeadlines, std::move(after_keys[i]), {});
    }
  }

  void RemoveDeadlineKey(std::string key) {
    if (removed_.insert(key).second) change_.Delete(storage::Family::kDeadlines, std::move(key));
  }

  const storage::ReadView view_;
  uint64_t next_sequence_;
  const absl::Time now_;
  storage::Change change_;
  absl::Time earliest_added_ = absl::InfiniteFuture();
  int overdue_raised_ = 0;
  LadderMemo ladders_;
  std::map<std::string, Slot<v1::Alert>> alerts_;
  std::map<std::string, Slot<internal::AlertedObligation>> followed_;
  std::map<std::string, std::vector<std::string>> subjects_;  // by force, as they came
  absl::flat_hash_set<std::string> removed_;                  // deadline keys removed
  int events_ = 0;
};

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_ALERT_TXN_H_
