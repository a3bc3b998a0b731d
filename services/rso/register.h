// The offender register of a force: creating, reading, listing and updating offenders,
// reassessment triggers, and imports of a register export. Thread-safe.
#ifndef VIGIL_SERVICES_RSO_REGISTER_H_
#define VIGIL_SERVICES_RSO_REGISTER_H_

#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "services/rso/offender_store.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

class Register {
 public:
  explicit Register(OffenderStore& offenders) : offenders_(offenders) {}

  // Registers an offender with every clock that applies (initial ARMS, notifications).
  // InvalidArgument naming the field; AlreadyExists for a taken id or ViSOR reference; a retry
  // by the same caller with the same request and request_id returns the first result (audited as
  // a consultation) and writes nothing; FailedPrecondition when the caller used the request_id
  // for a different request.
  absl::StatusOr<v1::Offender> Create(const CallContext& call,
                                      const v1::CreateOffenderRequest& request);

  // NotFound (audited as refused) outside the caller's force.
  absl::StatusOr<v1::Offender> Get(const CallContext& call, const v1::GetOffenderRequest& request);

  // One page, in id order, filtered; the subjects listed are audited.
  absl::StatusOr<v1::ListOffendersResponse> List(const CallContext& call,
                                                 const v1::ListOffendersRequest& request);

  // Applies update_mask. Aborted when offender.revision is not the current one. A MAPPA level
  // change and a release from custody record reassessment triggers.
  absl::StatusOr<v1::Offender> Update(const CallContext& call,
                                      const v1::UpdateOffenderRequest& request);

  // Opens the trigger clock (reassess within the trigger interval of the earliest unanswered
  // trigger). FailedPrecondition when the latest ARMS already postdates the trigger, or the
  // offender is no longer managed.
  absl::StatusOr<v1::Offender> RecordTrigger(const CallContext& call,
                                             const v1::RecordTriggerRequest& request);

  // Imports register rows, each one atomic commit (offender, latest ARMS, clocks). Rows whose
  // ViSOR reference is already registered are counted and skipped; bad rows are reported by
  // line and field and nothing of them is written.
  // Records an open referral about the offender (or removes a closed one). A referral newly
  // linked and received after the latest ARMS is a new-intelligence trigger.
  absl::StatusOr<v1::Offender> LinkReferral(const CallContext& call,
                                            const v1::LinkReferralRequest& request);

  // Records a force administrator's review of an indefinite notification requirement:
  // CONTINUED re-times the review clock (next_review_time, default 8 years on, at most 15),
  // ENDED ends the requirement (status EXPIRED, every clock closed with the review as the
  // reason). InvalidArgument naming the field: a fixed period (offender_id), no reason, a
  // decision in the future, before registration or before the latest review.
  absl::StatusOr<v1::Offender> RecordNotificationReview(
      const CallContext& call, const v1::RecordNotificationReviewRequest& request);

  // The daily pass over the caller's force (a system caller): every offender still managed
  // whose notification period has ended becomes EXPIRED, its clocks closed with the reason, one
  // audited commit each. Returns how many.
  absl::StatusOr<int> CloseEndedRequirements(const CallContext& call);

  absl::StatusOr<v1::ImportOffendersResponse> Import(const CallContext& call,
                                                     const v1::ImportOffendersRequest& request);

 private:
  OffenderStore& offenders_;
};

// Validates the writable fields of a new offender (field names prefixed "offender.") and
// returns it normalised: output-only fields cleared, status defaulted to ACTIVE_COMMUNITY.
absl::StatusOr<v1::Offender> ValidateNewOffender(const v1::Offender& offender, absl::Time now);

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_REGISTER_H_
