#include "services/alerts/alert_engine.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/alert_transitions.h"
#include "services/alerts/alert_txn.h"
#include "services/alerts/keys.h"
#include "services/alerts/ladder.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/metrics.h"
#include "services/common/validate.h"
#include "services/policy/schedule.h"

namespace vigil::alerts {
namespace {

using storage::Family;

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

// The engine's records of `txn`: one under each force it concerned, naming that force's subjects
// only (none when it touched no force's records).
std::vector<storage::AuditEntry> EngineAudits(AlertEngine::Txn& txn, v1::AuditAction action,
                                              absl::string_view method) {
  std::map<std::string, std::vector<std::string>> by_force = txn.TakeSubjectsByForce();
  std::vector<storage::AuditEntry> audits;
  audits.reserve(by_force.size());
  for (auto& [force, subjects] : by_force) {
    audits.push_back(EngineCall(method, txn.now(), force).Audit(action, std::move(subjects)));
  }
  return audits;
}

// Reads, in two batched reads, what a scan of the `due` deadlines will look for one by one: the
// obligations and alerts they belong to, then the overdue alert each obligation due now could
// raise (a record that exists when an obligation moved away and back to the same due time).
absl::Status Prefetch(AlertEngine::Txn& txn, const std::vector<storage::Deadline>& due) {
  struct Obligation {
    std::string context, force, id;
  };
  std::vector<Obligation> falling_due;  // of the kDueKind deadlines: each may raise its alert
  std::vector<std::string> followed;
  std::vector<std::string> alerts;
  for (const storage::Deadline& deadline : due) {
    Obligation o;
    if (deadline.kind == kDueKind || deadline.kind == kDueSoonKind) {
      if (ParseObligationDeadline(deadline.id, &o.context, &o.force, &o.id)) {
        followed.push_back(ObligationKey(o.context, o.force, o.id));
        if (deadline.kind == kDueKind) falling_due.push_back(std::move(o));
      }
    } else if (ParseAlertDeadline(deadline.id, &o.force, &o.id)) {
      alerts.push_back(AlertKey(o.force, o.id));
    }
  }
  VIGIL_RETURN_IF_ERROR(txn.PrefetchFollowed(std::move(followed)));
  for (const Obligation& o : falling_due) {
    VIGIL_ASSIGN_OR_RETURN(const internal::AlertedObligation* record,
                           txn.FindFollowed(o.context, o.force, o.id));
    if (record == nullptr || !record->overdue_alert_id().empty()) continue;
    const absl::Time obligation_due = TimeOf(record->obligation().due_time());
    if (obligation_due > txn.now()) continue;
    alerts.push_back(AlertKey(o.force, OverdueAlertId(o.context, o.force, o.id, obligation_due)));
  }
  return txn.PrefetchAlerts(std::move(alerts));
}

// The obligation a feed event is about: a notice's, or the event's own. Its id is empty for a
// notice about no obligation.
const v1::Obligation& ObligationOf(const v1::ObligationEvent& event) {
  return event.type() == v1::OBLIGATION_EVENT_TYPE_NOTICE ? event.notice().obligation()
                                                          : event.obligation();
}

// Reads, in two batched reads, what applying `entries` after `cursor` will look for event by
// event: the followed records of the obligations they name, then the alerts those records name
// and the overdue alerts of those past due.
// Under load the follower applies feed entries by the dozen or more to one commit.
absl::Status Prefetch(AlertEngine::Txn& txn, absl::string_view context,
                      const std::vector<FeedEntry>& entries, uint64_t cursor) {
  struct Named {
    const v1::Obligation* obligation;
    bool timed;  // opened or re-timed: Apply may raise its overdue alert
  };
  std::vector<Named> named;
  for (const FeedEntry& entry : entries) {
    if (entry.sequence <= cursor) continue;
    for (const v1::ObligationEvent& event : entry.events) {
      const v1::Obligation& o = ObligationOf(event);
      if (o.id().empty()) continue;
      named.push_back({&o, event.type() == v1::OBLIGATION_EVENT_TYPE_OPENED ||
                               event.type() == v1::OBLIGATION_EVENT_TYPE_RETIMED});
    }
  }
  if (named.empty()) return absl::OkStatus();
  std::vector<std::string> followed;
  followed.reserve(named.size());
  for (const auto& [o, timed] : named) {
    followed.push_back(ObligationKey(context, o->force(), o->id()));
  }
  VIGIL_RETURN_IF_ERROR(txn.PrefetchFollowed(std::move(followed)));
  std::vector<std::string> alerts;
  for (const auto& [o, timed] : named) {
    VIGIL_ASSIGN_OR_RETURN(const internal::AlertedObligation* record,
                           txn.FindFollowed(context, o->force(), o->id()));
    if (record != nullptr) {
      for (const std::string& id : record->notice_alert_ids()) {
        alerts.push_back(AlertKey(o->force(), id));
      }
      if (!record->overdue_alert_id().empty()) {
        alerts.push_back(AlertKey(o->force(), record->overdue_alert_id()));
        continue;
      }
    }
    // Past due as the event leaves it (a referral received weeks ago): Apply raises its overdue
    // alert, and first looks for one raised from the same due time before.
    if (const absl::Time due = TimeOf(o->due_time()); timed && due <= txn.now()) {
      alerts.push_back(AlertKey(o->force(), OverdueAlertId(context, o->force(), o->id(), due)));
    }
  }
  return txn.PrefetchAlerts(std::move(alerts));
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
  VIGIL_RETURN_IF_ERROR(Prefetch(txn, context, entries, cursor));
  uint64_t last = cursor;
  // Obligations opened or re-timed in this batch, by (force, id).
  std::set<std::pair<std::string, std::string>> timed;
  for (const FeedEntry& entry : entries) {
    if (entry.sequence <= last) continue;
    for (const v1::ObligationEvent& event : entry.events) {
      switch (event.type()) {
        case v1::OBLIGATION_EVENT_TYPE_OPENED:
        case v1::OBLIGATION_EVENT_TYPE_RETIMED:
          VIGIL_RETURN_IF_ERROR(Follow(txn, context, event.obligation(),
                                       *policies_.Current(event.obligation().force()), zone_));
          timed.emplace(event.obligation().force(), event.obligation().id());
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
  // One past due as the batch leaves it (a referral received weeks ago, a clock re-timed into
  // the past) is alerted now, as the scanner's next pass would: a deadline written at its past
  // due time would send that pass back over every tombstone the scanner has left since. Judged
  // on the batch's end state, so that a clock met on time and re-timed later in the batch (a
  // follower catching up) raises nothing, as one closed since does.
  for (const auto& [force, id] : timed) {
    VIGIL_ASSIGN_OR_RETURN(internal::AlertedObligation * followed,
                           txn.FindFollowed(context, force, id));
    if (followed == nullptr || !followed->overdue_alert_id().empty() ||
        TimeOf(followed->obligation().due_time()) > txn.now()) {
      continue;
    }
    VIGIL_RETURN_IF_ERROR(RaiseOverdue(txn, *followed, *policies_.Current(force), zone_));
    txn.CountOverdueRaised();
  }
  txn.change().Put(Family::kEntities, CursorKey(context), absl::StrCat(last));
  return Commit(
      txn, EngineAudits(txn, v1::AUDIT_ACTION_COLLECTION, absl::StrCat("alerts/follow/", context)));
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
  VIGIL_RETURN_IF_ERROR(Prefetch(txn, due));
  std::map<std::string, LateEscalations> late;  // by force
  for (const storage::Deadline& deadline : due) {
    // Whatever the record says now, this entry is done; the record's own deadlines are
    // written back from its state (rederive).
    txn.RemoveDeadline(deadline);
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
      txn.CountOverdueRaised();
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
  VIGIL_RETURN_IF_ERROR(Commit(txn, EngineAudits(txn, v1::AUDIT_ACTION_ALTERATION, "alerts/scan")));
  // Everything up to the last deadline processed is gone, bar what this batch added.
  scan_floor_ = due.back();
  LowerScanFloor(txn.earliest_added());
  return report;
}

void AlertEngine::SetDeadlineListener(std::function<void(absl::Time earliest)> wake) {
  absl::MutexLock lock(&listener_mu_);
  deadline_listener_ = std::move(wake);
}

absl::Status AlertEngine::Commit(Txn& txn, std::vector<storage::AuditEntry> audits) {
  storage::Change& change = txn.Finish();
  for (storage::AuditEntry& audit : audits) change.AddAudit(std::move(audit));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  static Metric& raised =
      Metrics::Default().Get("alerts_raised_total",
                             "Overdue alerts raised: by the scanner, or by a feed follower for an "
                             "obligation already past due when it learns of it");
  raised.Add(txn.overdue_raised());
  const absl::Time earliest = txn.earliest_added();
  LowerScanFloor(earliest);
  if (earliest == absl::InfiniteFuture()) return absl::OkStatus();  // no deadline added
  std::function<void(absl::Time)> wake;
  {
    absl::MutexLock lock(&listener_mu_);
    wake = deadline_listener_;
  }
  if (wake) wake(earliest);
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

}  // namespace vigil::alerts
