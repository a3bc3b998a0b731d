#include "services/rso/offender_store.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "services/common/proto_time.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"

namespace vigil::rso {
namespace {

// Writes that lose a race to a concurrent write of the same record are retried this often.
constexpr int kMaxAttempts = 16;

using storage::Family;

absl::StatusOr<v1::Offender> Parse(absl::string_view raw, absl::string_view id) {
  v1::Offender record;
  if (!record.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
    return absl::DataLossError(absl::StrCat("offender record ", id, " is unreadable"));
  }
  return record;
}

std::vector<v1::Obligation> ObligationsOf(const v1::Offender& record) {
  return {record.obligations().begin(), record.obligations().end()};
}

// Derives the fields of the record that follow from others.
void DeriveOutputs(v1::Offender& record, absl::TimeZone zone) {
  const absl::Time registered = absl::FromUnixSeconds(record.registered_time().seconds()) +
                                absl::Nanoseconds(record.registered_time().nanos());
  if (std::optional<absl::Time> end =
          policy::NotificationEnd(record.notification_period(), record.under_18_at_conviction(),
                                  registered, zone)) {
    *record.mutable_notification_end_time() = ToProtoTime(*end);
  } else {
    record.clear_notification_end_time();
  }
}

}  // namespace

absl::StatusOr<std::optional<std::string>> OffenderStore::PriorResponse(
    const CallContext& call, absl::string_view request_id) const {
  if (request_id.empty()) return std::optional<std::string>();
  return store_.Snapshot().Get(Family::kIndex, RequestKey(call.principal.force, request_id));
}

absl::StatusOr<std::optional<v1::Offender>> OffenderStore::Load(const storage::ReadView& view,
                                                                absl::string_view force,
                                                                absl::string_view id) const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                         view.Get(Family::kEntities, OffenderKey(force, id)));
  if (!raw.has_value()) return std::optional<v1::Offender>();
  VIGIL_ASSIGN_OR_RETURN(v1::Offender record, Parse(*raw, id));
  return std::optional<v1::Offender>(std::move(record));
}

absl::Status OffenderStore::AuditRead(const CallContext& call, std::vector<std::string> subjects,
                                      absl::string_view outcome) {
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subjects), outcome));
  return store_.Commit(change).status();
}

void OffenderStore::PauseOrResumeVisits(const v1::Offender& before, v1::Offender& after,
                                        absl::Time now) const {
  const bool was_active = before.status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY;
  const bool pauses = after.status() == v1::OFFENDER_STATUS_IN_CUSTODY ||
                      after.status() == v1::OFFENDER_STATUS_ABROAD ||
                      after.status() == v1::OFFENDER_STATUS_WANTED;
  if (!was_active || !pauses) return;
  for (const v1::Obligation& o : before.obligations()) {
    if (o.id() != ObligationId(before.id(), Clock::kHomeVisit)) continue;
    const absl::Time due = absl::FromUnixSeconds(o.due_time().seconds());
    after.set_visit_paused(true);
    after.set_visit_paused_remaining_seconds(absl::ToInt64Seconds(due - now));
  }
}

void OffenderStore::RefreshEligibility(v1::Offender& record, absl::Time now) const {
  *record.mutable_reactive_eligibility() =
      policy::ReactiveEligibility(*policies_.Current(), record, now, zone_);
}

absl::StatusOr<v1::Offender> OffenderStore::Read(const CallContext& call, absl::string_view id) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Offender> record,
                         Load(store_.Snapshot(), call.principal.force, id));
  if (!record.has_value()) {
    VIGIL_RETURN_IF_ERROR(AuditRead(call, {std::string(id)}, "not found in force"));
    return absl::NotFoundError(
        absl::StrCat("offender ", id, " is not on the register of ", call.principal.force));
  }
  VIGIL_RETURN_IF_ERROR(AuditRead(call, {std::string(id)}));
  RefreshEligibility(*record, call.now);
  return *std::move(record);
}

void OffenderStore::BuildCommit(const CallContext& call, const v1::Offender* before,
                                const v1::Offender& after, v1::AuditAction action,
                                std::vector<std::string> extra_subjects,
                                storage::Change& change) const {
  const std::string& force = after.force();
  change.Put(Family::kEntities, OffenderKey(force, after.id()), after.SerializeAsString());

  std::vector<std::string> old_keys = before != nullptr ? IndexKeys(*before) : std::vector<std::string>();
  std::vector<std::string> new_keys = IndexKeys(after);
  const absl::flat_hash_set<std::string> keep(new_keys.begin(), new_keys.end());
  const absl::flat_hash_set<std::string> had(old_keys.begin(), old_keys.end());
  for (const std::string& key : old_keys) {
    if (!keep.contains(key)) change.Delete(Family::kIndex, key);
  }
  for (const std::string& key : new_keys) {
    if (!had.contains(key)) change.Put(Family::kIndex, key, "");
  }

  v1::ObligationEventBatch events;
  events.set_cause(call.method);
  events.set_subject_id(after.id());
  ledger_.Reconcile(before != nullptr ? ObligationsOf(*before) : std::vector<v1::Obligation>(),
                    ObligationsOf(after), call.now, change, events);
  change.SetEvent(std::string(kFeedContext), events.SerializeAsString());

  std::vector<std::string> subjects = {after.id()};
  subjects.insert(subjects.end(), extra_subjects.begin(), extra_subjects.end());
  change.SetAudit(call.Audit(action, std::move(subjects)));
}

absl::StatusOr<v1::Offender> OffenderStore::Create(const CallContext& call, v1::Offender record,
                                                   absl::string_view request_id,
                                                   const storage::Change& extra) {
  const std::string& force = call.principal.force;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior, PriorResponse(call, request_id));
    if (prior.has_value()) return Parse(*prior, record.id());

    v1::Offender stored = record;
    stored.set_force(force);
    stored.set_revision(1);
    *stored.mutable_create_time() = ToProtoTime(call.now);
    *stored.mutable_update_time() = ToProtoTime(call.now);
    stored.clear_obligations();
    DeriveOutputs(stored, zone_);
    const std::shared_ptr<const v1::Policy> policy = policies_.Current();
    *stored.mutable_reactive_eligibility() =
        policy::ReactiveEligibility(*policy, stored, call.now, zone_);
    const std::vector<v1::Obligation> clocks =
        ReconcileClocks(stored, AllClocks(), *policy, zone_, call.now);
    for (const v1::Obligation& o : clocks) *stored.add_obligations() = o;

    storage::Change change = extra;
    const std::string key = OffenderKey(force, stored.id());
    change.ExpectAbsent(Family::kEntities, key);
    if (!stored.visor_ref().empty()) {
      change.ExpectAbsent(Family::kIndex, VisorKey(force, stored.visor_ref()));
      change.Put(Family::kIndex, VisorKey(force, stored.visor_ref()), stored.id());
    }
    if (!request_id.empty()) {
      change.ExpectAbsent(Family::kIndex, RequestKey(force, request_id));
      change.Put(Family::kIndex, RequestKey(force, request_id), stored.SerializeAsString());
    }
    BuildCommit(call, nullptr, stored, v1::AUDIT_ACTION_COLLECTION, {}, change);
    absl::StatusOr<storage::CommitResult> committed = store_.Commit(change);
    if (committed.ok()) return stored;
    if (!absl::IsAborted(committed.status())) return committed.status();

    // A precondition failed: say which, or try again.
    const storage::ReadView view = store_.Snapshot();
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> existing, view.Get(Family::kEntities, key));
    if (existing.has_value()) {
      VIGIL_ASSIGN_OR_RETURN(prior, PriorResponse(call, request_id));
      if (prior.has_value()) return Parse(*prior, record.id());
      return absl::AlreadyExistsError(
          absl::StrCat("offender.id: ", stored.id(), " is already on the register"));
    }
    if (!stored.visor_ref().empty()) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> holder,
                             view.Get(Family::kIndex, VisorKey(force, stored.visor_ref())));
      if (holder.has_value()) {
        return absl::AlreadyExistsError(absl::StrCat("offender.visor_ref: ", stored.visor_ref(),
                                                     " is already registered to offender ",
                                                     *holder));
      }
    }
  }
  return absl::AbortedError("too many concurrent changes; try again");
}

absl::StatusOr<std::string> OffenderStore::Mutate(const CallContext& call, absl::string_view id,
                                                  absl::string_view request_id, EditFn edit_fn) {
  const std::string& force = call.principal.force;
  const std::string key = OffenderKey(force, id);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior, PriorResponse(call, request_id));
    if (prior.has_value()) return *prior;

    const storage::ReadView view = store_.Snapshot();
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw, view.Get(Family::kEntities, key));
    if (!raw.has_value()) {
      VIGIL_RETURN_IF_ERROR(AuditRead(call, {std::string(id)}, "not found in force"));
      return absl::NotFoundError(
          absl::StrCat("offender ", id, " is not on the register of ", force));
    }
    VIGIL_ASSIGN_OR_RETURN(const v1::Offender before, Parse(*raw, id));
    v1::Offender after = before;
    storage::Change change;
    Edit edit;
    VIGIL_RETURN_IF_ERROR(edit_fn(after, change, edit));

    after.set_id(before.id());
    after.set_force(force);
    DeriveOutputs(after, zone_);
    PauseOrResumeVisits(before, after, call.now);
    const std::shared_ptr<const v1::Policy> policy = policies_.Current();
    *after.mutable_reactive_eligibility() = policy::ReactiveEligibility(*policy, after, call.now, zone_);
    if (after.reactive_management().enabled() && !after.reactive_eligibility().eligible()) {
      // Eligibility lost (a trigger, a higher risk, a civil order): visits resume at once.
      after.mutable_reactive_management()->set_enabled(false);
      after.mutable_reactive_management()->set_ended_because(
          absl::StrCat("eligibility lost on ", FormatUtcDate(call.now), ": ",
                       absl::StrJoin(after.reactive_eligibility().unmet(), "; ")));
    }
    const std::vector<v1::Obligation> clocks =
        ReconcileClocks(after, edit.retime, *policy, zone_, call.now);
    after.clear_obligations();
    for (const v1::Obligation& o : clocks) *after.add_obligations() = o;
    if (edit.skip_if_clocks_unchanged) {
      bool same = after.obligations_size() == before.obligations_size();
      for (int i = 0; same && i < after.obligations_size(); ++i) {
        same = SameObligation(after.obligations(i), before.obligations(i));
      }
      if (same) return after.SerializeAsString();
    }
    after.set_revision(before.revision() + 1);
    *after.mutable_update_time() = ToProtoTime(call.now);

    change.ExpectValue(Family::kEntities, key, *raw);
    if (before.visor_ref() != after.visor_ref()) {
      if (!before.visor_ref().empty()) change.Delete(Family::kIndex, VisorKey(force, before.visor_ref()));
      if (!after.visor_ref().empty()) {
        change.ExpectAbsent(Family::kIndex, VisorKey(force, after.visor_ref()));
        change.Put(Family::kIndex, VisorKey(force, after.visor_ref()), after.id());
      }
    }
    const std::string response =
        edit.response.empty() ? after.SerializeAsString() : edit.response;
    if (!request_id.empty()) {
      change.ExpectAbsent(Family::kIndex, RequestKey(force, request_id));
      change.Put(Family::kIndex, RequestKey(force, request_id), response);
    }
    BuildCommit(call, &before, after, edit.action, edit.extra_subjects, change);
    absl::StatusOr<storage::CommitResult> committed = store_.Commit(change);
    if (committed.ok()) return response;
    if (!absl::IsAborted(committed.status())) return committed.status();
    if (before.visor_ref() != after.visor_ref() && !after.visor_ref().empty()) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> holder,
                             store_.Snapshot().Get(Family::kIndex, VisorKey(force, after.visor_ref())));
      if (holder.has_value() && *holder != after.id()) {
        return absl::AlreadyExistsError(absl::StrCat("offender.visor_ref: ", after.visor_ref(),
                                                     " is already registered to offender ",
                                                     *holder));
      }
    }
  }
  return absl::AbortedError(absl::StrCat("offender ", id, ": too many concurrent changes; try again"));
}

absl::StatusOr<OffenderStore::RecomputeReport> OffenderStore::Recompute(const CallContext& call,
                                                                        bool dry_run) {
  RecomputeReport report;
  std::vector<std::string> ids;
  const std::string prefix = ByForcePrefix(call.principal.force);
  VIGIL_RETURN_IF_ERROR(store_.Snapshot().ScanPrefix(Family::kIndex, prefix, {},
                                                     [&](absl::string_view key, absl::string_view) {
                                                       ids.emplace_back(key.substr(prefix.size()));
                                                       return true;
                                                     }));
  const std::shared_ptr<const v1::Policy> policy = policies_.Current();
  for (const std::string& id : ids) {
    ++report.examined;
    VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Offender> record,
                           Load(store_.Snapshot(), call.principal.force, id));
    if (!record.has_value()) continue;  // removed since the scan
    const std::vector<v1::Obligation> clocks =
        ReconcileClocks(*record, AllClocks(), *policy, zone_, call.now);
    int moved = 0;
    for (const v1::Obligation& o : clocks) {
      bool same = false;
      for (const v1::Obligation& old : record->obligations()) same = same || SameObligation(o, old);
      if (!same) ++moved;
    }
    if (moved == 0 && static_cast<int>(clocks.size()) == record->obligations_size()) continue;
    ++report.changed;
    report.retimed += moved;
    if (dry_run) continue;
    VIGIL_RETURN_IF_ERROR(Mutate(call, id, {}, [](v1::Offender&, storage::Change&, Edit& edit) {
                            edit.retime = AllClocks();
                            edit.skip_if_clocks_unchanged = true;
                            return absl::OkStatus();
                          }).status());
  }
  return report;
}

}  // namespace vigil::rso
