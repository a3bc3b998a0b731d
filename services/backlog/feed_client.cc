#include "services/backlog/feed_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"

namespace vigil::backlog {
namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

// A call to an owner made for `call`'s caller carries that person (or force system), so the
// owner applies their scope and records its disclosure under them, with the backlog as `via`.
void Identify(grpc::ClientContext& context, Hop hop, const CallContext& call) {
  IdentifyInternalCall(context, hop, call.principal,
                       call.purpose.empty() ? "backlog snapshot" : absl::string_view(call.purpose));
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
}

// A call of the backlog's own, about no one's records (the forces an owner holds).
void IdentifyBacklog(grpc::ClientContext& context, Hop hop) {
  IdentifyInternalCall(context, hop,
                       Principal{"vigild backlog", Role::kService, std::string(kAllForces)},
                       "listing the forces the owners hold");
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

void FeedClients::Add(std::string context, std::shared_ptr<grpc::Channel> channel, Hop hop) {
  absl::MutexLock lock(&mu_);
  owners_.push_back(Owner{std::move(context), std::move(channel), hop});
}

void FeedClients::SetChannel(absl::string_view context,
                             const std::shared_ptr<grpc::Channel>& channel) {
  absl::MutexLock lock(&mu_);
  for (Owner& owner : owners_) {
    if (owner.context == context) owner.channel = channel;
  }
}

std::vector<std::string> FeedClients::contexts() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const Owner& owner : owners_) names.push_back(owner.context);
  return names;
}

absl::StatusOr<FeedClients::Route> FeedClients::Stub(absl::string_view context) const {
  absl::MutexLock lock(&mu_);
  for (const Owner& owner : owners_) {
    if (owner.context == context && owner.channel != nullptr) {
      return Route{v1::ObligationFeed::NewStub(owner.channel), owner.hop};
    }
  }
  return absl::UnavailableError(absl::StrCat("the ", context, " service is not reachable"));
}

absl::StatusOr<v1::OverdueSummary> FeedClients::Summarize(const CallContext& call,
                                                          absl::string_view context,
                                                          v1::SummarizeOverdueRequest request) {
  absl::StatusOr<Route> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, stub->hop, call);
  v1::OverdueSummary response;
  if (grpc::Status s = stub->stub->SummarizeOverdue(&ctx, request, &response); !s.ok())
    return FromGrpc(s);
  return response;
}

absl::StatusOr<v1::ListOverdueResponse> FeedClients::List(const CallContext& call,
                                                          absl::string_view context,
                                                          v1::ListOverdueRequest request) {
  absl::StatusOr<Route> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, stub->hop, call);
  v1::ListOverdueResponse response;
  if (grpc::Status s = stub->stub->ListOverdue(&ctx, request, &response); !s.ok())
    return FromGrpc(s);
  return response;
}

absl::StatusOr<v1::WorkloadResponse> FeedClients::Workload(const CallContext& call,
                                                           absl::string_view context,
                                                           v1::WorkloadRequest request) {
  absl::StatusOr<Route> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, stub->hop, call);
  v1::WorkloadResponse response;
  if (grpc::Status s = stub->stub->GetWorkload(&ctx, request, &response); !s.ok())
    return FromGrpc(s);
  return response;
}

absl::StatusOr<std::vector<std::string>> FeedClients::Forces(absl::string_view context) {
  absl::StatusOr<Route> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  IdentifyBacklog(ctx, stub->hop);
  v1::ListForcesRequest request;
  request.set_context(std::string(context));
  v1::ListForcesResponse response;
  if (grpc::Status s = stub->stub->ListForces(&ctx, request, &response); !s.ok())
    return FromGrpc(s);
  return std::vector<std::string>(response.forces().begin(), response.forces().end());
}

}  // namespace vigil::backlog
