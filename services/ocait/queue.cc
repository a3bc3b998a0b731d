#include "services/ocait/queue.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/ocait/clocks.h"
#include "services/ocait/identifiers.h"
#include "services/ocait/keys.h"
#include "services/policy/policy.h"
#include "storage/key_codec.h"

namespace vigil::ocait {
namespace {

using storage::Family;

constexpr int kMaxImportRows = 1000;
constexpr absl::string_view kDefaultTeam = "ocait";

std::string StateName(v1::ReferralState state) { return v1::ReferralState_Name(state); }

void AddHistory(v1::Referral& r, v1::ReferralState from, v1::ReferralState to, absl::Time when,
                absl::string_view by, absl::string_view note) {
  v1::StateChange* change = r.add_history();
  change->set_from(from);
  change->set_to(to);
  *change->mutable_time() = ToProtoTime(when);
  change->set_by(std::string(by));
  change->set_note(std::string(note));
}

// A time of the referral's life: not in the future, not before it was received.
absl::StatusOr<absl::Time> LifeTime(absl::string_view field, bool present,
                                    const google::protobuf::Timestamp& ts, const v1::Referral& r,
                                    absl::Time now) {
  VIGIL_ASSIGN_OR_RETURN(const absl::Time t, RequirePastTime(field, present, ts, now));
  if (t < TimeOf(r.received_time())) {
    return FieldError(field,
                      absl::StrCat(FormatUtcTime(t), " is before the referral was received on ",
                                   FormatUtcDate(TimeOf(r.received_time()))));
  }
  return t;
}

absl::Status GradeGiven(absl::string_view field, v1::RiskLevel grade) {
  if (!v1::RiskLevel_IsValid(grade) || grade == v1::RISK_LEVEL_UNSPECIFIED) {
    return FieldError(field, "give a grade: LOW, MEDIUM, HIGH or VERY_HIGH");
  }
  return absl::OkStatus();
}

// The four checks of an intelligence refresh, each DONE with its outcome or NOT_POSSIBLE with
// the reason, with the bools set from them (done or not). InvalidArgument "checks: ..." naming
// every check not so recorded.
absl::StatusOr<v1::IntelChecks> ValidateChecks(const v1::IntelChecks& in) {
  v1::IntelChecks out;
  const struct {
    const char* field;
    const char* what;
    const v1::IntelCheck& given;
    v1::IntelCheck* kept;
  } checks[] = {
      {"csc_record", "children's social care", in.csc_record(), out.mutable_csc_record()},
      {"household_children_record", "children in the household or with access",
       in.household_children_record(), out.mutable_household_children_record()},
      {"regulated_activity_record", "employment or volunteering in regulated activity",
       in.regulated_activity_record(), out.mutable_regulated_activity_record()},
      {"police_systems_record", "police systems PNC, PND, ViSOR", in.police_systems_record(),
       out.mutable_police_systems_record()},
  };
  std::vector<std::string> missing;
  for (const auto& check : checks) {
    const std::string field = absl::StrCat("checks.", check.field);
    const v1::IntelCheck& given = check.given;
    VIGIL_RETURN_IF_ERROR(
        ValidateText(absl::StrCat(field, ".outcome"), given.outcome(), 2000, false, true));
    VIGIL_RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".not_possible_reason"),
                                       given.not_possible_reason(), 2000, false, true));
    switch (given.status()) {
      case v1::INTEL_CHECK_STATUS_DONE:
        if (given.outcome().empty()) {
          missing.push_back(absl::StrCat(field, " (", check.what, "): done, but no outcome"));
          continue;
        }
        check.kept->set_outcome(given.outcome());
        break;
      case v1::INTEL_CHECK_STATUS_NOT_POSSIBLE:
        if (given.not_possible_reason().empty()) {
          missing.push_back(
              absl::StrCat(field, " (", check.what, "): not possible, but no reason"));
          continue;
        }
        check.kept->set_not_possible_reason(given.not_possible_reason());
        break;
      default:
        missing.push_back(absl::StrCat(field, " (", check.what, "): not recorded"));
        continue;
    }
    check.kept->set_status(given.status());
  }
  if (!missing.empty()) {
    return FieldError("checks",
                      absl::StrCat("record each check as DONE with its outcome or as NOT_POSSIBLE "
                                   "with the reason; missing: ",
                                   absl::StrJoin(missing, "; ")));
  }
  out.set_csc(out.csc_record().status() == v1::INTEL_CHECK_STATUS_DONE);
  out.set_household_children(out.household_children_record().status() ==
                             v1::INTEL_CHECK_STATUS_DONE);
  out.set_regulated_activity(out.regulated_activity_record().status() ==
                             v1::INTEL_CHECK_STATUS_DONE);
  out.set_police_systems(out.police_systems_record().status() == v1::INTEL_CHECK_STATUS_DONE);
  return out;
}

}  // namespace

Queue::Queue(storage::Store& store, const policy::PolicyRegistry& policies, absl::TimeZone zone,
             OffenderLink* link, LinkOutbox* outbox)
    : policies_(policies), zone_(zone), link_(link), outbox_(outbox), records_(store, *this) {}

std::string Queue::Key(absl::string_view force, absl::string_view id) const {
  return ReferralKey(force, id);
}

std::string Queue::LegacyRequestKey(absl::string_view force, absl::string_view request_id) const {
  return ocait::LegacyRequestKey(force, request_id);
}

std::vector<std::string> Queue::IndexKeys(const v1::Referral& record) const {
  return ocait::IndexKeys(record);
}

std::vector<UniqueKey> Queue::UniqueKeys(const v1::Referral& r) const {
  std::vector<UniqueKey> keys;
  if (!r.source_reference().empty()) {
    keys.push_back({SourceKey(r.force(), r.source_reference()), "referral.source_reference",
                    r.source_reference()});
  }
  return keys;
}

std::string Queue::DisplayNameOf(const v1::Referral& r) const {
  if (!r.subject_display_name().empty()) return r.subject_display_name();
  if (r.identifiers_size() > 0) return r.identifiers(0).value();
  return absl::StrCat("referral ", r.id());
}

void Queue::Derive(const CallContext&, const v1::Referral* before, v1::Referral& after,
                   const RecordEdit& edit) const {
  const std::vector<v1::Obligation> clocks =
      DeriveClocks(before, after, edit.recompute, *policies_.Current(after.force()), zone_);
  after.clear_obligations();
  for (const v1::Obligation& o : clocks) *after.add_obligations() = o;
}

void Queue::AlsoWrite(const v1::Referral* before, const v1::Referral& after,
                      storage::Change& change) const {
  const std::string cell = CountName(after.force(), after.team(), after.state(), after.grade());
  const std::string old_cell = before == nullptr ? std::string()
                                                 : CountName(before->force(), before->team(),
                                                             before->state(), before->grade());
  if (cell != old_cell) {
    if (before != nullptr) change.AddToCounter(old_cell, -1);
    change.AddToCounter(cell, 1);
  }
  const bool news =
      before == nullptr || before->state() != after.state() || before->grade() != after.grade();
  if (after.linked_offender_id().empty() || !news) return;
  // The register hears of the referral through its API; the outbox makes that survive a crash.
  v1::LinkReferralRequest link;
  link.set_offender_id(after.linked_offender_id());
  link.mutable_referral()->set_referral_id(after.id());
  link.mutable_referral()->set_state(StateName(after.state()));
  link.mutable_referral()->set_grade(after.grade());
  *link.mutable_referral()->mutable_received_time() = after.received_time();
  link.set_open(after.state() != v1::REFERRAL_STATE_CLOSED);
  link.set_request_id(absl::StrCat("ocait-link/", after.id(), "/", after.revision()));
  change.Put(Family::kEntities, OutboxKey(after.force(), after.id(), after.revision()),
             link.SerializeAsString());
}

Queue::RetentionRule Queue::RetentionOf(const v1::Referral& record) const {
  const std::shared_ptr<const v1::Policy> policy = policies_.Current(record.force());
  const v1::RetentionGroup group = policy::ReferralRetentionGroup(*policy);
  return {group, policy::RetentionReviewDue(*policy, group, record.retention(),
                                            TimeOf(record.update_time()), zone_)};
}

std::string Queue::StillManaged(const v1::Referral& record) const {
  if (record.state() == v1::REFERRAL_STATE_CLOSED) return {};
  return absl::StrCat("referral ", record.id(), " is still open (state ",
                      v1::ReferralState_Name(record.state()), ")");
}

absl::StatusOr<int64_t> Queue::AddErasure(const storage::ReadView& view, const v1::Referral& record,
                                          storage::Change& change) const {
  bool pending = false;
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(storage::Family::kEntities,
                      absl::StrCat(OutboxPrefix(), storage::LengthPrefixed(record.force()),
                                   storage::LengthPrefixed(record.id())),
                      {}, [&](absl::string_view, absl::string_view) {
                        pending = true;
                        return false;
                      }));
  if (pending) {
    return absl::FailedPreconditionError(absl::StrCat(
        "referral ", record.id(), ": its link to offender ", record.linked_offender_id(),
        " is still being sent to the register; try again in a minute"));
  }
  change.AddToCounter(CountName(record.force(), record.team(), record.state(), record.grade()), -1);
  return 0;
}

void Queue::AfterWrite(const v1::Referral& referral) {
  if (outbox_ != nullptr && !referral.linked_offender_id().empty()) outbox_->Notify();
}

absl::StatusOr<v1::Referral> Queue::ValidateNew(const CallContext& call, const v1::Referral& in) {
  v1::Referral r;
  if (in.id().empty()) {
    r.set_id(NewId("Q"));
  } else {
    VIGIL_RETURN_IF_ERROR(ValidateId("referral.id", in.id()));
    r.set_id(in.id());
  }
  if (!v1::ReferralSource_IsValid(in.source()) || in.source() == v1::REFERRAL_SOURCE_UNSPECIFIED) {
    return FieldError("referral.source", "give the source: NCA_CEOP, OTHER_FORCE or INTERNAL");
  }
  r.set_source(in.source());
  VIGIL_RETURN_IF_ERROR(
      ValidateText("referral.source_reference", in.source_reference(), 128, false));
  r.set_source_reference(in.source_reference());
  VIGIL_ASSIGN_OR_RETURN(const absl::Time received,
                         RequirePastTime("referral.received_time", in.has_received_time(),
                                         in.received_time(), call.now));
  *r.mutable_received_time() = ToProtoTime(received);
  VIGIL_RETURN_IF_ERROR(
      ValidateText("referral.subject_display_name", in.subject_display_name(), 200, false));
  r.set_subject_display_name(in.subject_display_name());
  if (in.subject_display_name().empty() && in.identifiers().empty()) {
    return FieldError("referral.identifiers", "give the subject's name or at least one identifier");
  }
  std::set<std::pair<int, std::string>> seen;
  for (int i = 0; i < in.identifiers_size(); ++i) {
    const v1::SubjectIdentifier& id = in.identifiers(i);
    const std::string field = absl::StrCat("referral.identifiers[", i, "]");
    if (!v1::IdentifierType_IsValid(id.type())) return FieldError(field, "unknown identifier type");
    VIGIL_ASSIGN_OR_RETURN(std::string normalized,
                           NormalizeIdentifier(id.type(), id.value(), field));
    if (!seen.emplace(id.type(), normalized).second) continue;
    v1::SubjectIdentifier* kept = r.add_identifiers();
    kept->set_type(id.type());
    kept->set_value(std::string(absl::StripAsciiWhitespace(id.value())));
    kept->set_normalized(std::move(normalized));
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("referral.team", in.team(), 64, false));
  r.set_team(in.team().empty() ? std::string(kDefaultTeam) : in.team());
  VIGIL_RETURN_IF_ERROR(ValidateText("referral.summary", in.summary(), 4000, false, true));
  r.set_summary(in.summary());
  if (!in.linked_offender_id().empty()) {
    VIGIL_RETURN_IF_ERROR(ValidateId("referral.linked_offender_id", in.linked_offender_id()));
    if (link_ == nullptr) {
      return absl::FailedPreconditionError(
          "linked_offender_id: no offender register is reachable from this vigild");
    }
    VIGIL_RETURN_IF_ERROR(link_->CheckExists(call, in.linked_offender_id()));
    r.set_linked_offender_id(in.linked_offender_id());
  }
  r.set_state(v1::REFERRAL_STATE_RECEIVED);
  *r.mutable_action_clock_start() = ToProtoTime(received);
  return r;
}

absl::Status Queue::Deconflict(const CallContext& call, v1::Referral& referral) {
  const storage::ReadView view = records_.store().Snapshot();
  // Every other referral holding one of its identifiers, in the identifiers' order, then read
  // in one batched lookup: a match names the other's state and officer, nothing more.
  struct Candidate {
    std::string id;
    const v1::SubjectIdentifier* identifier;
  };
  std::vector<Candidate> candidates;
  std::set<std::string> matched;
  for (const v1::SubjectIdentifier& identifier : referral.identifiers()) {
    const std::string prefix =
        IdentifierPrefix(call.principal.force, identifier.type(), identifier.normalized());
    VIGIL_RETURN_IF_ERROR(
        view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
          std::string id(key.substr(prefix.size()));
          if (id != referral.id() &&
              matched.insert(absl::StrCat(id, "|", identifier.normalized())).second) {
            candidates.push_back({std::move(id), &identifier});
          }
          return true;
        }));
  }
  if (candidates.empty()) return absl::OkStatus();
  // Each referral read once, however many identifiers it shares.
  std::vector<std::string> ids;
  ids.reserve(candidates.size());
  for (const Candidate& c : candidates) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  static const int kFields[] = {v1::Referral::kStateFieldNumber,
                                v1::Referral::kAllocatedOfficerFieldNumber};
  VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<v1::Referral>> read,
                         records_.LoadFields(view, call.principal.force, ids, kFields));
  absl::flat_hash_map<std::string, const v1::Referral*> others;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (read[i].has_value()) others.emplace(ids[i], &*read[i]);
  }
  for (const Candidate& candidate : candidates) {
    auto other = others.find(candidate.id);
    if (other == others.end()) continue;
    const v1::SubjectIdentifier& identifier = *candidate.identifier;
    v1::DeconflictionMatch* match = referral.add_deconfliction_matches();
    match->set_referral_id(candidate.id);
    match->set_type(identifier.type());
    match->set_normalized(identifier.normalized());
    match->set_state(other->second->state());
    match->set_allocated_officer(other->second->allocated_officer());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Referral> Queue::Create(const CallContext& call,
                                           const v1::CreateReferralRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(NewReferral created, PrepareCreate(call, request));
  VIGIL_ASSIGN_OR_RETURN(v1::Referral stored,
                         records_.Create(call, std::move(created.referral), created.bound));
  if (!created.replay) AfterWrite(stored);
  return stored;
}

void Queue::CreateAsync(std::shared_ptr<const CallContext> call,
                        const v1::CreateReferralRequest& request, Executor& retries,
                        RecordStore<v1::Referral>::Answer<v1::Referral> done) {
  absl::StatusOr<NewReferral> created = PrepareCreate(*call, request);
  if (!created.ok()) return std::move(done)(created.status());
  records_.CreateAsync(std::move(call), std::move(created->referral), std::move(created->bound),
                       storage::Change(), retries,
                       [this, replay = created->replay,
                        done = std::move(done)](absl::StatusOr<v1::Referral> stored) mutable {
                         if (stored.ok() && !replay) AfterWrite(*stored);
                         std::move(done)(std::move(stored));
                       });
}

absl::StatusOr<Queue::NewReferral> Queue::PrepareCreate(const CallContext& call,
                                                        const v1::CreateReferralRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request.request_id(), 128, false));
  NewReferral created;
  created.bound = BindRequest(call, request);
  // A retry of an answered request: the record store answers it again (audited, and before
  // anything here could refuse what was accepted once).
  VIGIL_ASSIGN_OR_RETURN(const std::optional<std::string> prior,
                         records_.PriorResponse(created.bound));
  created.replay = prior.has_value();
  if (created.replay) return created;
  VIGIL_ASSIGN_OR_RETURN(created.referral, ValidateNew(call, request.referral()));
  AddHistory(created.referral, v1::REFERRAL_STATE_UNSPECIFIED, v1::REFERRAL_STATE_RECEIVED,
             call.now, call.principal.actor,
             absl::StrCat("received from ", v1::ReferralSource_Name(created.referral.source())));
  VIGIL_RETURN_IF_ERROR(Deconflict(call, created.referral));
  return created;
}

absl::StatusOr<v1::Referral> Queue::Transition(
    const CallContext& call, absl::string_view id, const google::protobuf::Message& request,
    std::initializer_list<v1::ReferralState> from, absl::string_view verb,
    absl::FunctionRef<absl::Status(v1::Referral&, RecordEdit&)> edit) {
  VIGIL_RETURN_IF_ERROR(ValidateId("id", id));
  const IdempotentRequest bound = BindRequest(call, request);
  VIGIL_RETURN_IF_ERROR(ValidateText("request_id", bound.request_id, 128, false));
  VIGIL_ASSIGN_OR_RETURN(
      v1::Referral stored,
      records_.Mutate<v1::Referral>(
          call, id, bound, [&](v1::Referral& r, storage::Change&, RecordEdit& e) -> absl::Status {
            if (std::find(from.begin(), from.end(), r.state()) == from.end()) {
              std::vector<std::string> allowed;
              for (v1::ReferralState s : from) allowed.push_back(StateName(s));
              return absl::FailedPreconditionError(
                  absl::StrCat("referral ", r.id(), " is ", StateName(r.state()), ": it can be ",
                               verb, " only when ", absl::StrJoin(allowed, " or ")));
            }
            return edit(r, e);
          }));
  AfterWrite(stored);
  return stored;
}

absl::StatusOr<v1::Referral> Queue::Triage(const CallContext& call,
                                           const v1::TriageReferralRequest& request) {
  VIGIL_RETURN_IF_ERROR(GradeGiven("grade", request.grade()));
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 2000, false, true));
  return Transition(call, request.id(), request, {v1::REFERRAL_STATE_RECEIVED}, "triaged",
                    [&](v1::Referral& r, RecordEdit& edit) {
                      r.set_grade(request.grade());
                      r.set_children_access(request.children_access());
                      *r.mutable_triaged_time() = ToProtoTime(call.now);
                      r.set_state(v1::REFERRAL_STATE_AWAITING_ALLOCATION);
                      AddHistory(r, v1::REFERRAL_STATE_RECEIVED, r.state(), call.now,
                                 call.principal.actor,
                                 request.note().empty()
                                     ? absl::StrCat("graded ", v1::RiskLevel_Name(request.grade()))
                                     : request.note());
                      return absl::OkStatus();
                    });
}

absl::StatusOr<v1::Referral> Queue::Allocate(const CallContext& call,
                                             const v1::AllocateReferralRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("officer", request.officer(), 128, true));
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 2000, false, true));
  return Transition(call, request.id(), request,
                    {v1::REFERRAL_STATE_AWAITING_ALLOCATION, v1::REFERRAL_STATE_ALLOCATED},
                    "allocated", [&](v1::Referral& r, RecordEdit&) {
                      const v1::ReferralState from = r.state();
                      r.set_allocated_officer(request.officer());
                      if (!request.team().empty()) r.set_team(request.team());
                      r.set_state(v1::REFERRAL_STATE_ALLOCATED);
                      AddHistory(r, from, r.state(), call.now, call.principal.actor,
                                 request.note().empty()
                                     ? absl::StrCat("allocated to ", request.officer())
                                     : request.note());
                      return absl::OkStatus();
                    });
}

absl::StatusOr<v1::Referral> Queue::RecordIntelRefresh(
    const CallContext& call, const v1::RecordIntelRefreshRequest& request) {
  if (!v1::RiskLevel_IsValid(request.new_grade())) return FieldError("new_grade", "unknown value");
  VIGIL_RETURN_IF_ERROR(ValidateText("findings", request.findings(), 8000, false, true));
  VIGIL_RETURN_IF_ERROR(
      ValidateText("regrade_reason", request.regrade_reason(), 2000, false, true));
  VIGIL_RETURN_IF_ERROR(
      ValidateText("extension_reason", request.extension_reason(), 2000, false, true));
  VIGIL_ASSIGN_OR_RETURN(const v1::IntelChecks checks, ValidateChecks(request.checks()));
  const bool any_done = checks.csc() || checks.household_children() ||
                        checks.regulated_activity() || checks.police_systems();
  if (!request.extension_reason().empty() && call.principal.role != Role::kSupervisor &&
      call.principal.role != Role::kForceAdmin) {
    return absl::PermissionDeniedError(absl::StrCat(
        "extension_reason: only a supervisor or force-admin may give a lowered grade more time "
        "for action (the caller is ",
        RoleName(call.principal.role), "); leave it empty to keep the due time"));
  }
  return Transition(
      call, request.id(), request,
      {v1::REFERRAL_STATE_RECEIVED, v1::REFERRAL_STATE_AWAITING_ALLOCATION,
       v1::REFERRAL_STATE_ALLOCATED},
      "refreshed", [&](v1::Referral& r, RecordEdit& edit) -> absl::Status {
        VIGIL_ASSIGN_OR_RETURN(const absl::Time refreshed,
                               LifeTime("refreshed_time", request.has_refreshed_time(),
                                        request.refreshed_time(), r, call.now));
        const v1::RiskLevel before = r.grade();
        const v1::RiskLevel after =
            request.new_grade() == v1::RISK_LEVEL_UNSPECIFIED ? before : request.new_grade();
        if (after != before && r.state() == v1::REFERRAL_STATE_RECEIVED) {
          return FieldError("new_grade", "triage the referral before regrading it");
        }
        if (after < before && request.regrade_reason().empty()) {
          return FieldError("regrade_reason", absl::StrCat("required to lower the grade from ",
                                                           v1::RiskLevel_Name(before), " to ",
                                                           v1::RiskLevel_Name(after)));
        }
        if (!request.extension_reason().empty() && !(after < before)) {
          return FieldError("extension_reason",
                            absl::StrCat("only a lower new_grade can be given more time (",
                                         v1::RiskLevel_Name(before), " to ",
                                         v1::RiskLevel_Name(after), "); leave it empty"));
        }
        v1::IntelRefresh* refresh = r.add_refreshes();
        *refresh->mutable_refreshed_time() = ToProtoTime(refreshed);
        refresh->set_refreshed_by(call.principal.actor);
        *refresh->mutable_checks() = checks;
        refresh->set_findings(request.findings());
        refresh->set_children_access_found(request.children_access_found());
        refresh->set_grade_before(before);
        refresh->set_grade_after(after);
        refresh->set_regrade_reason(request.regrade_reason());
        refresh->set_extension_reason(request.extension_reason());
        // A refresh where no check could be done refreshed nothing: the clock keeps running.
        if (any_done && (!r.has_last_refresh_time() || TimeOf(r.last_refresh_time()) < refreshed)) {
          *r.mutable_last_refresh_time() = ToProtoTime(refreshed);
        }
        // The refresh re-times the refresh clock; a new grade the action and CSC clocks too.
        if (after != before) r.set_grade(after);
        if (after > before) {
          // The action clock takes the new grade's target from the refresh when that comes
          // first (clocks.cc: a regrade never gives more time).
          *r.mutable_action_clock_start() = ToProtoTime(refreshed);
          r.set_immediate_escalation(true);
        }
        if (request.children_access_found()) {
          r.set_children_access(true);
          r.set_immediate_escalation(true);
        }
        if (after > before || request.children_access_found()) {
          // The supervisor hears of it now, not when the restarted clock runs out.
          v1::ObligationNotice& notice = edit.notices.emplace_back();
          notice.set_id(absl::StrCat(r.id(), "/refresh/", r.refreshes_size()));
          notice.set_kind(v1::NOTICE_KIND_IMMEDIATE_ESCALATION);
          v1::Obligation& about = *notice.mutable_obligation();
          about.set_kind(v1::OBLIGATION_KIND_REFERRAL_ACTION);
          about.set_subject_id(r.id());
          about.set_risk_level(after);
          about.set_owner_officer(r.allocated_officer());
          about.set_team(r.team());
          about.set_force(r.force());
          std::vector<std::string> why;
          if (after > before) {
            why.push_back(absl::StrCat("regraded from ", policy::RiskName(before), " to ",
                                       policy::RiskName(after)));
          }
          if (request.children_access_found()) why.emplace_back("new access to children found");
          notice.set_summary(absl::StrCat("intelligence refresh of referral ", r.id(), ": ",
                                          absl::StrJoin(why, "; ")));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<v1::Referral> Queue::RecordCscCheck(const CallContext& call,
                                                   const v1::RecordCscCheckRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("result", request.result(), 4000, true, true));
  return Transition(call, request.id(), request,
                    {v1::REFERRAL_STATE_RECEIVED, v1::REFERRAL_STATE_AWAITING_ALLOCATION,
                     v1::REFERRAL_STATE_ALLOCATED, v1::REFERRAL_STATE_ACTIONED},
                    "CSC-checked", [&](v1::Referral& r, RecordEdit&) -> absl::Status {
                      VIGIL_ASSIGN_OR_RETURN(const absl::Time checked,
                                             LifeTime("checked_time", request.has_checked_time(),
                                                      request.checked_time(), r, call.now));
                      *r.mutable_csc_check()->mutable_checked_time() = ToProtoTime(checked);
                      r.mutable_csc_check()->set_checked_by(call.principal.actor);
                      r.mutable_csc_check()->set_result(request.result());
                      return absl::OkStatus();
                    });
}

absl::StatusOr<v1::Referral> Queue::Action(const CallContext& call,
                                           const v1::ActionReferralRequest& request) {
  if (!v1::ActionOutcome_IsValid(request.outcome()) ||
      request.outcome() == v1::ACTION_OUTCOME_UNSPECIFIED) {
    return FieldError("outcome",
                      "give the action: WARRANT_EXECUTED, ARREST, VOLUNTARY_INTERVIEW or OTHER");
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("note", request.note(), 2000, false, true));
  return Transition(
      call, request.id(), request, {v1::REFERRAL_STATE_ALLOCATED}, "actioned",
      [&](v1::Referral& r, RecordEdit&) -> absl::Status {
        VIGIL_ASSIGN_OR_RETURN(
            const absl::Time acted,
            LifeTime("action_time", request.has_action_time(), request.action_time(), r, call.now));
        *r.mutable_action_time() = ToProtoTime(acted);
        r.set_action_outcome(request.outcome());
        r.set_state(v1::REFERRAL_STATE_ACTIONED);
        r.set_immediate_escalation(false);
        AddHistory(
            r, v1::REFERRAL_STATE_ALLOCATED, r.state(), call.now, call.principal.actor,
            request.note().empty() ? v1::ActionOutcome_Name(request.outcome()) : request.note());
        return absl::OkStatus();
      });
}

absl::StatusOr<v1::Referral> Queue::Close(const CallContext& call,
                                          const v1::CloseReferralRequest& request) {
  if (!v1::ReferralOutcome_IsValid(request.outcome()) ||
      request.outcome() == v1::REFERRAL_OUTCOME_UNSPECIFIED) {
    return FieldError("outcome", "give the outcome: CLOSED, NO_FURTHER_ACTION or TRANSFERRED");
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("reason", request.reason(), 2000, true, true));
  return Transition(call, request.id(), request,
                    {v1::REFERRAL_STATE_RECEIVED, v1::REFERRAL_STATE_AWAITING_ALLOCATION,
                     v1::REFERRAL_STATE_ALLOCATED, v1::REFERRAL_STATE_ACTIONED},
                    "closed", [&](v1::Referral& r, RecordEdit&) {
                      const v1::ReferralState from = r.state();
                      r.set_state(v1::REFERRAL_STATE_CLOSED);
                      r.set_outcome(request.outcome());
                      r.set_close_reason(request.reason());
                      r.set_immediate_escalation(false);
                      AddHistory(r, from, r.state(), call.now, call.principal.actor,
                                 absl::StrCat(v1::ReferralOutcome_Name(request.outcome()), ": ",
                                              request.reason()));
                      return absl::OkStatus();
                    });
}

absl::StatusOr<v1::ImportReferralsResponse> Queue::Import(
    const CallContext& call, const v1::ImportReferralsRequest& request) {
  if (request.rows_size() > kMaxImportRows) {
    return FieldError("rows", absl::StrCat("at most ", kMaxImportRows, " per request (got ",
                                           request.rows_size(), ")"));
  }
  v1::ImportReferralsResponse response;
  const std::string& force = call.principal.force;
  bool linked = false;
  for (const v1::ReferralImportRow& row : request.rows()) {
    auto fail = [&](const absl::Status& status) {
      *response.add_errors() = RowError(row.line(), status);
    };
    const v1::Referral& in = row.referral();
    if (in.source_reference().empty()) {
      fail(FieldError("source_reference",
                      "required: it identifies the row when the import is repeated"));
      continue;
    }
    absl::StatusOr<std::optional<std::string>> holder =
        records_.store().Snapshot().Get(Family::kIndex, SourceKey(force, in.source_reference()));
    if (!holder.ok()) return holder.status();
    if (holder->has_value()) {
      response.set_already_present(response.already_present() + 1);
      continue;
    }
    absl::StatusOr<v1::Referral> referral = ValidateNew(call, in);
    if (!referral.ok()) {
      fail(referral.status());
      continue;
    }
    const v1::ReferralState state =
        in.state() == v1::REFERRAL_STATE_UNSPECIFIED ? v1::REFERRAL_STATE_RECEIVED : in.state();
    if (!v1::ReferralState_IsValid(state)) {
      fail(FieldError("state", "unknown value"));
      continue;
    }
    if (state != v1::REFERRAL_STATE_RECEIVED) {
      if (absl::Status s = GradeGiven("grade", in.grade()); !s.ok()) {
        fail(FieldError("grade", absl::StrCat("required for a referral ", StateName(state))));
        continue;
      }
      referral->set_grade(in.grade());
      *referral->mutable_triaged_time() =
          in.has_triaged_time() ? in.triaged_time() : referral->received_time();
    }
    if (state == v1::REFERRAL_STATE_ALLOCATED || state == v1::REFERRAL_STATE_ACTIONED) {
      if (in.allocated_officer().empty()) {
        fail(FieldError("allocated_officer",
                        absl::StrCat("required for a referral ", StateName(state))));
        continue;
      }
      referral->set_allocated_officer(in.allocated_officer());
    }
    if (state == v1::REFERRAL_STATE_ACTIONED) {
      *referral->mutable_action_time() =
          in.has_action_time() ? in.action_time() : referral->received_time();
      referral->set_action_outcome(in.action_outcome() == v1::ACTION_OUTCOME_UNSPECIFIED
                                       ? v1::ACTION_OUTCOME_OTHER
                                       : in.action_outcome());
    }
    if (state == v1::REFERRAL_STATE_CLOSED) {
      referral->set_outcome(in.outcome() == v1::REFERRAL_OUTCOME_UNSPECIFIED
                                ? v1::REFERRAL_OUTCOME_CLOSED
                                : in.outcome());
      referral->set_close_reason(in.close_reason().empty() ? "closed before import"
                                                           : in.close_reason());
    }
    if (in.has_last_refresh_time()) *referral->mutable_last_refresh_time() = in.last_refresh_time();
    referral->set_state(state);
    AddHistory(*referral, v1::REFERRAL_STATE_UNSPECIFIED, state, call.now, call.principal.actor,
               absl::StrCat("imported from a queue export, line ", row.line()));
    if (absl::Status s = Deconflict(call, *referral); !s.ok()) return s;
    if (request.dry_run()) {
      response.set_imported(response.imported() + 1);
      continue;
    }
    absl::StatusOr<v1::Referral> created =
        records_.Create(call, *std::move(referral), IdempotentRequest());
    if (absl::IsAlreadyExists(created.status()) &&
        absl::StrContains(created.status().message(), "source_reference")) {
      response.set_already_present(response.already_present() + 1);
    } else if (absl::IsInvalidArgument(created.status()) ||
               absl::IsAlreadyExists(created.status())) {
      fail(created.status());
    } else if (!created.ok()) {
      return created.status();
    } else {
      response.set_imported(response.imported() + 1);
      linked = linked || !created->linked_offender_id().empty();
    }
  }
  if (linked && outbox_ != nullptr) outbox_->Notify();
  return response;
}

}  // namespace vigil::ocait
