// A new offender record checked field by field (ValidateNewOffender, register.h).
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
#include "services/rso/register.h"

namespace vigil::rso {
namespace {

absl::Status ValidateMappa(absl::string_view field, int value) {
  if (value < 0 || value > 3)
    return FieldError(field, absl::StrCat("must be 1-3, or 0 when not recorded (got ", value, ")"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Offender> ValidateNewOffender(const v1::Offender& in, absl::Time now) {
  v1::Offender o;
  if (in.id().empty()) {
    o.set_id(NewId("R"));
  } else {
    VIGIL_RETURN_IF_ERROR(ValidateId("offender.id", in.id()));
    o.set_id(in.id());
  }
  VIGIL_RETURN_IF_ERROR(ValidateText("offender.display_name", in.display_name(), 200, true));
  o.set_display_name(in.display_name());
  VIGIL_RETURN_IF_ERROR(ValidateText("offender.visor_ref", in.visor_ref(), 64, false));
  o.set_visor_ref(in.visor_ref());
  VIGIL_ASSIGN_OR_RETURN(
      const std::optional<absl::Time> started,
      OptionalPastTime("offender.requirement_start_time", in.has_requirement_start_time(),
                       in.requirement_start_time(), now));
  if (started.has_value()) *o.mutable_requirement_start_time() = ToProtoTime(*started);
  if (in.has_registered_time() || !started.has_value()) {
    // Only an offender awaiting the initial notification has no registration yet.
    VIGIL_ASSIGN_OR_RETURN(const absl::Time registered,
                           RequirePastTime("offender.registered_time", in.has_registered_time(),
                                           in.registered_time(), now));
    *o.mutable_registered_time() = ToProtoTime(registered);
  }
  if (!v1::NotificationPeriod_IsValid(in.notification_period())) {
    return FieldError("offender.notification_period", "unknown value");
  }
  o.set_notification_period(in.notification_period());
  o.set_under_18_at_conviction(in.under_18_at_conviction());
  VIGIL_RETURN_IF_ERROR(ValidateText("offender.owner_officer", in.owner_officer(), 128, true));
  o.set_owner_officer(in.owner_officer());
  VIGIL_RETURN_IF_ERROR(ValidateText("offender.team", in.team(), 64, true));
  o.set_team(in.team());
  if (!v1::OffenderStatus_IsValid(in.status()))
    return FieldError("offender.status", "unknown value");
  o.set_status(in.status() == v1::OFFENDER_STATUS_UNSPECIFIED ? v1::OFFENDER_STATUS_ACTIVE_COMMUNITY
                                                              : in.status());
  VIGIL_RETURN_IF_ERROR(ValidateMappa("offender.mappa_category", in.mappa_category()));
  VIGIL_RETURN_IF_ERROR(ValidateMappa("offender.mappa_level", in.mappa_level()));
  o.set_mappa_category(in.mappa_category());
  o.set_mappa_level(in.mappa_level());
  VIGIL_ASSIGN_OR_RETURN(
      std::optional<absl::Time> notified,
      OptionalPastTime("offender.last_notification_time", in.has_last_notification_time(),
                       in.last_notification_time(), now));
  if (notified.has_value()) *o.mutable_last_notification_time() = ToProtoTime(*notified);
  VIGIL_ASSIGN_OR_RETURN(
      std::optional<absl::Time> pending,
      OptionalPastTime("offender.change_pending_since", in.has_change_pending_since(),
                       in.change_pending_since(), now));
  if (pending.has_value()) *o.mutable_change_pending_since() = ToProtoTime(*pending);
  VIGIL_RETURN_IF_ERROR(
      ValidateText("offender.change_pending_note", in.change_pending_note(), 500, false));
  o.set_change_pending_note(in.change_pending_note());
  VIGIL_ASSIGN_OR_RETURN(std::optional<absl::Time> offence,
                         OptionalPastTime("offender.last_offence_time", in.has_last_offence_time(),
                                          in.last_offence_time(), now));
  if (offence.has_value()) *o.mutable_last_offence_time() = ToProtoTime(*offence);
  VIGIL_ASSIGN_OR_RETURN(
      std::optional<absl::Time> intelligence,
      OptionalPastTime("offender.last_intelligence_time", in.has_last_intelligence_time(),
                       in.last_intelligence_time(), now));
  if (intelligence.has_value()) *o.mutable_last_intelligence_time() = ToProtoTime(*intelligence);
  o.set_civil_order_active(in.civil_order_active());
  return o;
}

}  // namespace vigil::rso
