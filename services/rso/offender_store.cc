#include "services/rso/offender_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/policy/policy.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"
#include "vigil/v1/visits.pb.h"

namespace vigil::rso {

using storage::Family;

namespace {

// Leaving the community for custody, abroad or wanted pauses the visit clock with the time it
// had left; DeriveClocks resumes it on return.
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
    : policies_(policies), zone_(zone), records_(store, *this) {}

std::string OffenderStore::Key(absl::string_view force, absl::string_view id) const {
  return OffenderKey(force, id);
}

std::string OffenderStore::LegacyRequestKey(absl::string_view force,
                                            absl::string_view request_id) const {
  return rso::LegacyRequestKey(force, request_id);
}

std::vector<std::string> OffenderStore::IndexKeys(const v1::Offender& record) const {
  return rso::IndexKeys(record);
}

std::vector<UniqueKey> OffenderStore::UniqueKeys(const v1::Offender& o) const {
  std::vector<UniqueKey> keys;
  if (!o.visor_ref().empty()) {
    keys.push_back({VisorKey(o.force(), o.visor_ref()), "offender.visor_ref", o.visor_ref()});
  }
  return keys;
}

void OffenderStore::Derive(const CallContext& call, const v1::Offender* before, v1::Offender& after,
                           const RecordEdit& edit) const {
  const std::shared_ptr<const v1::Policy> policy = policies_.Current(after.force());
  SetNotificationEnd(after, zone_);
  // The requirement's end moves the offender out of active management, whatever the status
  // (custody and abroad too); every clock then closes (CloseReason says why).
  if (std::optional<RequirementEnd> ended = EndedRequirement(after, call.now, zone_);
      ended.has_value() &&
      (Managed(after.status()) || after.status() == v1::OFFENDER_STATUS_EXPIRED)) {
    after.set_status(v1::OFFENDER_STATUS_EXPIRED);
    *after.mutable_notification_ended_time() = ToProtoTime(ended->time);
    after.set_notification_ended_reason(ended->reason);
  } else if (!ended.has_value()) {
    after.clear_notification_ended_time();
    after.clear_notification_ended_reason();
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
      DeriveClocks(before, after, edit.recompute, *policy, zone_, call.now);
  after.clear_obligations();
  for (const v1::Obligation& o : clocks) *after.add_obligations() = o;
}

std::string OffenderStore::CloseReason(const v1::Offender* before,
                                       const v1::Offender& after) const {
  if (before == nullptr || !Managed(before->status()) || Managed(after.status())) return {};
  if (after.status() == v1::OFFENDER_STATUS_EXPIRED && !after.notification_ended_reason().empty()) {
    return after.notification_ended_reason();
  }
  return absl::StrCat("offender ", after.id(), " is now ", v1::OffenderStatus_Name(after.status()),
                      ": out of active management");
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

OffenderStore::RetentionRule OffenderStore::RetentionOf(const v1::Offender& record) const {
  return {v1::RETENTION_GROUP_1,
          policy::RetentionReviewDue(*policies_.Current(record.force()), v1::RETENTION_GROUP_1,
                                     record.retention(), TimeOf(record.update_time()), zone_)};
}

std::string OffenderStore::StillManaged(const v1::Offender& record) const {
  // An open referral linked to the offender would point at an id that no longer exists.
  if (record.linked_referrals_size() > 0) {
    return absl::StrCat("offender ", record.id(), " has ", record.linked_referrals_size(),
                        " open referral", record.linked_referrals_size() == 1 ? "" : "s",
                        " linked (", record.linked_referrals(0).referral_id(),
                        record.linked_referrals_size() > 1 ? ", ..." : "", ")");
  }
  switch (record.status()) {
    case v1::OFFENDER_STATUS_DECEASED:
    case v1::OFFENDER_STATUS_EXPIRED:
    case v1::OFFENDER_STATUS_TRANSFERRED:
      return {};
    default:
      return absl::StrCat("offender ", record.id(), " is still managed (status ",
                          v1::OffenderStatus_Name(record.status()), ")");
  }
}

absl::StatusOr<int64_t> OffenderStore::AddErasure(const storage::ReadView& view,
                                                  const v1::Offender& record,
                                                  storage::Change& change) const {
  const std::string& force = record.force();
  int64_t erased = 0;
  const auto erase_under = [&](const std::string& prefix) {
    return view.ScanPrefix(Family::kEntities, prefix, {},
                           [&](absl::string_view key, absl::string_view) {
                             change.Delete(Family::kEntities, std::string(key));
                             ++erased;
                             return true;
                           });
  };
  VIGIL_RETURN_IF_ERROR(erase_under(ArmsPrefix(force, record.id())));
  VIGIL_RETURN_IF_ERROR(erase_under(RmpHistoryPrefix(force, record.id())));
  VIGIL_RETURN_IF_ERROR(erase_under(VisitPrefix(force, record.id())));
  VIGIL_RETURN_IF_ERROR(erase_under(CurrentRmpKey(force, record.id())));
  // Compliance findings about the offender, and their by-team index entries.
  bool readable = true;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      Family::kEntities, FindingPrefix(force), {},
      [&](absl::string_view key, absl::string_view value) {
        v1::ComplianceFinding finding;
        if (!finding.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          readable = false;
          return false;
        }
        if (finding.offender_id() != record.id()) return true;
        change.Delete(Family::kEntities, std::string(key));
        // Both keys end in the time found and the id.
        change.Delete(Family::kIndex, absl::StrCat(FindingByTeamPrefix(force, finding.team()),
                                                   key.substr(FindingPrefix(force).size())));
        erased += 2;
        return true;
      }));
  if (!readable) return absl::DataLossError("a compliance finding of the register is unreadable");
  return erased;
}

}  // namespace vigil::rso
