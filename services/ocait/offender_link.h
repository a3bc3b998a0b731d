// What the referral queue needs from the offender register, always through the register's
// gRPC API (an in-process channel when both run in one vigild, --rso-address otherwise), never
// through its keys.
#ifndef VIGIL_SERVICES_OCAIT_OFFENDER_LINK_H_
#define VIGIL_SERVICES_OCAIT_OFFENDER_LINK_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "services/common/internal_call.h"
#include "services/common/rpc.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::ocait {

class OffenderLink {
 public:
  virtual ~OffenderLink() = default;
  // OK when `offender_id` is on the register of the caller's force. InvalidArgument naming
  // linked_offender_id when it is not; FailedPrecondition when no register is reachable.
  virtual absl::Status CheckExists(const CallContext& call, absl::string_view offender_id) = 0;
  // Tells the register of `force` about a referral; idempotent on request.request_id(). The
  // status of the register's answer.
  virtual absl::Status Deliver(absl::string_view force, const v1::LinkReferralRequest& request) = 0;
};

// OffenderLink over an OffenderService channel, calling as role `system` on behalf of the
// caller (whose actor and purpose are passed on for the register's audit). Thread-safe.
class GrpcOffenderLink final : public OffenderLink {
 public:
  // The channel may be set after construction (an in-process channel exists only once the
  // server has started); until then calls fail with FailedPrecondition.
  void SetChannel(std::shared_ptr<grpc::Channel> channel, Hop hop);

  absl::Status CheckExists(const CallContext& call, absl::string_view offender_id) override;
  absl::Status Deliver(absl::string_view force, const v1::LinkReferralRequest& request) override;

 private:
  std::shared_ptr<grpc::Channel> channel() const;
  Hop hop() const;

  mutable absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  Hop hop_ ABSL_GUARDED_BY(mu_) = Hop::kInProcess;
};

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_OFFENDER_LINK_H_
