#include "services/rso/assessments.h"

#include <algorithm>
#include <compare>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/rso/keys.h"
#include "storage/key_codec.h"

namespace vigil::rso {
namespace {

using storage::Family;

template <typename Enum, typename IsValid>
absl::Status ValidateFactors(absl::string_view field,
                             const google::protobuf::RepeatedField<int>& values, IsValid is_valid) {
  std::set<int> seen;
  for (int value : values) {
    if (value == 0 || !is_valid(value))
      return FieldError(field, absl::StrCat("unknown factor ", value));
    if (!seen.insert(value).second)
      return FieldError(field, absl::StrCat("factor ", value, " is listed twice"));
  }
  return absl::OkStatus();
}

absl::Status NotManaged(const v1::Offender& record) {
  return absl::FailedPreconditionError(absl::StrCat("offender ", record.id(), " is ",
                                                    v1::OffenderStatus_Name(record.status()),
                                                    ": no longer under active management"));
}

// Newest-first order of an offender's plans: by review time, then by version.
struct PlanOrder {
  int64_t reviewed_micros = 0;
  int32_t version = 0;
  // clang-tidy 14 reads the defaulted <=>'s comparison with 0 as a null pointer constant.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const PlanOrder&, const PlanOrder&) = default;
};

PlanOrder OrderOf(const v1::RiskManagementPlan& plan) {
  return {storage::ToMicros(TimeOf(plan.reviewed_time())), plan.version()};
}

// Every plan of the offender as stored. Plans recorded before versions were kept have none:
// they are numbered here in the order they were recorded (before any later, numbered one).
absl::StatusOr<std::vector<v1::RiskManagementPlan>> LoadPlans(const storage::ReadView& view,
                                                              absl::string_view force,
                                                              absl::string_view offender) {
  std::vector<v1::RiskManagementPlan> plans;
  absl::Status parse;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      Family::kEntities, RmpHistoryPrefix(force, offender), {},
      [&](absl::string_view, absl::string_view value) {
        if (!plans.emplace_back().ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("a risk management plan record is unreadable");
          return false;
        }
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(parse);
  std::vector<v1::RiskManagementPlan*> by_recording;
  by_recording.reserve(plans.size());
  for (v1::RiskManagementPlan& plan : plans) by_recording.push_back(&plan);
  std::stable_sort(by_recording.begin(), by_recording.end(),
                   [](const v1::RiskManagementPlan* a, const v1::RiskManagementPlan* b) {
                     return TimeOf(a->record_time()) < TimeOf(b->record_time());
                   });
  for (size_t i = 0; i < by_recording.size(); ++i) {
    if (by_recording[i]->version() == 0) by_recording[i]->set_version(static_cast<int32_t>(i) + 1);
  }
  return plans;
}

// The current plan: the one reviewed latest, of two reviewed at once the one recorded later.
// Null when there is none.
const v1::RiskManagementPlan* CurrentOf(const std::vector<v1::RiskManagementPlan>& plans) {
  const v1::RiskManagementPlan* current = nullptr;
  for (const v1::RiskManagementPlan& plan : plans) {
    if (current == nullptr || OrderOf(*current) < OrderOf(plan)) current = &plan;
  }
  return current;
}

}  // namespace

absl::StatusOr<v1::ArmsAssessment> Assessments::RecordArms(
    const CallContext& call, const v1::RecordArmsAssessmentRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(OffenderStore::BoundEdit arms, PrepareArms(call, request));
  return offenders_.Mutate<v1::ArmsAssessment>(call, request.offender_id(), arms.request,
                                               arms.edit);
}

void Assessments::RecordArmsAsync(std::shared_ptr<const CallContext> call,
                                  const v1::RecordArmsAssessmentRequest& request, Executor& retries,
                                  OffenderStore::Answer<v1::ArmsAssessment> done) {
  absl::StatusOr<OffenderStore::BoundEdit> arms = PrepareArms(*call, request);
  offenders_.MutateAsync<v1::ArmsAssessment>(std::move(call), request.offender_id(),
                                             std::move(arms), retries, std::move(done));
}

absl::StatusOr<OffenderStore::BoundEdit> Assessments::PrepareArms(
    const CallContext& call, const v1::RecordArmsAssessmentRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(const absl::Time completed,
                         RequirePastTime("completed_time", request.has_completed_time(),
                                         request.completed_time(), call.now));
  VIGIL_RETURN_IF_ERROR(ValidateText("assessor", request.assessor(), 128, true));
  if (!v1::RiskLevel_IsValid(request.risk_level()) ||
      request.risk_level() == v1::RISK_LEVEL_UNSPECIFIED) {
    return FieldError("risk_level", "an assessment must give a risk level (LOW to VERY_HIGH)");
  }
  VIGIL_RETURN_IF_ERROR(ValidateFactors<v1::ArmsRiskFactor>("risk_factors", request.risk_factors(),
                                                            v1::ArmsRiskFactor_IsValid));
  VIGIL_RETURN_IF_ERROR(ValidateFactors<v1::ArmsProtectiveFactor>(
      "protective_factors", request.protective_factors(), v1::ArmsProtectiveFactor_IsValid));
  VIGIL_RETURN_IF_ERROR(ValidateText("notes", request.notes(), 4000, false, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));

  v1::ArmsAssessment assessment;
  assessment.set_id(NewId("A"));
  assessment.set_offender_id(request.offender_id());
  *assessment.mutable_completed_time() = ToProtoTime(completed);
  assessment.set_assessor(request.assessor());
  assessment.set_risk_level(request.risk_level());
  *assessment.mutable_risk_factors() = request.risk_factors();
  *assessment.mutable_protective_factors() = request.protective_factors();
  assessment.set_notes(request.notes());
  assessment.set_recorded_by(call.principal.actor);
  *assessment.mutable_record_time() = ToProtoTime(call.now);

  // The edit may run again, after this returns: it owns what it reads but the request, which
  // outlives the answer.
  return OffenderStore::BoundEdit{
      BindRequest(call, request),
      [this, &request, assessment = std::move(assessment), completed](
          v1::Offender& record, storage::Change& change, Edit& edit) -> absl::Status {
        if (!Managed(record.status())) return NotManaged(record);
        VIGIL_RETURN_IF_ERROR(
            NotBeforeRegistration("completed_time", completed, record, offenders_.zone()));
        change.Put(Family::kEntities,
                   ArmsKey(record.force(), record.id(), completed, assessment.id()),
                   assessment.SerializeAsString());
        edit.action = v1::AUDIT_ACTION_COLLECTION;
        edit.extra_subjects = {assessment.id()};
        edit.response = assessment.SerializeAsString();
        const std::optional<absl::Time> latest =
            TimeOf(record.has_last_arms_time(), record.last_arms_time());
        if (latest.has_value() && completed < *latest) return absl::OkStatus();  // history only
        record.set_risk_level(request.risk_level());
        *record.mutable_last_arms_time() = ToProtoTime(completed);
        // The assessment answers every trigger up to its completion.
        google::protobuf::RepeatedPtrField<v1::Trigger> still_open;
        for (const v1::Trigger& t : record.open_triggers()) {
          if (*TimeOf(true, t.time()) > completed) *still_open.Add() = t;
        }
        record.mutable_open_triggers()->Swap(&still_open);
        // The ARMS, trigger, RMP and (for a new risk level) visit clocks re-time from
        // these facts (clocks.h): a high-risk offender does not wait out an interval
        // set when they were low risk.
        return absl::OkStatus();
      }};
}

absl::StatusOr<v1::ListArmsAssessmentsResponse> Assessments::ListArms(
    const CallContext& call, const v1::ListArmsAssessmentsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  const std::string& force = call.principal.force;
  const storage::ReadView view = offenders_.store().Snapshot();
  VIGIL_RETURN_IF_ERROR(offenders_.LoadForCaller(call, view, request.offender_id()).status());
  v1::ListArmsAssessmentsResponse response;
  absl::Status parse;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(Family::kEntities, ArmsPrefix(force, request.offender_id()),
                                        {}, [&](absl::string_view, absl::string_view value) {
                                          if (!response.add_assessments()->ParseFromArray(
                                                  value.data(), static_cast<int>(value.size()))) {
                                            parse = absl::DataLossError(
                                                "an ARMS assessment is unreadable");
                                            return false;
                                          }
                                          return true;
                                        }));
  VIGIL_RETURN_IF_ERROR(parse);
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, {request.offender_id()}));
  return response;
}

absl::StatusOr<v1::RiskManagementPlan> Assessments::RecordRmp(
    const CallContext& call, const v1::RecordRiskManagementPlanRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(const absl::Time reviewed,
                         RequirePastTime("reviewed_time", request.has_reviewed_time(),
                                         request.reviewed_time(), call.now));
  VIGIL_RETURN_IF_ERROR(ValidateText("author", request.author(), 128, true));
  if (request.visit_interval_days() < 0 || request.visit_interval_days() > 3653) {
    return FieldError("visit_interval_days",
                      absl::StrCat("must be 0 (policy default) to 3653 days (got ",
                                   request.visit_interval_days(), ")"));
  }
  if (request.officers_required() < 0 || request.officers_required() > 10) {
    return FieldError("officers_required",
                      absl::StrCat("must be 1-10 (got ", request.officers_required(), ")"));
  }
  if (request.unannounced_share_percent() < 0 || request.unannounced_share_percent() > 100) {
    return FieldError(
        "unannounced_share_percent",
        absl::StrCat("must be 0-100 (got ", request.unannounced_share_percent(), ")"));
  }
  if (request.visit_interval_days() != 0 && request.reason().empty()) {
    return FieldError("reason", "required when the plan overrides the policy's visit interval");
  }
  for (auto [field, text] :
       {std::pair<absl::string_view, const std::string*>{"supervision", &request.supervision()},
        {"monitoring_and_control", &request.monitoring_and_control()},
        {"interventions_and_treatment", &request.interventions_and_treatment()},
        {"victim_safety", &request.victim_safety()},
        {"contingency", &request.contingency()},
        {"reason", &request.reason()}}) {
    VIGIL_RETURN_IF_ERROR(ValidateText(field, *text, 8000, false, true));
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));

  v1::RiskManagementPlan plan;
  plan.set_id(NewId("P"));
  plan.set_offender_id(request.offender_id());
  *plan.mutable_reviewed_time() = ToProtoTime(reviewed);
  plan.set_author(request.author());
  plan.set_supervision(request.supervision());
  plan.set_monitoring_and_control(request.monitoring_and_control());
  plan.set_interventions_and_treatment(request.interventions_and_treatment());
  plan.set_victim_safety(request.victim_safety());
  plan.set_contingency(request.contingency());
  plan.set_visit_interval_days(request.visit_interval_days());
  plan.set_officers_required(request.officers_required() == 0 ? 1 : request.officers_required());
  plan.set_unannounced_share_percent(request.unannounced_share_percent());
  plan.set_device_check_required(request.device_check_required());
  plan.set_reason(request.reason());
  plan.set_recorded_by(call.principal.actor);
  *plan.mutable_record_time() = ToProtoTime(call.now);

  VIGIL_ASSIGN_OR_RETURN(
      v1::RiskManagementPlan stored,
      offenders_.Mutate<v1::RiskManagementPlan>(
          call, request.offender_id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change& change, Edit& edit) -> absl::Status {
            if (!Managed(record.status())) return NotManaged(record);
            VIGIL_RETURN_IF_ERROR(
                NotBeforeRegistration("reviewed_time", reviewed, record, offenders_.zone()));
            const std::string& force = record.force();
            // Every earlier plan changed the offender record, whose stored value the commit
            // expects: the history read here is the one the commit builds on.
            VIGIL_ASSIGN_OR_RETURN(std::vector<v1::RiskManagementPlan> history,
                                   LoadPlans(offenders_.store().Snapshot(), force, record.id()));
            plan.set_version(static_cast<int32_t>(history.size()) + 1);
            change.Put(Family::kEntities, RmpHistoryKey(force, record.id(), reviewed, plan.id()),
                       plan.SerializeAsString());
            edit.action = v1::AUDIT_ACTION_COLLECTION;
            edit.extra_subjects = {plan.id()};
            // The review clock runs from the later of this review and the last one known (an
            // imported date, or an earlier plan).
            const std::optional<absl::Time> last_review =
                TimeOf(record.has_last_rmp_review_time(), record.last_rmp_review_time());
            if (!last_review.has_value() || reviewed > *last_review) {
              *record.mutable_last_rmp_review_time() = ToProtoTime(reviewed);
            }
            history.push_back(plan);
            v1::RiskManagementPlan response = plan;
            if (CurrentOf(history)->id() != plan.id()) {  // an older review: history only
              edit.response = response.SerializeAsString();
              return absl::OkStatus();
            }
            response.set_current(true);
            edit.response = response.SerializeAsString();
            change.Put(Family::kEntities, CurrentRmpKey(force, record.id()),
                       plan.SerializeAsString());
            v1::VisitRequirements& requirements = *record.mutable_visit_requirements();
            requirements.set_plan_id(plan.id());
            *requirements.mutable_plan_reviewed_time() = plan.reviewed_time();
            requirements.set_visit_interval_days(plan.visit_interval_days());
            requirements.set_officers_required(plan.officers_required());
            requirements.set_unannounced_share_percent(plan.unannounced_share_percent());
            requirements.set_device_check_required(plan.device_check_required());
            requirements.set_reason(plan.reason());
            // A new current plan awaits a supervisor's sign-off (clocks.h: the sign-off clock).
            *record.mutable_rmp_sign_off_pending_since() = plan.record_time();
            return absl::OkStatus();
          }));
  return stored;
}

absl::StatusOr<v1::RiskManagementPlan> Assessments::GetRmp(
    const CallContext& call, const v1::GetRiskManagementPlanRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  const std::string& force = call.principal.force;
  const storage::ReadView view = offenders_.store().Snapshot();
  VIGIL_RETURN_IF_ERROR(offenders_.LoadForCaller(call, view, request.offender_id()).status());
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::RiskManagementPlan> history,
                         LoadPlans(view, force, request.offender_id()));
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, {request.offender_id()}));
  const v1::RiskManagementPlan* current = CurrentOf(history);
  if (current == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("offender ", request.offender_id(), " has no risk management plan recorded"));
  }
  v1::RiskManagementPlan plan = *current;
  plan.set_current(true);
  return plan;
}

absl::StatusOr<v1::ListRiskManagementPlansResponse> Assessments::ListRmps(
    const CallContext& call, const v1::ListRiskManagementPlansRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const std::string& force = call.principal.force;
  const std::string query = absl::StrCat("rmps|", force, "|", request.offender_id());
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));
  std::optional<PlanOrder> after;
  if (!cursor.empty()) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(cursor, ':');
    PlanOrder order;
    if (!absl::SimpleAtoi(parts.first, &order.reviewed_micros) ||
        !absl::SimpleAtoi(parts.second, &order.version)) {
      return FieldError("page.page_token", "is not a token this server issued");
    }
    after = order;
  }
  const storage::ReadView view = offenders_.store().Snapshot();
  VIGIL_RETURN_IF_ERROR(offenders_.LoadForCaller(call, view, request.offender_id()).status());
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::RiskManagementPlan> history,
                         LoadPlans(view, force, request.offender_id()));
  const v1::RiskManagementPlan* current = CurrentOf(history);
  const std::string current_id = current != nullptr ? current->id() : std::string();
  std::sort(history.begin(), history.end(),
            [](const v1::RiskManagementPlan& a, const v1::RiskManagementPlan& b) {
              return OrderOf(b) < OrderOf(a);
            });
  v1::ListRiskManagementPlansResponse response;
  for (const v1::RiskManagementPlan& plan : history) {
    if (after.has_value() && !(OrderOf(plan) < *after)) continue;
    if (response.plans_size() == page_size) {
      const PlanOrder last = OrderOf(response.plans(page_size - 1));
      response.set_next_page_token(
          EncodePageToken(query, absl::StrCat(last.reviewed_micros, ":", last.version)));
      break;
    }
    v1::RiskManagementPlan& out = *response.add_plans() = plan;
    out.set_current(plan.id() == current_id);
  }
  std::vector<std::string> subjects = {request.offender_id()};
  for (const v1::RiskManagementPlan& plan : response.plans()) subjects.push_back(plan.id());
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, std::move(subjects)));
  return response;
}

absl::StatusOr<v1::RiskManagementPlan> Assessments::SignOffRmp(
    const CallContext& call, const v1::SignOffRiskManagementPlanRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  if (!request.plan_id().empty()) VIGIL_RETURN_IF_ERROR(ValidateId("plan_id", request.plan_id()));
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 4000, false, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  if (call.principal.rank < Rank::kSergeant) {
    absl::Status denied = absl::PermissionDeniedError(absl::StrCat(
        "only a sergeant or above signs off a risk management plan (your credential's rank is ",
        RankName(call.principal.rank), ")"));
    storage::Change change;
    change.SetAudit(call.Audit(v1::AUDIT_ACTION_ALTERATION, {request.offender_id()},
                               denied.message(), v1::AUDIT_REFUSAL_ROLE));
    VIGIL_RETURN_IF_ERROR(offenders_.store().Commit(change).status());
    return denied;
  }
  VIGIL_ASSIGN_OR_RETURN(
      v1::RiskManagementPlan stored,
      offenders_.Mutate<v1::RiskManagementPlan>(
          call, request.offender_id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change& change, Edit& edit) -> absl::Status {
            if (!Managed(record.status())) return NotManaged(record);
            const std::string& force = record.force();
            VIGIL_ASSIGN_OR_RETURN(std::vector<v1::RiskManagementPlan> history,
                                   LoadPlans(offenders_.store().Snapshot(), force, record.id()));
            const v1::RiskManagementPlan* current = CurrentOf(history);
            if (current == nullptr) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "offender ", record.id(), " has no risk management plan to sign off"));
            }
            const std::string plan_id =
                request.plan_id().empty() ? current->id() : request.plan_id();
            const bool is_current = plan_id == current->id();
            v1::RiskManagementPlan* plan = nullptr;
            for (v1::RiskManagementPlan& p : history) {
              if (p.id() == plan_id) plan = &p;
            }
            if (plan == nullptr) {
              return absl::NotFoundError(absl::StrCat("plan_id: offender ", record.id(),
                                                      " has no risk management plan ", plan_id));
            }
            if (!plan->signed_off_by().empty()) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "plan ", plan_id, " was already signed off by ", plan->signed_off_by(), " on ",
                  FormatUtcDate(TimeOf(plan->signed_off_time()))));
            }
            plan->set_signed_off_by(call.principal.actor);
            *plan->mutable_signed_off_time() = ToProtoTime(call.now);
            plan->set_sign_off_note(request.note());
            // Stored without the read-time `current` flag.
            v1::RiskManagementPlan saved = *plan;
            saved.clear_current();
            change.Put(Family::kEntities,
                       RmpHistoryKey(force, record.id(), TimeOf(saved.reviewed_time()), saved.id()),
                       saved.SerializeAsString());
            if (is_current) {
              change.Put(Family::kEntities, CurrentRmpKey(force, record.id()),
                         saved.SerializeAsString());
              record.clear_rmp_sign_off_pending_since();  // meets the sign-off clock
            }
            saved.set_current(is_current);
            edit.action = v1::AUDIT_ACTION_ALTERATION;
            edit.extra_subjects = {saved.id()};
            edit.response = saved.SerializeAsString();
            return absl::OkStatus();
          }));
  return stored;
}

}  // namespace vigil::rso
