#include "services/ocait/offender_link.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "services/common/errors.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::ocait {
namespace {

constexpr auto kTimeout = std::chrono::seconds(10);

void Identify(grpc::ClientContext& context, Hop hop, absl::string_view force,
              absl::string_view on_behalf_of, absl::string_view purpose) {
  Principal ocait;
  ocait.actor = absl::StrCat("ocait for ", on_behalf_of);
  ocait.role = Role::kSystem;
  ocait.force = std::string(force);
  IdentifyInternalCall(context, hop, ocait, purpose);
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

void GrpcOffenderLink::SetChannel(std::shared_ptr<grpc::Channel> channel, Hop hop) {
  absl::MutexLock lock(&mu_);
  channel_ = std::move(channel);
  hop_ = hop;
}

Hop GrpcOffenderLink::hop() const {
  absl::MutexLock lock(&mu_);
  return hop_;
}

std::shared_ptr<grpc::Channel> GrpcOffenderLink::channel() const {
  absl::MutexLock lock(&mu_);
  return channel_;
}

absl::Status GrpcOffenderLink::CheckExists(const CallContext& call, absl::string_view offender_id) {
  std::shared_ptr<grpc::Channel> ch = channel();
  if (ch == nullptr) {
    return absl::FailedPreconditionError(
        "linked_offender_id: no offender register is reachable from this vigild (host the rso "
        "service here, or give --rso-address)");
  }
  grpc::ClientContext context;
  Identify(context, hop(), call.principal.force, call.principal.actor,
           call.purpose.empty() ? "validating a referral's linked offender" : call.purpose);
  v1::GetOffenderRequest request;
  request.set_id(std::string(offender_id));
  v1::Offender offender;
  const grpc::Status status =
      v1::OffenderService::NewStub(ch)->GetOffender(&context, request, &offender);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return FieldError("linked_offender_id", absl::StrCat(offender_id, " is not on the register of ",
                                                         call.principal.force));
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "linked_offender_id: the offender register could not be asked: ", status.error_message()));
  }
  return absl::OkStatus();
}

absl::Status GrpcOffenderLink::Deliver(absl::string_view force,
                                       const v1::LinkReferralRequest& request) {
  std::shared_ptr<grpc::Channel> ch = channel();
  if (ch == nullptr) return absl::FailedPreconditionError("no offender register is reachable");
  grpc::ClientContext context;
  Identify(context, hop(), force, "referral link", "keeping the offender's open referrals current");
  v1::Offender offender;
  return FromGrpc(v1::OffenderService::NewStub(ch)->LinkReferral(&context, request, &offender));
}

}  // namespace vigil::ocait
