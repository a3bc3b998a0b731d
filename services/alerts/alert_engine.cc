#include "services/alerts/alert_engine.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/keys.h"
#include "services/alerts/ladder.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/obligations/overdue_index.h"
#include "services/policy/calendar.h"
#include "services/policy/schedule.h"
#include "vigil/internal/alerts_state.pb.h"

namespace vigil::alerts {
namespace {

using storage::Family;

// Index entries one ListAlerts page may examine before it returns what it has found.
constexpr int kMaxListScan = 10000;
// RiskRank's last rank: not assessed / not graded.
constexpr int kMaxRiskRank = 4;

// Alert.context of the watchdog's system alerts (about no owner's obligation).
constexpr absl::string_view kWatchdogContext = "alerts";

// The identity the engine's own work is audited under, in each force it concerns: vigild as
// `system`, never under a force name a caller could claim for itself.
CallContext EngineCall(absl::string_view method, absl::Time now, std::string force) {
  CallContext call;
  call.principal = Principal{"vigild alerts", Role::kSystem, std::move(force)};
  call.purpose = "alerting";
  call.method = std::string(method);
  call.now = now;
  return call;
}

template <typename Message>
absl::StatusOr<std::optional<Message>> Read(const storage::ReadView& view, Family family,
                                            const std::string& key) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw, view.Get(family, key));
  if (!raw.has_value()) return std::optional<Message>();
  Message message;
  if (!message.ParseFromString(*raw)) {
    return absl::DataLossError(
        absl::StrCat("the alerts record under ", absl::CHexEscape(key), " is unreadable"));
  }
  return std::optional<Message>(std::move(message));
}

bool SameAssignment(const v1::Obligation& a, const v1::Obligation& b) {
  return a.owner_officer() == b.owner_officer() && a.team() == b.team() &&
         a.risk_level() == b.risk_level();
}

}  // namespace

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
    *event.mutable_alert() = alert;
    *event.mutable_event_time() = ToProtoTime(now_);
    change_.AddEvent(std::string(kAlertFeed), event.SerializeAsString());
    std::set<std::string>& subjects = subjects_[alert.force()];
    subjects.insert(alert.id());
    // The watchdog's system alerts are about no subject.
    if (!alert.obligation().subject_id().empty()) subjects.insert(alert.obligation().subject_id());
    ++events_;
  }

  int events() const { return events_; }
  void AddSubject(const v1::Obligation& obligation) {
    subjects_[obligation.force()].insert(obligation.subject_id());
  }
  // The engine's records of this unit of work: one under each force it concerned, naming that
  // force's subjects only (none when it touched no force's records).
  std::vector<storage::AuditEntry> Audits(v1::AuditAction action, absl::string_view method) const {
    std::vector<storage::AuditEntry> audits;
    audits.reserve(subjects_.size());
    for (const auto& [force, subjects] : subjects_) {
      audits.push_back(
          EngineCall(method, now_, force)
              .Audit(action, std::vector<std::string>(subjects.begin(), subjects.end())));
    }
    return audits;
  }

  // Adds every record write and derived entry to the change, and returns it.
  storage::Change& Finish() {
    for (auto& [key, slot] : alerts_) {
      if (!slot.Changed()) continue;
      const v1::Alert* before = slot.original ? &*slot.original : nullptr;
      const v1::Alert* after = slot.current ? &*slot.current : nullptr;
      if (before != nullptr && (after == nullptr || ListKey(*before) != ListKey(*after))) {
        change_.Delete(Family::kIndex, ListKey(*before));
      }
      if (after != nullptr && (before == nullptr || ListKey(*before) != ListKey(*after) ||
                               ListValue(*before) != ListValue(*after))) {
        change_.Put(Family::kIndex, ListKey(*after), ListValue(*after));
      }
      Write(key, slot);
    }
    for (auto& [key, slot] : followed_) {
      if (slot.Changed()) Write(key, slot);
    }
    return change_;
  }

 private:
  template <typename T>
  struct Slot {
    std::optional<T> original;
    std::optional<T> current;
    bool rederive = false;

    bool Changed() const {
      if (rederive || original.has_value() != current.has_value()) return true;
      return original.has_value() && original->SerializeAsString() != current->SerializeAsString();
    }
  };

  template <typename T>
  absl::StatusOr<T*> Find(std::map<std::string, Slot<T>>& slots, const std::string& key,
                          bool rederive) {
    auto it = slots.find(key);
    if (it == slots.end()) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<T> stored, Read<T>(view_, Family::kEntities, key));
      it = slots.emplace(key, Slot<T>{stored, stored}).first;
    }
    it->second.rederive = it->second.rederive || rederive;
    return it->second.current ? &*it->second.current : nullptr;
  }

  // The record, and its deadlines: those it had are removed and those it has added (a
  // deadline in both is deleted and put back, which leaves it in place).
  template <typename T>
  void Write(const std::string& key, const Slot<T>& slot) {
    if (slot.original) {
      for (const storage::Deadline& d : DeadlinesOf(*slot.original)) change_.RemoveDeadline(d);
    }
    if (slot.current) {
      change_.Put(Family::kEntities, key, slot.current->SerializeAsString());
      for (const storage::Deadline& d : DeadlinesOf(*slot.current)) {
        earliest_added_ = std::min(earliest_added_, d.due);
        change_.AddDeadline(d);
      }
    } else {
      change_.Delete(Family::kEntities, key);
    }
  }

  const storage::ReadView view_;
  uint64_t next_sequence_;
  const absl::Time now_;
  storage::Change change_;
  absl::Time earliest_added_ = absl::InfiniteFuture();
  std::map<std::string, Slot<v1::Alert>> alerts_;
  std::map<std::string, Slot<internal::AlertedObligation>> followed_;
  std::map<std::string, std::set<std::string>> subjects_;  // by force
  int events_ = 0;
};

namespace {

void Resolve(AlertEngine::Txn& txn, v1::Alert& alert, std::string resolution) {
  alert.set_state(v1::ALERT_STATE_RESOLVED);
  *alert.mutable_resolved_time() = ToProtoTime(txn.now());
  alert.set_resolution(std::move(resolution));
  alert.clear_next_escalation_time();
  alert.clear_next_reminder_time();
  txn.Emit(v1::ALERT_EVENT_TYPE_RESOLVED, alert);
}

// Sets when the owner of `followed` is warned that it is due soon: at the policy's share of its
// interval, or at once when that has passed already; none once it is overdue.
void ScheduleWarning(internal::AlertedObligation& followed, const v1::Policy& policy,
                     absl::TimeZone zone, absl::Time now) {
  followed.clear_due_soon_time();
  const std::optional<policy::DueTime> warning =
      policy::DueSoonWarning(policy, followed.obligation(), zone);
  if (!warning.has_value() || TimeOf(followed.obligation().due_time()) <= now) return;
  *followed.mutable_due_soon_time() = ToProtoTime(std::max(warning->due, now));
}

// Sets when the acknowledger of `alert` is next reminded that its obligation is still open:
// the policy's reminder interval after `since`, unless the acknowledgement lapses first (the
// alert then reopens, which says more).
void ScheduleReminder(v1::Alert& alert, const v1::Policy& policy, absl::TimeZone zone,
                      absl::Time since) {
  alert.clear_next_reminder_time();
  if (alert.state() != v1::ALERT_STATE_ACKNOWLEDGED || alert.acknowledgements().empty()) return;
  const std::optional<policy::DueTime> next = policy::AcknowledgementReminder(policy, since, zone);
  if (!next.has_value()) return;
  const v1::Acknowledgement& last = *alert.acknowledgements().rbegin();
  if (last.has_expiry_time() && TimeOf(last.expiry_time()) <= next->due) return;
  *alert.mutable_next_reminder_time() = ToProtoTime(next->due);
}

// The owner of `followed` is warned that it falls due soon: an event about an alert that is
// not stored (it cannot be listed or acknowledged, and never climbs).
void WarnDueSoon(AlertEngine::Txn& txn, const internal::AlertedObligation& followed,
                 const policy::DueTime& warning) {
  const v1::Obligation& o = followed.obligation();
  v1::Alert alert;
  alert.set_id(DueSoonAlertId(followed.context(), o.force(), o.id(), TimeOf(o.due_time())));
  alert.set_force(o.force());
  alert.set_context(followed.context());
  *alert.mutable_obligation() = o;
  alert.set_cause(v1::ALERT_CAUSE_DUE_SOON);
  alert.set_summary(warning.reason);
  *alert.mutable_trigger_time() = ToProtoTime(warning.due);
  *alert.mutable_raised_time() = ToProtoTime(txn.now());
  alert.set_escalation_level(v1::ESCALATION_LEVEL_OFFICER);
  txn.Emit(v1::ALERT_EVENT_TYPE_DUE_SOON, alert);
}

// Escalations of one force that fired late in one scan.
struct LateEscalations {
  int count = 0;
  absl::Duration worst;
  std::string alert_id;  // the latest of them
  v1::EscalationLevel level = v1::ESCALATION_LEVEL_UNSPECIFIED;
  absl::Time due;
};

// The watchdog: raises (or brings up to date) the force's system alert of the day about
// escalations firing late, at the duty inspector's rung.
absl::Status RaiseLateEscalation(AlertEngine::Txn& txn, const std::string& force,
                                 const LateEscalations& late, const v1::Policy& policy,
                                 absl::TimeZone zone) {
  const std::string summary = absl::StrCat(
      late.count, late.count == 1 ? " escalation" : " escalations", " fired more than ",
      absl::ToInt64Minutes(policy::EscalationLateAfter(policy)), " minutes after its time at ",
      FormatUtcTime(txn.now()), " (the worst ", absl::ToInt64Minutes(late.worst),
      " minutes late); the latest: alert ", late.alert_id, " to the ", LevelName(late.level),
      ", due ", FormatUtcTime(late.due),
      ". Is the alert scanner behind, or was vigild down? (metric "
      "alerts_escalations_late_total; policy ",
      policy.version(), ")");
  const std::string id =
      LateEscalationAlertId(force, absl::FormatCivilTime(policy::LocalDay(txn.now(), zone)));
  VIGIL_ASSIGN_OR_RETURN(v1::Alert * alert, txn.FindAlert(force, id));
  if (alert != nullptr) {
    alert->set_summary(summary);
    if (alert->state() != v1::ALERT_STATE_RESOLVED) {
      txn.Emit(v1::ALERT_EVENT_TYPE_UPDATED, *alert);
      return absl::OkStatus();
    }
    alert->set_state(v1::ALERT_STATE_OPEN);
    alert->clear_resolved_time();
    alert->clear_resolution();
    txn.Emit(v1::ALERT_EVENT_TYPE_REOPENED, *alert);
    return absl::OkStatus();
  }
  v1::Alert fresh;
  fresh.set_id(id);
  fresh.set_force(force);
  fresh.set_context(std::string(kWatchdogContext));
  fresh.mutable_obligation()->set_force(force);
  fresh.set_cause(v1::ALERT_CAUSE_LATE_ESCALATION);
  fresh.set_summary(summary);
  *fresh.mutable_trigger_time() = ToProtoTime(txn.now());
  *fresh.mutable_raised_time() = ToProtoTime(txn.now());
  fresh.set_state(v1::ALERT_STATE_OPEN);
  fresh.set_escalation_policy_version(policy.version());
  fresh.set_escalation_level(LevelAt(fresh, absl::InfinitePast()));
  txn.Emit(v1::ALERT_EVENT_TYPE_RAISED, *txn.AddAlert(std::move(fresh)));
  return absl::OkStatus();
}

// Every unresolved alert about `followed`.
absl::StatusOr<std::vector<v1::Alert*>> AlertsAbout(AlertEngine::Txn& txn,
                                                    const internal::AlertedObligation& followed) {
  std::vector<std::string> ids(followed.notice_alert_ids().begin(),
                               followed.notice_alert_ids().end());
  if (!followed.overdue_alert_id().empty()) ids.push_back(followed.overdue_alert_id());
  std::vector<v1::Alert*> alerts;
  for (const std::string& id : ids) {
    VIGIL_ASSIGN_OR_RETURN(v1::Alert * alert, txn.FindAlert(followed.obligation().force(), id));
    if (alert != nullptr && alert->state() != v1::ALERT_STATE_RESOLVED) alerts.push_back(alert);
  }
  return alerts;
}

// An obligation opened or re-timed by its owner.
absl::Status Follow(AlertEngine::Txn& txn, absl::string_view context, const v1::Obligation& now_is,
                    const v1::Policy& policy, absl::TimeZone zone) {
  VIGIL_ASSIGN_OR_RETURN(internal::AlertedObligation * followed,
                         txn.FindFollowed(context, now_is.force(), now_is.id()));
  if (followed == nullptr) {
    internal::AlertedObligation fresh;
    *fresh.mutable_obligation() = now_is;
    fresh.set_context(std::string(context));
    ScheduleWarning(fresh, policy, zone, txn.now());
    txn.Follow(std::move(fresh));
    txn.AddSubject(now_is);
    return absl::OkStatus();
  }
  const v1::Obligation was = followed->obligation();
  *followed->mutable_obligation() = now_is;
  txn.AddSubject(now_is);
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::Alert*> alerts, AlertsAbout(txn, *followed));
  if (TimeOf(was.due_time()) != TimeOf(now_is.due_time())) {
    // Met (an assessment recorded, a visit made) or moved by its owner: what was alerted on is
    // over; the new due time gets its own deadline, and its own alert if it too passes.
    const absl::Time due = TimeOf(now_is.due_time());
    const std::string resolution =
        due > txn.now() ? absl::StrCat("the obligation is now due ", FormatUtcTime(due))
                        : absl::StrCat("the obligation was re-timed to ", FormatUtcTime(due));
    for (v1::Alert* alert : alerts) Resolve(txn, *alert, resolution);
    followed->clear_overdue_alert_id();
    followed->clear_notice_alert_ids();
    ScheduleWarning(*followed, policy, zone, txn.now());
    return absl::OkStatus();
  }
  for (v1::Alert* alert : alerts) {
    bool reassigned = !SameAssignment(alert->obligation(), now_is);
    *alert->mutable_obligation() = now_is;
    if (alert->state() != v1::ALERT_STATE_RESOLVED) reassigned |= Address(policy, *alert);
    if (reassigned) txn.Emit(v1::ALERT_EVENT_TYPE_UPDATED, *alert);
  }
  return absl::OkStatus();
}

absl::Status Close(AlertEngine::Txn& txn, absl::string_view context, const v1::Obligation& closed,
                   absl::string_view reason) {
  VIGIL_ASSIGN_OR_RETURN(internal::AlertedObligation * followed,
                         txn.FindFollowed(context, closed.force(), closed.id()));
  if (followed == nullptr) return absl::OkStatus();
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::Alert*> alerts, AlertsAbout(txn, *followed));
  const std::string resolution = reason.empty()
                                     ? std::string("the obligation was closed")
                                     : absl::StrCat("the obligation was closed: ", reason);
  for (v1::Alert* alert : alerts) Resolve(txn, *alert, resolution);
  txn.AddSubject(closed);
  txn.Unfollow(*followed);
  return absl::OkStatus();
}

absl::Status Notice(AlertEngine::Txn& txn, absl::string_view context,
                    const v1::ObligationNotice& notice, const v1::Policy& policy,
                    absl::TimeZone zone) {
  const std::string& force = notice.obligation().force();
  const std::string id = NoticeAlertId(context, force, notice.id());
  VIGIL_ASSIGN_OR_RETURN(v1::Alert * existing, txn.FindAlert(force, id));
  if (existing != nullptr) return absl::OkStatus();  // raised before this replay
  v1::Alert alert;
  alert.set_id(id);
  alert.set_force(force);
  alert.set_context(std::string(context));
  *alert.mutable_obligation() = notice.obligation();
  switch (notice.kind()) {
    case v1::NOTICE_KIND_IMMEDIATE_ESCALATION:
      alert.set_cause(v1::ALERT_CAUSE_IMMEDIATE_ESCALATION);
      break;
    case v1::NOTICE_KIND_TEAM_FINDING:
      alert.set_cause(v1::ALERT_CAUSE_TEAM_FINDING);
      break;
    default:
      alert.set_cause(v1::ALERT_CAUSE_NON_COMPLIANCE);
  }
  alert.set_summary(notice.summary());
  *alert.mutable_trigger_time() = notice.time();
  *alert.mutable_raised_time() = ToProtoTime(txn.now());
  alert.set_state(v1::ALERT_STATE_OPEN);
  SetLadder(policy, zone, alert);
  alert.set_escalation_level(LevelAt(alert, absl::InfinitePast()));  // where the ladder starts
  Climb(alert, txn.now());
  txn.Emit(v1::ALERT_EVENT_TYPE_RAISED, *txn.AddAlert(std::move(alert)));
  if (!notice.obligation().id().empty()) {
    VIGIL_ASSIGN_OR_RETURN(internal::AlertedObligation * followed,
                           txn.FindFollowed(context, force, notice.obligation().id()));
    if (followed != nullptr) followed->add_notice_alert_ids(id);
  }
  return absl::OkStatus();
}

// The due time of `followed` has passed: its overdue alert.
absl::Status RaiseOverdue(AlertEngine::Txn& txn, internal::AlertedObligation& followed,
                          const v1::Policy& policy, absl::TimeZone zone) {
  const v1::Obligation& obligation = followed.obligation();
  const absl::Time due = TimeOf(obligation.due_time());
  const std::string id =
      OverdueAlertId(followed.context(), obligation.force(), obligation.id(), due);
  followed.set_overdue_alert_id(id);
  followed.clear_due_soon_time();  // too late to warn
  VIGIL_ASSIGN_OR_RETURN(v1::Alert * alert, txn.FindAlert(obligation.force(), id));
  if (alert != nullptr) {
    // Overdue again from the same due time (moved away and back): the same alert reopens.
    if (alert->state() != v1::ALERT_STATE_RESOLVED) return absl::OkStatus();
    *alert->mutable_obligation() = obligation;
    alert->set_state(v1::ALERT_STATE_OPEN);
    alert->clear_resolved_time();
    alert->clear_resolution();
    Address(policy, *alert);
    Climb(*alert, txn.now());
    txn.Emit(v1::ALERT_EVENT_TYPE_REOPENED, *alert);
    return absl::OkStatus();
  }
  v1::Alert fresh;
  fresh.set_id(id);
  fresh.set_force(obligation.force());
  fresh.set_context(followed.context());
  *fresh.mutable_obligation() = obligation;
  fresh.set_cause(v1::ALERT_CAUSE_OVERDUE);
  *fresh.mutable_trigger_time() = obligation.due_time();
  *fresh.mutable_raised_time() = ToProtoTime(txn.now());
  fresh.set_state(v1::ALERT_STATE_OPEN);
  fresh.set_escalation_level(LevelAt(fresh, absl::InfinitePast()));  // unowned: the sergeant
  Address(policy, fresh);
  SetLadder(policy, zone, fresh);
  Climb(fresh, txn.now());
  txn.Emit(v1::ALERT_EVENT_TYPE_RAISED, *txn.AddAlert(std::move(fresh)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> AlertEngine::Cursor(absl::string_view context) const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                         store_.Snapshot().Get(Family::kEntities, CursorKey(context)));
  uint64_t cursor = 0;
  if (raw.has_value() && !absl::SimpleAtoi(*raw, &cursor)) {
    return absl::DataLossError(absl::StrCat("the alerts cursor of ", context, " is unreadable"));
  }
  return cursor;
}

absl::Status AlertEngine::Apply(absl::string_view context, const std::vector<FeedEntry>& entries) {
  absl::MutexLock lock(&write_mu_);
  VIGIL_ASSIGN_OR_RETURN(const uint64_t cursor, Cursor(context));
  Txn txn(store_, clock_.Now());
  uint64_t last = cursor;
  for (const FeedEntry& entry : entries) {
    if (entry.sequence <= last) continue;
    for (const v1::ObligationEvent& event : entry.events) {
      switch (event.type()) {
        case v1::OBLIGATION_EVENT_TYPE_OPENED:
        case v1::OBLIGATION_EVENT_TYPE_RETIMED:
          VIGIL_RETURN_IF_ERROR(Follow(txn, context, event.obligation(),
                                       *policies_.Current(event.obligation().force()), zone_));
          break;
        case v1::OBLIGATION_EVENT_TYPE_CLOSED:
          VIGIL_RETURN_IF_ERROR(Close(txn, context, event.obligation(), event.close_reason()));
          break;
        case v1::OBLIGATION_EVENT_TYPE_NOTICE:
          VIGIL_RETURN_IF_ERROR(Notice(txn, context, event.notice(),
                                       *policies_.Current(event.notice().obligation().force()),
                                       zone_));
          break;
        default:
          VIGIL_LOG(WARNING) << "alerts: " << context << " feed entry " << entry.sequence
                             << " has an event of unknown type " << event.type() << "; skipped";
      }
    }
    last = entry.sequence;
  }
  if (last == cursor) return absl::OkStatus();
  txn.change().Put(Family::kEntities, CursorKey(context), absl::StrCat(last));
  return Commit(txn,
                txn.Audits(v1::AUDIT_ACTION_COLLECTION, absl::StrCat("alerts/follow/", context)));
}

void AlertEngine::LowerScanFloor(absl::Time due) {
  if (due == absl::InfiniteFuture()) return;  // nothing added
  // Keys hold whole microseconds: compare at that precision, or a deadline a fraction of a
  // microsecond after the floor's, with a smaller kind or id, would sort before it unseen.
  const absl::Time key_due = storage::FromMicros(storage::ToMicros(due));
  if (key_due <= scan_floor_.due) {
    scan_floor_ = storage::Deadline{storage::DeadlineSpace::kAlerts, key_due, 0, ""};
  }
}

absl::StatusOr<std::optional<absl::Time>> AlertEngine::NextDue() {
  // The floor is read before the snapshot is taken; a commit in between that lowers it also
  // wakes the scanner, which then looks again.
  storage::Deadline floor;
  {
    absl::MutexLock lock(&write_mu_);
    floor = scan_floor_;
  }
  std::optional<absl::Time> next;
  VIGIL_RETURN_IF_ERROR(store_.Snapshot().ScanDeadlinesFrom(
      floor, absl::InfiniteFuture(), [&](const storage::Deadline& deadline, absl::string_view) {
        next = deadline.due;
        return false;
      }));
  return next;
}

absl::StatusOr<ScanReport> AlertEngine::ScanDue(absl::Time now, int max_deadlines) {
  absl::MutexLock lock(&write_mu_);
  Txn txn(store_, now);
  std::vector<storage::Deadline> due;
  VIGIL_RETURN_IF_ERROR(
      txn.view().ScanDeadlinesFrom(scan_floor_, now + absl::Microseconds(1),
                                   [&](const storage::Deadline& deadline, absl::string_view) {
                                     due.push_back(deadline);
                                     return static_cast<int>(due.size()) <= max_deadlines;
                                   }));
  ScanReport report;
  report.more = static_cast<int>(due.size()) > max_deadlines;
  if (report.more) due.pop_back();
  if (due.empty()) return report;
  std::map<std::string, LateEscalations> late;  // by force
  for (const storage::Deadline& deadline : due) {
    // Whatever the record says now, this entry is done; the record's own deadlines are
    // written back from its state (rederive).
    txn.change().RemoveDeadline(deadline);
    ++report.deadlines;
    std::string context, force, id;
    if ((deadline.kind == kDueKind || deadline.kind == kDueSoonKind) &&
        ParseObligationDeadline(deadline.id, &context, &force, &id)) {
      VIGIL_ASSIGN_OR_RETURN(internal::AlertedObligation * followed,
                             txn.FindFollowed(context, force, id, /*rederive=*/true));
      if (followed == nullptr || !followed->overdue_alert_id().empty()) {
        continue;  // closed, or already alerted
      }
      const absl::Time obligation_due = TimeOf(followed->obligation().due_time());
      if (deadline.kind == kDueSoonKind) {
        if (!followed->has_due_soon_time() || TimeOf(followed->due_soon_time()) > now) {
          continue;  // re-timed since
        }
        followed->clear_due_soon_time();
        // Under the policy of now: warnings switched off since are not sent.
        const std::optional<policy::DueTime> warning =
            policy::DueSoonWarning(*policies_.Current(force), followed->obligation(), zone_);
        // Past due already: the overdue alert, in this same pass, says more.
        if (!warning.has_value() || obligation_due <= now) continue;
        WarnDueSoon(txn, *followed, *warning);
        ++report.warned;
        continue;
      }
      if (obligation_due > now) continue;  // re-timed since
      VIGIL_RETURN_IF_ERROR(RaiseOverdue(txn, *followed, *policies_.Current(force), zone_));
      ++report.raised;
    } else if ((deadline.kind == kEscalateKind || deadline.kind == kLapseKind ||
                deadline.kind == kRemindKind) &&
               ParseAlertDeadline(deadline.id, &force, &id)) {
      VIGIL_ASSIGN_OR_RETURN(v1::Alert * alert, txn.FindAlert(force, id, /*rederive=*/true));
      if (alert == nullptr) continue;
      if (deadline.kind == kEscalateKind && alert->state() == v1::ALERT_STATE_OPEN) {
        if (Climb(*alert, now)) {
          txn.Emit(v1::ALERT_EVENT_TYPE_ESCALATED, *alert);
          ++report.escalated;
          const absl::Duration lateness = now - deadline.due;
          if (lateness > policy::EscalationLateAfter(*policies_.Current(force))) {
            LateEscalations& of_force = late[force];
            ++of_force.count;
            of_force.worst = std::max(of_force.worst, lateness);
            of_force.alert_id = alert->id();
            of_force.level = alert->escalation_level();
            of_force.due = deadline.due;
          }
        }
      } else if (deadline.kind == kLapseKind && alert->state() == v1::ALERT_STATE_ACKNOWLEDGED) {
        // Acknowledged, but the obligation is still overdue a week later: climb again from
        // where the ladder now stands.
        alert->set_state(v1::ALERT_STATE_OPEN);
        alert->clear_next_reminder_time();
        Climb(*alert, now);
        txn.Emit(v1::ALERT_EVENT_TYPE_REOPENED, *alert);
        ++report.reopened;
      } else if (deadline.kind == kRemindKind && alert->state() == v1::ALERT_STATE_ACKNOWLEDGED &&
                 alert->has_next_reminder_time() && TimeOf(alert->next_reminder_time()) <= now) {
        // Still acknowledged, so its obligation is still open: remind whoever took it on.
        ScheduleReminder(*alert, *policies_.Current(force), zone_, now);
        txn.Emit(v1::ALERT_EVENT_TYPE_REMINDER, *alert);
        ++report.reminded;
      }
    } else {
      VIGIL_LOG(WARNING) << "alerts: dropping a malformed deadline of kind " << int{deadline.kind};
    }
  }
  for (const auto& [force, of_force] : late) {
    VIGIL_RETURN_IF_ERROR(
        RaiseLateEscalation(txn, force, of_force, *policies_.Current(force), zone_));
    report.late += of_force.count;
    report.worst_lateness = std::max(report.worst_lateness, of_force.worst);
  }
  VIGIL_RETURN_IF_ERROR(Commit(txn, txn.Audits(v1::AUDIT_ACTION_ALTERATION, "alerts/scan")));
  // Everything up to the last deadline processed is gone, bar what this batch added.
  scan_floor_ = due.back();
  LowerScanFloor(txn.earliest_added());
  return report;
}

void AlertEngine::SetDeadlineListener(std::function<void()> wake) {
  absl::MutexLock lock(&listener_mu_);
  deadline_listener_ = std::move(wake);
}

absl::Status AlertEngine::Commit(Txn& txn, std::vector<storage::AuditEntry> audits) {
  storage::Change& change = txn.Finish();
  for (storage::AuditEntry& audit : audits) change.AddAudit(std::move(audit));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  LowerScanFloor(txn.earliest_added());
  std::function<void()> wake;
  {
    absl::MutexLock lock(&listener_mu_);
    wake = deadline_listener_;
  }
  if (wake) wake();
  return absl::OkStatus();
}

absl::StatusOr<v1::Alert> AlertEngine::Load(const CallContext& call, absl::string_view id) {
  VIGIL_RETURN_IF_ERROR(ValidateId("id", id));
  VIGIL_ASSIGN_OR_RETURN(
      std::optional<v1::Alert> alert,
      Read<v1::Alert>(store_.Snapshot(), Family::kEntities, AlertKey(call.principal.force, id)));
  absl::Status refusal;
  if (!alert.has_value()) {
    refusal = absl::NotFoundError(
        absl::StrCat("alert ", id, " is not among the alerts of ", call.principal.force));
  } else if (call.principal.role == Role::kOfficer && !Concerns(*alert, call.principal.actor)) {
    refusal = absl::PermissionDeniedError(absl::StrCat(
        "alert ", id, " is about an obligation of ", alert->obligation().owner_officer(),
        "; an officer may see and acknowledge only their own alerts"));
  }
  if (!refusal.ok()) {
    storage::Change change;
    change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {std::string(id)}, refusal.message(),
                               v1::AUDIT_REFUSAL_OUT_OF_SCOPE,
                               /*national_security=*/absl::IsNotFound(refusal)));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    return refusal;
  }
  return *std::move(alert);
}

absl::StatusOr<v1::Alert> AlertEngine::Get(const CallContext& call, absl::string_view id) {
  VIGIL_ASSIGN_OR_RETURN(v1::Alert alert, Load(call, id));
  storage::Change change;
  change.SetAudit(
      call.Audit(v1::AUDIT_ACTION_CONSULTATION, {alert.id(), alert.obligation().subject_id()}));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return alert;
}

absl::StatusOr<v1::Alert> AlertEngine::Acknowledge(const CallContext& call,
                                                   const v1::AcknowledgeAlertRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 2000, true, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  if (!request.by().empty() && request.by() != call.principal.actor) {
    return FieldError(
        "by", absl::StrCat("must be empty or the caller's own identity ('", call.principal.actor,
                           "'): an acknowledgement is recorded against its caller"));
  }
  VIGIL_RETURN_IF_ERROR(Load(call, request.id()).status());
  absl::MutexLock lock(&write_mu_);
  const std::string& force = call.principal.force;
  const IdempotentRequest bound = BindRequest(call, request);
  Txn txn(store_, call.now);
  VIGIL_ASSIGN_OR_RETURN(
      std::optional<std::string> prior,
      StoredResponse(txn.view(), kRequestContext, bound,
                     bound.empty() ? std::string() : LegacyRequestKey(force, bound.request_id)));
  if (prior.has_value()) {
    v1::Alert first;
    if (!first.ParseFromString(*prior)) {
      return absl::DataLossError(
          absl::StrCat("the stored response of request_id ", bound.request_id, " is unreadable"));
    }
    storage::Change change;
    change.SetAudit(AuditReplay(call, bound, {first.id(), first.obligation().subject_id()}));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    return first;
  }
  VIGIL_ASSIGN_OR_RETURN(v1::Alert * alert, txn.FindAlert(force, request.id()));
  if (alert == nullptr)
    return absl::NotFoundError(absl::StrCat("alert ", request.id(), " vanished"));
  if (absl::Status refusal = CheckMayAcknowledge(call.principal, *alert); !refusal.ok()) {
    storage::Change change;
    change.SetAudit(call.Audit(v1::AUDIT_ACTION_ALTERATION, {alert->id()}, refusal.message()));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    return refusal;
  }
  if (alert->state() == v1::ALERT_STATE_RESOLVED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "alert ", alert->id(), " was resolved at ", FormatUtcTime(TimeOf(alert->resolved_time())),
        " (", alert->resolution(), "): there is nothing to acknowledge"));
  }
  v1::Acknowledgement& ack = *alert->add_acknowledgements();
  ack.set_by(call.principal.actor);
  *ack.mutable_time() = ToProtoTime(call.now);
  ack.set_note(request.note());
  ack.set_level(alert->escalation_level());
  if (alert->cause() == v1::ALERT_CAUSE_OVERDUE) {
    // The lapse follows the policy the alert was raised under.
    absl::StatusOr<v1::Policy> raised_under =
        policies_.Get(force, alert->escalation_policy_version());
    const policy::DueTime expiry = policy::AcknowledgementExpiry(
        raised_under.ok() ? *raised_under : *policies_.Current(force), call.now, zone_);
    *ack.mutable_expiry_time() = ToProtoTime(expiry.due);
    ack.set_expiry_reason(expiry.reason);
  }
  alert->set_state(v1::ALERT_STATE_ACKNOWLEDGED);
  alert->clear_next_escalation_time();
  ScheduleReminder(*alert, *policies_.Current(force), zone_, call.now);
  txn.Emit(v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, *alert);
  if (alert->obligation().id().empty()) {
    // About no obligation (the watchdog's, a team finding): nothing will resolve it later, so
    // taking it on is the end of it.
    Resolve(txn, *alert, absl::StrCat("acknowledged by ", call.principal.actor));
  }
  const v1::Alert result = *alert;
  StoreResponse(kRequestContext, bound, result.SerializeAsString(), txn.change());
  std::vector<storage::AuditEntry> audit;
  audit.push_back(
      call.Audit(v1::AUDIT_ACTION_ALTERATION, {result.id(), result.obligation().subject_id()}));
  VIGIL_RETURN_IF_ERROR(Commit(txn, std::move(audit)));
  return result;
}

absl::StatusOr<v1::ListAlertsResponse> AlertEngine::List(const CallContext& call,
                                                         const v1::ListAlertsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateFilter(request.filters(), "filters"));
  if (!v1::AlertOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  v1::AlertFilter filter = request.filters();
  if (call.principal.role == Role::kOfficer) {
    if (!filter.officer().empty() && filter.officer() != call.principal.actor) {
      return absl::PermissionDeniedError(
          absl::StrCat("an officer may see only their own alerts: set filters.officer to '",
                       call.principal.actor, "' or leave it empty"));
    }
    filter.set_officer(call.principal.actor);
  }
  const bool by_risk = request.order() == v1::ALERT_ORDER_RISK;
  const std::string& force = call.principal.force;
  const std::string query =
      absl::StrCat("alerts|", force, "|", filter.SerializeAsString(), by_risk ? "|risk" : "");
  VIGIL_ASSIGN_OR_RETURN(const std::string start,
                         DecodePageToken(request.page().page_token(), query));
  // token := [rank:u8, RISK only] listing key after the prefix (empty: the rank's start)
  int rank = 0;
  std::string after = start;
  if (by_risk && !start.empty()) {
    rank = static_cast<unsigned char>(start[0]);
    after = start.substr(1);
    if (rank > kMaxRiskRank) return FieldError("page_token", "is not a token this server issued");
  }
  const std::string prefix = ListPrefix(force, filter.state() == v1::ALERT_STATE_RESOLVED);
  const storage::ReadView view = store_.Snapshot();
  v1::ListAlertsResponse response;
  std::vector<std::string> subjects;
  int examined = 0;
  absl::Status read;
  // One pass over the listing index for oldest raised first; one per risk rank for RISK.
  for (; rank <= (by_risk ? kMaxRiskRank : 0) && response.next_page_token().empty(); ++rank) {
    std::string last;
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        Family::kIndex, prefix,
        after.empty() ? "" : absl::StrCat(prefix, after, std::string(1, '\0')),
        [&](absl::string_view key, absl::string_view value) {
          if (response.alerts_size() == page_size || examined == kMaxListScan) {
            response.set_next_page_token(EncodePageToken(
                query,
                by_risk ? absl::StrCat(std::string(1, static_cast<char>(rank)), last) : last));
            return false;
          }
          ++examined;
          last = std::string(key.substr(prefix.size()));
          if (last.size() <= 8) return true;
          // The entry's risk rank, when it carries one, spares reading alerts of other ranks.
          if (by_risk && value.size() == 1 && value[0] - '0' != rank) return true;
          absl::StatusOr<std::optional<v1::Alert>> alert =
              Read<v1::Alert>(view, Family::kEntities, AlertKey(force, last.substr(8)));
          if (!alert.ok()) {
            read = alert.status();
            return false;
          }
          if (alert->has_value() && Matches(filter, **alert) &&
              (!by_risk || RiskRank((*alert)->obligation().risk_level()) == rank)) {
            subjects.push_back((*alert)->id());
            subjects.push_back((*alert)->obligation().subject_id());
            *response.add_alerts() = **std::move(alert);
          }
          return true;
        }));
    VIGIL_RETURN_IF_ERROR(read);
    // The next rank's pass starts at the front; should the page be full already, its first key
    // ends the page with a token for the start of that rank.
    after.clear();
  }
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subjects)));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return response;
}

absl::StatusOr<v1::AlertDigest> AlertEngine::Digest(absl::string_view force,
                                                    const v1::AlertFilter& filter) {
  const storage::ReadView view = store_.Snapshot();
  v1::AlertDigest digest;
  *digest.mutable_as_of() = ToProtoTime(clock_.Now());
  std::vector<int64_t> by_level(5), by_risk(5);
  std::vector<v1::Alert> open;
  const std::string prefix = ListPrefix(force, false);
  absl::Status read;
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
        absl::string_view rest = key.substr(prefix.size());
        if (rest.size() <= 8) return true;
        absl::StatusOr<std::optional<v1::Alert>> alert =
            Read<v1::Alert>(view, Family::kEntities, AlertKey(force, rest.substr(8)));
        if (!alert.ok()) {
          read = alert.status();
          return false;
        }
        if (!alert->has_value() || !Matches(filter, **alert)) return true;
        const v1::Alert& a = **alert;
        if (a.state() == v1::ALERT_STATE_ACKNOWLEDGED) {
          digest.set_acknowledged(digest.acknowledged() + 1);
          return true;
        }
        digest.set_open(digest.open() + 1);
        ++by_level[std::clamp<int>(a.escalation_level(), 0, 4)];
        ++by_risk[std::clamp<int>(a.obligation().risk_level(), 0, 4)];
        open.push_back(a);
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(read);
  for (int64_t n : by_level) digest.add_open_by_level(n);
  for (int64_t n : by_risk) digest.add_open_by_risk(n);
  const auto first = [](const v1::Alert& a, const v1::Alert& b) {
    if (a.escalation_level() != b.escalation_level())
      return a.escalation_level() > b.escalation_level();
    if (a.obligation().risk_level() != b.obligation().risk_level()) {
      return a.obligation().risk_level() > b.obligation().risk_level();
    }
    return TimeOf(a.trigger_time()) < TimeOf(b.trigger_time());
  };
  const size_t top = std::min<size_t>(open.size(), 10);
  std::partial_sort(open.begin(), open.begin() + top, open.end(), first);
  for (size_t i = 0; i < top; ++i) *digest.add_top() = std::move(open[i]);
  return digest;
}

void AlertScanner::Start() {
  absl::MutexLock lock(&mu_);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AlertScanner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AlertScanner::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void AlertScanner::Record(const ScanReport& batch, absl::Duration busy) {
  Metrics& m = Metrics::Default();
  static Metric& batches =
      m.Get("alerts_scan_batches_total", "Scanner commits (up to 500 deadlines each)");
  static Metric& deadlines = m.Get("alerts_scan_deadlines_total", "Passed deadlines processed");
  static Metric& raised = m.Get("alerts_raised_total", "Overdue alerts raised by the scanner");
  static Metric& escalated = m.Get("alerts_escalated_total", "Escalation steps taken");
  static Metric& reopened =
      m.Get("alerts_reopened_total", "Acknowledgements lapsed while still overdue");
  static Metric& backlog = m.Get("alerts_scan_backlog_seconds",
                                 "How long the scanner has been working through passed deadlines "
                                 "without catching up (0: caught up)");
  static Metric& warned =
      m.Get("alerts_due_soon_warnings_total", "Due-soon warnings sent to obligations' owners");
  static Metric& reminded =
      m.Get("alerts_reminders_total", "Reminders sent to acknowledgers of alerts still open");
  static Metric& late = m.Get("alerts_escalations_late_total",
                              "Escalations that fired later than the policy allows "
                              "(escalation_late_minutes); each raises the watchdog's alert");
  static Metric& lateness = m.Get("alerts_escalation_lateness_seconds",
                                  "How late the latest late escalation fired (0 again once "
                                  "escalations fire on time)");
  if (batch.deadlines > 0) batches.Add(1);
  deadlines.Add(batch.deadlines);
  raised.Add(batch.raised);
  escalated.Add(batch.escalated);
  reopened.Add(batch.reopened);
  warned.Add(batch.warned);
  reminded.Add(batch.reminded);
  late.Add(batch.late);
  if (batch.late > 0) {
    lateness.Set(absl::ToInt64Seconds(batch.worst_lateness));
    VIGIL_LOG(WARNING) << "alerts: " << batch.late << " escalations fired late (the worst by "
                       << batch.worst_lateness << "): the watchdog alerted the duty inspector";
  } else if (batch.escalated > 0) {
    lateness.Set(0);
  }
  backlog.Set(batch.more ? absl::ToInt64Seconds(busy) : 0);
}

void AlertScanner::Run() {
  // Between waits nothing is held: a batch commits and the next one starts, so RPCs and feed
  // entries interleave with a large backlog of deadlines.
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      woken_ = false;
    }
    const absl::Time started = absl::Now();
    ScanReport total;
    absl::Time logged = started;
    absl::Status failed;
    while (true) {
      absl::StatusOr<ScanReport> report = engine_.ScanDue(clock_.Now(), batch_);
      if (!report.ok()) {
        failed = report.status();
        break;
      }
      Record(*report, absl::Now() - started);
      total.deadlines += report->deadlines;
      total.raised += report->raised;
      total.escalated += report->escalated;
      total.reopened += report->reopened;
      total.warned += report->warned;
      total.reminded += report->reminded;
      if (!report->more) break;
      if (absl::Now() - logged > absl::Seconds(5)) {
        logged = absl::Now();
        VIGIL_LOG(INFO) << "alerts: working through passed deadlines: " << total.deadlines
                        << " so far (" << total.raised << " raised, " << total.escalated
                        << " escalated)";
      }
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!failed.ok()) {
      VIGIL_LOG(ERROR) << "alerts: scanning deadlines failed: " << failed << "; retrying in 5s";
    } else if (total.deadlines > 0) {
      VIGIL_LOG(INFO) << "alerts: " << total.deadlines << " deadlines in " << absl::Now() - started
                      << ": " << total.raised << " raised, " << total.escalated << " escalated, "
                      << total.reopened << " reopened, " << total.warned << " due-soon warnings, "
                      << total.reminded << " reminders";
    }
    absl::Duration wait = failed.ok() ? absl::Minutes(1) : absl::Seconds(5);
    if (failed.ok()) {
      absl::StatusOr<std::optional<absl::Time>> next = engine_.NextDue();
      if (next.ok() && next->has_value()) {
        wait = std::clamp(**next - clock_.Now(), absl::ZeroDuration(), absl::Minutes(1));
      }
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &AlertScanner::Woken), wait);
  }
}

}  // namespace vigil::alerts
