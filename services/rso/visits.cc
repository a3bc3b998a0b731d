#include "services/rso/visits.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/btree_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/obligations/ledger.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"

namespace vigil::rso {
namespace {

using storage::Family;

std::string Date(absl::Time t, absl::TimeZone zone) {
  return absl::FormatCivilTime(policy::LocalDay(t, zone));
}

v1::ComplianceFinding Finding(v1::ComplianceRule rule, const v1::Offender& record,
                              const v1::Visit& visit, absl::Time now, std::string evidence) {
  v1::ComplianceFinding finding;
  finding.set_id(NewId("F"));
  finding.set_rule(rule);
  finding.set_offender_id(record.id());
  finding.set_team(record.team());
  finding.set_officer(record.owner_officer());
  *finding.mutable_found_time() = ToProtoTime(now);
  finding.set_evidence(std::move(evidence));
  finding.set_visit_id(visit.id());
  return finding;
}

// The feed notice that makes a finding alert the offender's manager at once.
v1::ObligationNotice FindingNotice(const v1::Offender& record, const v1::Visit& visit,
                                   const v1::ComplianceFinding& finding) {
  v1::ObligationNotice notice;
  notice.set_id(finding.id());
  notice.set_kind(v1::NOTICE_KIND_NON_COMPLIANCE);
  v1::Obligation& about = *notice.mutable_obligation();
  about.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  about.set_subject_id(record.id());
  about.set_risk_level(record.risk_level());
  about.set_owner_officer(record.owner_officer());
  about.set_team(record.team());
  about.set_force(record.force());
  absl::string_view rule = v1::ComplianceRule_Name(finding.rule());
  absl::ConsumePrefix(&rule, "COMPLIANCE_RULE_");
  notice.set_summary(absl::StrCat("visit ", visit.id(), " broke the plan (",
                                  absl::AsciiStrToLower(rule), "): ", finding.evidence()));
  *notice.mutable_time() = finding.found_time();
  return notice;
}

// True when the local time of `t` is Monday to Friday within [start, end) hours.
bool InOfficeHours(absl::Time t, const v1::Policy& policy, absl::TimeZone zone) {
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::Weekday day = absl::GetWeekday(local);
  if (day == absl::Weekday::saturday || day == absl::Weekday::sunday) return false;
  return local.hour() >= policy.office_hours_start() && local.hour() < policy.office_hours_end();
}

// The findings `visit` raises against the plan, given the visits before it (newest first).
std::vector<v1::ComplianceFinding> Assess(const v1::Offender& record, const v1::Visit& visit,
                                          const std::vector<v1::Visit>& earlier,
                                          const v1::Policy& policy, absl::TimeZone zone,
                                          absl::Time now) {
  std::vector<v1::ComplianceFinding> findings;
  const v1::VisitRequirements& plan = record.visit_requirements();
  const std::string plan_ref =
      plan.plan_id().empty()
          ? std::string("no RMP is recorded, so 1 officer is the minimum")
          : absl::StrCat("the RMP reviewed on ", Date(TimeOf(plan.plan_reviewed_time()), zone));
  const int required = std::max(1, plan.officers_required());
  if (visit.officers_size() < required) {
    findings.push_back(Finding(v1::COMPLIANCE_RULE_SINGLE_CREWED, record, visit, now,
                               absl::StrCat(visit.officers_size(), " officer(s) present (",
                                            absl::StrJoin(visit.officers(), ", "), "); ", plan_ref,
                                            " requires ", required)));
  }
  if (plan.device_check_required() && !visit.device_check_done()) {
    findings.push_back(Finding(
        v1::COMPLIANCE_RULE_DEVICE_CHECK_MISSED, record, visit, now,
        absl::StrCat("no device check at the visit of ", Date(TimeOf(visit.visit_time()), zone),
                     "; ", plan_ref, " requires one at every visit")));
  }
  const size_t window = static_cast<size_t>(policy.compliance_window_visits());
  std::vector<const v1::Visit*> latest = {&visit};
  for (const v1::Visit& v : earlier) {
    if (latest.size() == window) break;
    latest.push_back(&v);
  }
  if (latest.size() < window) return findings;
  const int unannounced = static_cast<int>(std::count_if(
      latest.begin(), latest.end(), [](const v1::Visit* v) { return !v->announced(); }));
  const int share = static_cast<int>(100 * unannounced / static_cast<int>(window));
  if (share < plan.unannounced_share_percent()) {
    findings.push_back(Finding(
        v1::COMPLIANCE_RULE_UNANNOUNCED_SHARE_LOW, record, visit, now,
        absl::StrCat(unannounced, " of the last ", window, " visits unannounced (", share, "%); ",
                     plan_ref, " requires ", plan.unannounced_share_percent(), "%")));
  }
  if (std::all_of(latest.begin(), latest.end(), [&](const v1::Visit* v) {
        return InOfficeHours(TimeOf(v->visit_time()), policy, zone);
      })) {
    findings.push_back(
        Finding(v1::COMPLIANCE_RULE_OFFICE_HOURS_ONLY, record, visit, now,
                absl::StrCat("all of the last ", window, " visits were on weekdays between ",
                             absl::Dec(policy.office_hours_start(), absl::kZeroPad2), ":00 and ",
                             absl::Dec(policy.office_hours_end(), absl::kZeroPad2),
                             ":00; vary days and times, with evenings and weekends")));
  }
  return findings;
}

absl::Status NotInCommunity(const v1::Offender& record) {
  return absl::FailedPreconditionError(
      absl::StrCat("offender ", record.id(), " is ", v1::OffenderStatus_Name(record.status()),
                   ": home visits are for offenders active in the community"));
}

// The most officers one visit may name (visits.proto, docs/api.md).
constexpr int kMaxVisitOfficers = 20;

}  // namespace

absl::StatusOr<std::vector<v1::Visit>> Visits::VisitsBefore(absl::string_view force,
                                                            absl::string_view offender_id,
                                                            absl::Time visited, int count) const {
  std::vector<v1::Visit> earlier;
  absl::Status parse;
  // Visits are keyed newest first: start at the visit's own instant, so that a visit recorded
  // days late does not read every later one.
  VIGIL_RETURN_IF_ERROR(offenders_.store().Snapshot().ScanPrefix(
      Family::kEntities, VisitPrefix(force, offender_id), VisitKey(force, offender_id, visited, ""),
      [&](absl::string_view, absl::string_view value) {
        v1::Visit v;
        if (!v.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("a visit record is unreadable");
          return false;
        }
        if (TimeOf(v.visit_time()) <= visited) earlier.push_back(std::move(v));
        return earlier.size() < static_cast<size_t>(count);
      }));
  VIGIL_RETURN_IF_ERROR(parse);
  return earlier;
}

absl::StatusOr<v1::Visit> Visits::RecordVisit(const CallContext& call,
                                              const v1::RecordVisitRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(OffenderStore::BoundEdit visit, PrepareVisit(call, request));
  return offenders_.Mutate<v1::Visit>(call, request.offender_id(), visit.request, visit.edit);
}

void Visits::RecordVisitAsync(std::shared_ptr<const CallContext> call,
                              const v1::RecordVisitRequest& request, Executor& retries,
                              OffenderStore::Answer<v1::Visit> done) {
  absl::StatusOr<OffenderStore::BoundEdit> visit = PrepareVisit(*call, request);
  offenders_.MutateAsync<v1::Visit>(std::move(call), request.offender_id(), std::move(visit),
                                    retries, std::move(done));
}

absl::StatusOr<OffenderStore::BoundEdit> Visits::PrepareVisit(
    const CallContext& call, const v1::RecordVisitRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(
      const absl::Time visited,
      RequirePastTime("visit_time", request.has_visit_time(), request.visit_time(), call.now));
  if (request.officers().empty())
    return FieldError("officers", "name at least one officer present");
  if (request.officers_size() > kMaxVisitOfficers) {
    return FieldError("officers",
                      absl::StrCat("at most ", kMaxVisitOfficers, " officers at one visit (got ",
                                   request.officers_size(), ")"));
  }
  std::set<std::string> officers;
  for (const std::string& officer : request.officers()) {
    VIGIL_RETURN_IF_ERROR(ValidateText("officers", officer, 128, true));
    if (!officers.insert(officer).second)
      return FieldError("officers", absl::StrCat("'", officer, "' is listed twice"));
  }
  if (!v1::VisitOutcome_IsValid(request.outcome()) ||
      request.outcome() == v1::VISIT_OUTCOME_UNSPECIFIED) {
    return FieldError("outcome", "give the outcome: SEEN, NO_ACCESS or REFUSED");
  }
  if (!v1::DeviceCheckResult_IsValid(request.device_check_result())) {
    return FieldError("device_check_result", "unknown value");
  }
  if (!request.device_check_done() &&
      request.device_check_result() != v1::DEVICE_CHECK_RESULT_UNSPECIFIED) {
    return FieldError("device_check_result", "given, but device_check_done is false");
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("notes", request.notes(), 4000, false, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));

  std::shared_ptr<const v1::Policy> policy = offenders_.policy(call.principal.force);

  v1::Visit visit;
  visit.set_id(NewId("V"));
  visit.set_offender_id(request.offender_id());
  *visit.mutable_visit_time() = ToProtoTime(visited);
  visit.set_announced(request.announced());
  *visit.mutable_officers() = request.officers();
  visit.set_outcome(request.outcome());
  visit.set_device_check_done(request.device_check_done());
  visit.set_device_check_result(request.device_check_result());
  visit.set_notes(request.notes());
  visit.set_recorded_by(call.principal.actor);
  *visit.mutable_record_time() = ToProtoTime(call.now);

  // The edit may run again, after this returns: it owns what it reads but the call and the
  // request, which outlive the answer.
  return OffenderStore::BoundEdit{
      BindRequest(call, request),
      [this, &call, &request, visit = std::move(visit), visited, policy = std::move(policy)](
          v1::Offender& record, storage::Change& change, Edit& edit) -> absl::Status {
        const std::string& force = call.principal.force;
        if (record.status() != v1::OFFENDER_STATUS_ACTIVE_COMMUNITY) return NotInCommunity(record);
        VIGIL_RETURN_IF_ERROR(
            NotBeforeRegistration("visit_time", visited, record, offenders_.zone()));
        // Read on every attempt: a visit committed since the last one changed the record,
        // which is why this attempt runs, and belongs in the window.
        VIGIL_ASSIGN_OR_RETURN(
            const std::vector<v1::Visit> earlier,
            VisitsBefore(force, record.id(), visited, policy->compliance_window_visits()));
        v1::Visit stored = visit;
        stored.clear_findings();
        for (v1::ComplianceFinding& finding :
             Assess(record, visit, earlier, *policy, offenders_.zone(), call.now)) {
          const absl::Time found = TimeOf(finding.found_time());
          change.Put(Family::kEntities, FindingKey(force, found, finding.id()),
                     finding.SerializeAsString());
          change.Put(Family::kIndex, FindingByTeamKey(force, record.team(), found, finding.id()),
                     "");
          edit.notices.push_back(FindingNotice(record, stored, finding));
          *stored.add_findings() = std::move(finding);
        }
        change.Put(Family::kEntities, VisitKey(force, record.id(), visited, stored.id()),
                   stored.SerializeAsString());
        edit.action = v1::AUDIT_ACTION_COLLECTION;
        edit.extra_subjects = {stored.id()};
        edit.response = stored.SerializeAsString();
        if (request.outcome() == v1::VISIT_OUTCOME_SEEN) {
          if (!record.has_last_visit_time() || TimeOf(record.last_visit_time()) < visited) {
            *record.mutable_last_visit_time() = ToProtoTime(visited);
          }
          return absl::OkStatus();
        }
        // No access or a refusal does not satisfy the clock and calls for reassessment.
        const bool answered =
            record.has_last_arms_time() && TimeOf(record.last_arms_time()) >= visited;
        if (!answered) {
          v1::Trigger* trigger = record.add_open_triggers();
          trigger->set_type(v1::TRIGGER_TYPE_REFUSED_ACCESS);
          *trigger->mutable_time() = ToProtoTime(visited);
          trigger->set_note(request.outcome() == v1::VISIT_OUTCOME_REFUSED
                                ? "entry refused at a home visit"
                                : "no access at a home visit");
          trigger->set_recorded_by(call.principal.actor);
        }
        return absl::OkStatus();
      }};
}

absl::StatusOr<v1::ListVisitsResponse> Visits::ListVisits(const CallContext& call,
                                                          const v1::ListVisitsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const std::string& force = call.principal.force;
  const std::string query = absl::StrCat("visits|", force, "|", request.offender_id());
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));
  const storage::ReadView view = offenders_.store().Snapshot();
  VIGIL_RETURN_IF_ERROR(offenders_.LoadForCaller(call, view, request.offender_id()).status());
  const std::string prefix = VisitPrefix(force, request.offender_id());
  v1::ListVisitsResponse response;
  std::string last;
  bool more = false;
  absl::Status parse;
  const std::string start =
      cursor.empty() ? std::string() : absl::StrCat(prefix, cursor, std::string(1, '\0'));
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      Family::kEntities, prefix, start, [&](absl::string_view key, absl::string_view value) {
        if (response.visits_size() == page_size) {
          more = true;
          return false;
        }
        if (!response.add_visits()->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("a visit record is unreadable");
          return false;
        }
        last = std::string(key.substr(prefix.size()));
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(parse);
  if (more) response.set_next_page_token(EncodePageToken(query, last));
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, {request.offender_id()}));
  return response;
}

v1::VisitSchedule Visits::ScheduleOf(const v1::Offender& record, absl::Time now) const {
  v1::VisitSchedule schedule;
  schedule.set_offender_id(record.id());
  schedule.set_risk_level(record.risk_level());
  if (record.has_last_visit_time()) *schedule.mutable_last_visit_time() = record.last_visit_time();
  *schedule.mutable_requirements() = record.visit_requirements();
  *schedule.mutable_reactive_management() = record.reactive_management();
  schedule.set_interval_days(record.visit_interval_days());
  schedule.set_source(record.visit_interval_source());
  v1::Offender fresh = record;
  offenders_.RefreshEligibility(fresh, now);
  *schedule.mutable_reactive_eligibility() = fresh.reactive_eligibility();
  for (const v1::Obligation& o : record.obligations()) {
    if (o.id() != ObligationId(record.id(), Clock::kHomeVisit)) continue;
    *schedule.mutable_next_due_time() = o.due_time();
    schedule.set_policy_version(o.policy_version());
    schedule.set_reason(o.reason());
    return schedule;
  }
  if (record.reactive_management().enabled()) {
    schedule.set_not_scheduled_because(
        absl::StrCat("reactive management decided by ", record.reactive_management().decided_by(),
                     " on ", FormatUtcDate(TimeOf(record.reactive_management().decided_time())),
                     ": ", record.reactive_management().reason()));
  } else if (record.visit_paused()) {
    schedule.set_not_scheduled_because(
        absl::StrCat("paused while ", v1::OffenderStatus_Name(record.status()), " with ",
                     record.visit_paused_remaining_seconds() / 86400, " days left"));
  } else {
    schedule.set_not_scheduled_because(
        absl::StrCat("status ", v1::OffenderStatus_Name(record.status()),
                     ": only offenders active in the community are visited"));
  }
  return schedule;
}

absl::StatusOr<v1::VisitSchedule> Visits::GetSchedule(const CallContext& call,
                                                      const v1::GetVisitScheduleRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_ASSIGN_OR_RETURN(v1::Offender record, offenders_.Read(call, request.offender_id()));
  return ScheduleOf(record, call.now);
}

absl::StatusOr<v1::VisitSchedule> Visits::SetReactiveManagement(
    const CallContext& call, const v1::SetReactiveManagementRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("offender_id", request.offender_id()));
  VIGIL_RETURN_IF_ERROR(ValidateText("decided_by", request.decided_by(), 128, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("reason", request.reason(), 2000, true, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  VIGIL_ASSIGN_OR_RETURN(
      v1::Offender record,
      offenders_.Mutate<v1::Offender>(
          call, request.offender_id(), BindRequest(call, request),
          [&](v1::Offender& record, storage::Change&, Edit& edit) -> absl::Status {
            if (request.enabled()) {
              if (record.status() != v1::OFFENDER_STATUS_ACTIVE_COMMUNITY)
                return NotInCommunity(record);
              offenders_.RefreshEligibility(record, call.now);
              if (!record.reactive_eligibility().eligible()) {
                return absl::FailedPreconditionError(absl::StrCat(
                    "offender ", record.id(), " is not eligible for reactive management: ",
                    absl::StrJoin(record.reactive_eligibility().unmet(), "; ")));
              }
            }
            v1::ReactiveManagement& decision = *record.mutable_reactive_management();
            decision.set_enabled(request.enabled());
            decision.set_decided_by(request.decided_by());
            decision.set_reason(request.reason());
            *decision.mutable_decided_time() = ToProtoTime(call.now);
            decision.set_ended_because(
                request.enabled() ? "" : absl::StrCat("ended by ", request.decided_by()));
            return absl::OkStatus();
          }));
  return ScheduleOf(record, call.now);
}

}  // namespace vigil::rso
