#include "services/alerts/alert_transitions.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/keys.h"
#include "services/alerts/ladder.h"
#include "services/policy/calendar.h"
#include "services/policy/schedule.h"

namespace vigil::alerts {
namespace {

// Alert.context of the watchdog's system alerts (about no owner's obligation).
constexpr absl::string_view kWatchdogContext = "alerts";

bool SameAssignment(const v1::Obligation& a, const v1::Obligation& b) {
  return a.owner_officer() == b.owner_officer() && a.team() == b.team() &&
         a.risk_level() == b.risk_level();
}

}  // namespace

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

namespace {

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

}  // namespace

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
  SetLadder(policy, zone, alert, txn.ladders());
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
  SetLadder(policy, zone, fresh, txn.ladders());
  Climb(fresh, txn.now());
  txn.Emit(v1::ALERT_EVENT_TYPE_RAISED, *txn.AddAlert(std::move(fresh)));
  return absl::OkStatus();
}

}  // namespace vigil::alerts
