#include "services/rso/register.h"

#include <algorithm>

#include "absl/container/btree_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/policy/calendar.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"

namespace vigil::rso {
namespace {

using storage::Family;

constexpr int kMaxImportRows = 1000;

// Adds a trigger unless an unanswered one of the same type is already open.
void AddTrigger(v1::Offender& record, v1::TriggerType type, absl::Time time, absl::string_view note,
                absl::string_view by) {
  for (const v1::Trigger& t : record.open_triggers()) {
    if (t.type() == type && TimeOf(true, t.time()) == time) return;
  }
  v1::Trigger* trigger = record.add_open_triggers();
  trigger->set_type(type);
  *trigger->mutable_time() = ToProtoTime(time);
  trigger->set_note(std::string(note));
  trigger->set_recorded_by(std::string(by));
}

// The most years a review that continues an indefinite requirement may set before the next
// (SOA 2003 s.91D(7)), and the default.
constexpr int kMaxYearsToNextReview = 15;
constexpr int kDefaultYearsToNextReview = 8;

// What a record's notification lifecycle allows, checked on the record as it would be stored:
// registration on or after the requirement's start (by local day), and status EXPIRED only
// when the requirement has ended (vigil sets it then; asking for it earlier is refused). An
// update asking for a managed status once the requirement has ended is refused too; a new
// record past its period (an import of history) is simply stored EXPIRED.
enum class StatusAsked { kNo, kOnCreate, kOnUpdate };
absl::Status CheckLifecycle(const v1::Offender& o, StatusAsked status_asked, absl::Time now,
                            absl::TimeZone zone) {
  if (o.has_registered_time() && o.has_requirement_start_time() &&
      policy::LocalDay(TimeOf(o.registered_time()), zone) <
          policy::LocalDay(TimeOf(o.requirement_start_time()), zone)) {
    return FieldError("offender.registered_time",
                      absl::StrCat(FormatUtcDate(TimeOf(o.registered_time())),
                                   " is before the requirement started on ",
                                   FormatUtcDate(TimeOf(o.requirement_start_time()))));
  }
  if (status_asked == StatusAsked::kNo) return absl::OkStatus();
  v1::Offender stored = o;
  SetNotificationEnd(stored, zone);  // as Derive will from the facts
  const std::optional<RequirementEnd> ended = EndedRequirement(stored, now, zone);
  if (o.status() == v1::OFFENDER_STATUS_EXPIRED && !ended.has_value()) {
    if (o.notification_period() == v1::NOTIFICATION_PERIOD_INDEFINITE) {
      return FieldError("offender.status",
                        "an indefinite notification requirement ends only by a review: record "
                        "it with RecordNotificationReview (outcome ENDED)");
    }
    return FieldError(
        "offender.status",
        stored.has_notification_end_time()
            ? absl::StrCat("EXPIRED is set by vigil when the notification period ends, on ",
                           absl::FormatCivilTime(
                               policy::DueDay(TimeOf(stored.notification_end_time()), zone)))
            : std::string("EXPIRED is set by vigil when the notification period ends; give "
                          "notification_period and registered_time"));
  }
  if (status_asked == StatusAsked::kOnUpdate && o.status() != v1::OFFENDER_STATUS_EXPIRED &&
      ended.has_value() && Managed(o.status())) {
    return FieldError("offender.status",
                      absl::StrCat(ended->reason,
                                   ": the offender stays EXPIRED (correct "
                                   "notification_period or registered_time if they are wrong)"));
  }
  return absl::OkStatus();
}

constexpr absl::string_view kUpdatable[] = {"display_name",
                                            "visor_ref",
                                            "registered_time",
                                            "notification_period",
                                            "owner_officer",
                                            "team",
                                            "status",
                                            "mappa_category",
                                            "mappa_level",
                                            "under_18_at_conviction",
                                            "last_notification_time",
                                            "change_pending_since",
                                            "change_pending_note",
                                            "last_offence_time",
                                            "civil_order_active",
                                            "last_intelligence_time",
                                            "requirement_start_time"};

}  // namespace

absl::StatusOr<v1::Offender> Register::Create(const CallContext& call,
                                              const v1::CreateOffenderRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  VIGIL_ASSIGN_OR_RETURN(v1::Offender offender, ValidateNewOffender(request.offender(), call.now));
  VIGIL_RETURN_IF_ERROR(CheckLifecycle(
      offender, request.offender().status() != 0 ? StatusAsked::kOnCreate : StatusAsked::kNo,
      call.now, offenders_.zone()));
  return offenders_.Create(call, std::move(offender), BindRequest(call, request));
}

absl::StatusOr<v1::Offender> Register::Update(const CallContext& call,
                                              const v1::UpdateOffenderRequest& request) {
  const v1::Offender& in = request.offender();
  VIGIL_RETURN_IF_ERROR(ValidateId("offender.id", in.id()));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  if (in.revision() <= 0)
    return FieldError("offender.revision", "required: send the revision you read");
  if (request.update_mask().paths_size() == 0)
    return FieldError("update_mask", "name the fields to change");
  for (const std::string& path : request.update_mask().paths()) {
    if (std::find(std::begin(kUpdatable), std::end(kUpdatable), path) == std::end(kUpdatable)) {
      return FieldError("update_mask", absl::StrCat("'", path, "' cannot be updated (updatable: ",
                                                    absl::StrJoin(kUpdatable, ", "), ")"));
    }
  }
  // Validate the new values as a whole offender would be, then copy only the masked fields.
  v1::Offender candidate = in;
  if (candidate.display_name().empty()) candidate.set_display_name("-");
  if (candidate.owner_officer().empty()) candidate.set_owner_officer("-");
  if (candidate.team().empty()) candidate.set_team("-");
  if (!candidate.has_registered_time() && !candidate.has_requirement_start_time())
    *candidate.mutable_registered_time() = ToProtoTime(call.now);
  candidate.clear_id();
  VIGIL_RETURN_IF_ERROR(ValidateNewOffender(candidate, call.now).status());
  auto masked = [&](absl::string_view field) {
    for (const std::string& path : request.update_mask().paths()) {
      if (path == field) return true;
    }
    return false;
  };
  for (auto [field, value] :
       {std::pair<absl::string_view, const std::string*>{"display_name", &in.display_name()},
        {"owner_officer", &in.owner_officer()},
        {"team", &in.team()}}) {
    if (masked(field) && value->empty())
      return FieldError(absl::StrCat("offender.", field), "required");
  }
  if (masked("registered_time") && !in.has_registered_time()) {
    return FieldError("offender.registered_time", "required");
  }

  VIGIL_ASSIGN_OR_RETURN(
      v1::Offender updated,
      offenders_.Mutate<v1::Offender>(
          call, in.id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change&, Edit& edit) -> absl::Status {
            if (record.revision() != in.revision()) {
              return absl::AbortedError(absl::StrCat("offender ", in.id(), ": revision ",
                                                     in.revision(), " is stale (now ",
                                                     record.revision(), "); read it again"));
            }
            const v1::OffenderStatus old_status = record.status();
            const int old_level = record.mappa_level();
            if (masked("display_name")) record.set_display_name(in.display_name());
            if (masked("visor_ref")) record.set_visor_ref(in.visor_ref());
            if (masked("registered_time")) {
              *record.mutable_registered_time() = in.registered_time();
            }
            if (masked("notification_period"))
              record.set_notification_period(in.notification_period());
            if (masked("under_18_at_conviction"))
              record.set_under_18_at_conviction(in.under_18_at_conviction());
            if (masked("owner_officer")) record.set_owner_officer(in.owner_officer());
            if (masked("team")) record.set_team(in.team());
            if (masked("status")) {
              record.set_status(in.status() == v1::OFFENDER_STATUS_UNSPECIFIED
                                    ? v1::OFFENDER_STATUS_ACTIVE_COMMUNITY
                                    : in.status());
            }
            if (masked("mappa_category")) record.set_mappa_category(in.mappa_category());
            if (masked("mappa_level")) record.set_mappa_level(in.mappa_level());
            if (masked("last_notification_time")) {
              if (in.has_last_notification_time()) {
                *record.mutable_last_notification_time() = in.last_notification_time();
              } else {
                record.clear_last_notification_time();
              }
            }
            if (masked("change_pending_since")) {
              if (in.has_change_pending_since()) {
                *record.mutable_change_pending_since() = in.change_pending_since();
              } else {
                record.clear_change_pending_since();
              }
            }
            if (masked("change_pending_note")) {
              record.set_change_pending_note(in.change_pending_note());
            }
            if (masked("last_offence_time")) {
              if (in.has_last_offence_time()) {
                *record.mutable_last_offence_time() = in.last_offence_time();
              } else {
                record.clear_last_offence_time();
              }
            }
            if (masked("civil_order_active"))
              record.set_civil_order_active(in.civil_order_active());
            if (masked("last_intelligence_time")) {
              if (in.has_last_intelligence_time()) {
                *record.mutable_last_intelligence_time() = in.last_intelligence_time();
              } else {
                record.clear_last_intelligence_time();
              }
            }
            if (masked("requirement_start_time")) {
              if (in.has_requirement_start_time()) {
                *record.mutable_requirement_start_time() = in.requirement_start_time();
              } else if (!record.has_registered_time()) {
                return FieldError("offender.requirement_start_time",
                                  "required until registered_time is recorded");
              } else {
                record.clear_requirement_start_time();
              }
            }
            VIGIL_RETURN_IF_ERROR(
                CheckLifecycle(record, masked("status") ? StatusAsked::kOnUpdate : StatusAsked::kNo,
                               call.now, offenders_.zone()));
            // Events the domain treats as reassessment triggers.
            if (Managed(record.status())) {
              if (record.mappa_level() != old_level && old_level != 0) {
                AddTrigger(record, v1::TRIGGER_TYPE_MAPPA_LEVEL_CHANGE, call.now,
                           absl::StrCat("MAPPA level ", old_level, " to ", record.mappa_level()),
                           call.principal.actor);
              }
              if (old_status == v1::OFFENDER_STATUS_IN_CUSTODY &&
                  record.status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY) {
                AddTrigger(record, v1::TRIGGER_TYPE_RELEASE_FROM_CUSTODY, call.now,
                           "status changed from in custody to active in the community",
                           call.principal.actor);
              }
            }
            return absl::OkStatus();
          }));
  return updated;
}

absl::StatusOr<v1::Offender> Register::RecordTrigger(const CallContext& call,
                                                     const v1::RecordTriggerRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  if (!v1::TriggerType_IsValid(request.type()) || request.type() == v1::TRIGGER_TYPE_UNSPECIFIED) {
    return FieldError("type", "give the kind of trigger (e.g. TRIGGER_TYPE_NEW_INTELLIGENCE)");
  }
  VIGIL_ASSIGN_OR_RETURN(const absl::Time time,
                         RequirePastTime("time", request.has_time(), request.time(), call.now));
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 1000, false, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  VIGIL_ASSIGN_OR_RETURN(
      v1::Offender updated,
      offenders_.Mutate<v1::Offender>(
          call, request.offender_id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change&, Edit& edit) -> absl::Status {
            if (!Managed(record.status())) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "offender ", record.id(), " is ", v1::OffenderStatus_Name(record.status()),
                  ": no longer under active management"));
            }
            const std::optional<absl::Time> last_arms =
                TimeOf(record.has_last_arms_time(), record.last_arms_time());
            if (last_arms.has_value() && *last_arms >= time) {
              return absl::FailedPreconditionError(
                  absl::StrCat("time: the ARMS of ", FormatUtcDate(*last_arms),
                               " postdates this trigger and answered it"));
            }
            AddTrigger(record, request.type(), time, request.note(), call.principal.actor);
            if (request.type() == v1::TRIGGER_TYPE_NEW_INTELLIGENCE &&
                (!record.has_last_intelligence_time() ||
                 TimeOf(true, record.last_intelligence_time()) < time)) {
              *record.mutable_last_intelligence_time() = ToProtoTime(time);
            }
            return absl::OkStatus();
          }));
  return updated;
}

absl::StatusOr<v1::Offender> Register::RecordNotificationReview(
    const CallContext& call, const v1::RecordNotificationReviewRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  if (request.outcome() != v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED &&
      request.outcome() != v1::NOTIFICATION_REVIEW_OUTCOME_ENDED) {
    return FieldError("outcome", "give NOTIFICATION_REVIEW_OUTCOME_CONTINUED or _ENDED");
  }
  const absl::Time decided =
      request.has_decision_time() ? TimeOf(request.decision_time()) : call.now;
  VIGIL_RETURN_IF_ERROR(
      RequirePastTime("decision_time", true, ToProtoTime(decided), call.now).status());
  VIGIL_RETURN_IF_ERROR(ValidateText("reason", request.reason(), 2000, true, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  const absl::TimeZone zone = offenders_.zone();
  absl::Time next;
  if (request.outcome() == v1::NOTIFICATION_REVIEW_OUTCOME_ENDED) {
    if (request.has_next_review_time()) {
      return FieldError("next_review_time", "an ENDED requirement has no next review");
    }
  } else if (request.has_next_review_time()) {
    next = TimeOf(request.next_review_time());
    const absl::Time latest = policy::NextNotificationReview(decided, kMaxYearsToNextReview, zone);
    if (next <= decided || next > latest) {
      return FieldError(
          "next_review_time",
          absl::StrCat("must fall after the decision and at most ", kMaxYearsToNextReview,
                       " years after it (by ", FormatUtcDate(latest), ")"));
    }
  } else {
    next = policy::NextNotificationReview(decided, kDefaultYearsToNextReview, zone);
  }
  return offenders_.Mutate<v1::Offender>(
      call, request.offender_id(), BindRequest(call, request),
      [&](v1::Offender& record, storage::Change&, Edit&) -> absl::Status {
        if (record.notification_period() != v1::NOTIFICATION_PERIOD_INDEFINITE) {
          return FieldError(
              "offender_id",
              absl::StrCat("offender ", record.id(), " has a fixed notification period",
                           record.has_notification_end_time()
                               ? absl::StrCat(" ending on ",
                                              absl::FormatCivilTime(policy::DueDay(
                                                  TimeOf(record.notification_end_time()), zone)))
                               : std::string(),
                           ": only an indefinite requirement is reviewed"));
        }
        if (!Managed(record.status())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "offender ", record.id(), " is ", v1::OffenderStatus_Name(record.status()),
              record.notification_ended_reason().empty()
                  ? std::string(": no longer under active management")
                  : absl::StrCat(": ", record.notification_ended_reason())));
        }
        VIGIL_RETURN_IF_ERROR(NotBeforeRegistration("decision_time", decided, record, zone));
        if (const v1::NotificationReview* last = LatestReview(record);
            last != nullptr && TimeOf(last->decision_time()) > decided) {
          return FieldError(
              "decision_time",
              absl::StrCat("the review of ", FormatUtcDate(TimeOf(last->decision_time())),
                           " is later: record reviews in the order decided"));
        }
        v1::NotificationReview* review = record.add_notification_reviews();
        review->set_outcome(request.outcome());
        *review->mutable_decision_time() = ToProtoTime(decided);
        review->set_reason(request.reason());
        review->set_decided_by(call.principal.actor);
        *review->mutable_record_time() = ToProtoTime(call.now);
        if (request.outcome() == v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED) {
          *review->mutable_next_review_time() = ToProtoTime(next);
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<int> Register::CloseEndedRequirements(const CallContext& call) {
  const std::string& force = call.principal.force;
  // An offender's requirement ends with time passing (a fixed period's end): the daily pass
  // finds those still managed past their end, and each change is one audited commit.
  std::vector<std::string> due;
  VIGIL_RETURN_IF_ERROR(
      offenders_.ForEach(offenders_.store().Snapshot(), force, [&](const v1::Offender& record) {
        if (Managed(record.status()) &&
            EndedRequirement(record, call.now, offenders_.zone()).has_value()) {
          due.push_back(record.id());
        }
        return true;
      }));
  int closed = 0;
  for (const std::string& id : due) {
    absl::StatusOr<v1::Offender> updated = offenders_.Mutate<v1::Offender>(
        call, id, IdempotentRequest(),
        [](v1::Offender&, storage::Change&, Edit&) { return absl::OkStatus(); });
    if (!updated.ok()) return updated.status();
    if (updated->status() == v1::OFFENDER_STATUS_EXPIRED) ++closed;
  }
  return closed;
}

absl::StatusOr<v1::Offender> Register::LinkReferral(const CallContext& call,
                                                    const v1::LinkReferralRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_RETURN_IF_ERROR(ValidateId("referral.referral_id", request.referral().referral_id()));
  VIGIL_RETURN_IF_ERROR(ValidateText("referral.state", request.referral().state(), 64, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  if (!v1::RiskLevel_IsValid(request.referral().grade()))
    return FieldError("referral.grade", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(
      const absl::Time received,
      RequirePastTime("referral.received_time", request.referral().has_received_time(),
                      request.referral().received_time(), call.now));
  VIGIL_ASSIGN_OR_RETURN(
      v1::Offender updated,
      offenders_.Mutate<v1::Offender>(
          call, request.offender_id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change&, Edit& edit) -> absl::Status {
            bool known = false;
            google::protobuf::RepeatedPtrField<v1::LinkedReferral> kept;
            for (const v1::LinkedReferral& linked : record.linked_referrals()) {
              if (linked.referral_id() == request.referral().referral_id()) {
                known = true;
                continue;
              }
              *kept.Add() = linked;
            }
            if (request.open()) *kept.Add() = request.referral();
            record.mutable_linked_referrals()->Swap(&kept);
            edit.extra_subjects = {request.referral().referral_id()};
            if (known || !request.open() || !Managed(record.status())) return absl::OkStatus();
            if (!record.has_last_intelligence_time() ||
                TimeOf(true, record.last_intelligence_time()) < received) {
              *record.mutable_last_intelligence_time() = ToProtoTime(received);
            }
            const std::optional<absl::Time> last_arms =
                TimeOf(record.has_last_arms_time(), record.last_arms_time());
            if (!last_arms.has_value() || *last_arms < received) {
              AddTrigger(record, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, received,
                         absl::StrCat("OCAIT referral ", request.referral().referral_id()),
                         call.principal.actor);
            }
            return absl::OkStatus();
          }));
  return updated;
}

absl::StatusOr<v1::ImportOffendersResponse> Register::Import(
    const CallContext& call, const v1::ImportOffendersRequest& request) {
  if (request.rows_size() > kMaxImportRows) {
    return FieldError("rows", absl::StrCat("at most ", kMaxImportRows, " per request (got ",
                                           request.rows_size(), ")"));
  }
  v1::ImportOffendersResponse response;
  const std::string& force = call.principal.force;
  for (const v1::OffenderImportRow& row : request.rows()) {
    auto fail = [&](const absl::Status& status) {
      *response.add_errors() = RowError(row.line(), status);
    };
    if (row.offender().visor_ref().empty()) {
      fail(FieldError("visor_ref", "required: it identifies the row when the import is repeated"));
      continue;
    }
    absl::StatusOr<v1::Offender> offender = ValidateNewOffender(row.offender(), call.now);
    if (!offender.ok()) {
      fail(offender.status());
      continue;
    }
    if (absl::Status lifecycle = CheckLifecycle(
            *offender, row.offender().status() != 0 ? StatusAsked::kOnCreate : StatusAsked::kNo,
            call.now, offenders_.zone());
        !lifecycle.ok()) {
      fail(lifecycle);
      continue;
    }
    absl::StatusOr<std::optional<absl::Time>> arms = OptionalPastTime(
        "last_arms_time", row.has_last_arms_time(), row.last_arms_time(), call.now);
    if (!arms.ok()) {
      fail(arms.status());
      continue;
    }
    if (arms->has_value() != (row.last_arms_risk_level() != v1::RISK_LEVEL_UNSPECIFIED)) {
      fail(FieldError("last_arms_risk_level",
                      "give the latest ARMS date and its risk level together"));
      continue;
    }
    if (!v1::RiskLevel_IsValid(row.last_arms_risk_level())) {
      fail(FieldError("last_arms_risk_level", "unknown value"));
      continue;
    }
    absl::StatusOr<std::optional<absl::Time>> rmp =
        OptionalPastTime("last_rmp_review_time", row.has_last_rmp_review_time(),
                         row.last_rmp_review_time(), call.now);
    if (!rmp.ok()) {
      fail(rmp.status());
      continue;
    }
    absl::StatusOr<std::optional<absl::Time>> visit = OptionalPastTime(
        "last_visit_time", row.has_last_visit_time(), row.last_visit_time(), call.now);
    if (!visit.ok()) {
      fail(visit.status());
      continue;
    }
    absl::StatusOr<std::optional<std::string>> holder =
        offenders_.store().Snapshot().Get(Family::kIndex, VisorKey(force, offender->visor_ref()));
    if (!holder.ok()) return holder.status();
    if (holder->has_value()) {
      response.set_already_present(response.already_present() + 1);
      continue;
    }

    v1::Offender record = *std::move(offender);
    storage::Change extra;
    if (arms->has_value()) {
      record.set_risk_level(row.last_arms_risk_level());
      *record.mutable_last_arms_time() = ToProtoTime(**arms);
      v1::ArmsAssessment assessment;
      assessment.set_id(NewId("A"));
      assessment.set_offender_id(record.id());
      *assessment.mutable_completed_time() = ToProtoTime(**arms);
      assessment.set_assessor("unknown (imported)");
      assessment.set_risk_level(row.last_arms_risk_level());
      assessment.set_notes(absl::StrCat("imported from a register export, line ", row.line()));
      assessment.set_recorded_by(call.principal.actor);
      *assessment.mutable_record_time() = ToProtoTime(call.now);
      extra.Put(Family::kEntities, ArmsKey(force, record.id(), **arms, assessment.id()),
                assessment.SerializeAsString());
    }
    if (rmp->has_value()) *record.mutable_last_rmp_review_time() = ToProtoTime(**rmp);
    if (visit->has_value()) *record.mutable_last_visit_time() = ToProtoTime(**visit);
    if (request.dry_run()) {
      response.set_imported(response.imported() + 1);
      continue;
    }
    absl::StatusOr<v1::Offender> created =
        offenders_.Create(call, std::move(record), IdempotentRequest(), extra);
    if (absl::IsAlreadyExists(created.status()) &&
        absl::StrContains(created.status().message(), "visor_ref")) {
      response.set_already_present(response.already_present() + 1);
    } else if (absl::IsInvalidArgument(created.status()) ||
               absl::IsAlreadyExists(created.status())) {
      fail(created.status());
    } else if (!created.ok()) {
      return created.status();  // storage failed: stop, the client retries the batch
    } else {
      response.set_imported(response.imported() + 1);
    }
  }
  return response;
}

}  // namespace vigil::rso
