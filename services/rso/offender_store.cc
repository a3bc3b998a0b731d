#include "services/rso/offender_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"

namespace vigil::rso {
namespace {

// Leaving the community for custody, abroad or wanted pauses the visit clock with the time it
// had left; ReconcileClocks resumes it on return.
void PauseVisits(const v1::Offender& before, v1::Offender& after, absl::Time now) {
  const bool was_active = before.status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY;
  const bool pauses = after.status() == v1::OFFENDER_STATUS_IN_CUSTODY ||
                      after.status() == v1::OFFENDER_STATUS_ABROAD ||
                      after.status() == v1::OFFENDER_STATUS_WANTED;
  if (!was_active || !pauses) return;
  for (const v1::Obligation& o : before.obligations()) {
    if (o.id() != ObligationId(before.id(), Clock::kHomeVisit)) continue;
    after.set_visit_paused(true);
    after.set_visit_paused_remaining_seconds(absl::ToInt64Seconds(TimeOf(o.due_time()) - now));
  }
}

}  // namespace

OffenderStore::OffenderStore(storage::Store& store, const policy::PolicyRegistry& policies,
                             absl::TimeZone zone)
    : policies_(policies), zone_(zone), records_(store, Traits()) {}

RecordTraits<v1::Offender> OffenderStore::Traits() {
  RecordTraits<v1::Offender> traits;
  traits.noun = "offender";
  traits.collection = "register";
  traits.feed_context = std::string(kFeedContext);
  traits.space = storage::DeadlineSpace::kRso;
  traits.key = &OffenderKey;
  traits.request_key = &RequestKey;
  traits.index_keys = &IndexKeys;
  traits.unique_keys = [](const v1::Offender& o) {
    std::vector<UniqueKey> keys;
    if (!o.visor_ref().empty()) {
      keys.push_back({VisorKey(o.force(), o.visor_ref()), "offender.visor_ref", o.visor_ref()});
    }
    return keys;
  };
  traits.caseload = [](const v1::Offender& o) {
    return std::pair<std::string, std::string>(o.team(), o.owner_officer());
  };
  traits.derive = [this](const CallContext& call, const v1::Offender* before, v1::Offender& after,
                         const RecordEdit& edit) { Derive(call, before, after, edit); };
  return traits;
}

void OffenderStore::Derive(const CallContext& call, const v1::Offender* before, v1::Offender& after,
                           const RecordEdit& edit) const {
  const std::shared_ptr<const v1::Policy> policy = policies_.Current(after.force());
  if (std::optional<absl::Time> end =
          policy::NotificationEnd(after.notification_period(), after.under_18_at_conviction(),
                                  TimeOf(after.registered_time()), zone_)) {
    *after.mutable_notification_end_time() = ToProtoTime(*end);
  } else {
    after.clear_notification_end_time();
  }
  if (before != nullptr) PauseVisits(*before, after, call.now);
  *after.mutable_reactive_eligibility() =
      policy::ReactiveEligibility(*policy, after, call.now, zone_);
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
}

void OffenderStore::RefreshEligibility(v1::Offender& record, absl::Time now) const {
  *record.mutable_reactive_eligibility() =
      policy::ReactiveEligibility(*policies_.Current(record.force()), record, now, zone_);
}

absl::StatusOr<v1::Offender> OffenderStore::Read(const CallContext& call, absl::string_view id) {
  VIGIL_ASSIGN_OR_RETURN(v1::Offender record, records_.Read(call, id));
  RefreshEligibility(record, call.now);
  return record;
}

absl::StatusOr<OffenderStore::RecomputeReport> OffenderStore::Recompute(const CallContext& call,
                                                                        bool dry_run) {
  RecomputeReport report;
  VIGIL_ASSIGN_OR_RETURN(const std::vector<std::string> ids,
                         records_.IdsUnder(ByForcePrefix(call.principal.force)));
  const std::shared_ptr<const v1::Policy> policy = policies_.Current(call.principal.force);
  for (const std::string& id : ids) {
    ++report.examined;
    VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Offender> record,
                           Load(store().Snapshot(), call.principal.force, id));
    if (!record.has_value()) continue;  // removed since the scan
    v1::Offender derived = *record;
    const std::vector<v1::Obligation> clocks =
        ReconcileClocks(derived, AllClocks(), *policy, zone_, call.now);
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
