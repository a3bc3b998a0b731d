#include "services/backlog/feed_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"

namespace vigil::backlog {
namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

void Identify(grpc::ClientContext& context, const CallContext* call, absl::string_view force) {
  const std::string actor =
      call == nullptr ? "backlog" : absl::StrCat("backlog for ", call->principal.actor);
  context.AddMetadata("x-vigil-actor", actor.substr(0, 128));
  context.AddMetadata("x-vigil-role", "system");
  context.AddMetadata("x-vigil-force", std::string(force));
  const std::string purpose =
      call == nullptr || call->purpose.empty() ? "backlog snapshot" : call->purpose;
  context.AddMetadata("x-vigil-purpose", purpose.substr(0, 500));
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

void FeedClients::Add(std::string context, std::shared_ptr<grpc::Channel> channel) {
  std::lock_guard lock(mu_);
  channels_.emplace_back(std::move(context), std::move(channel));
}

void FeedClients::SetChannel(absl::string_view context, std::shared_ptr<grpc::Channel> channel) {
  std::lock_guard lock(mu_);
  for (auto& [name, ch] : channels_) {
    if (name == context) ch = channel;
  }
}

std::vector<std::string> FeedClients::contexts() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, ch] : channels_) names.push_back(name);
  return names;
}

absl::StatusOr<std::unique_ptr<v1::ObligationFeed::Stub>> FeedClients::Stub(
    absl::string_view context) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, ch] : channels_) {
    if (name == context && ch != nullptr) return v1::ObligationFeed::NewStub(ch);
  }
  return absl::UnavailableError(absl::StrCat("the ", context, " service is not reachable"));
}

absl::StatusOr<v1::OverdueSummary> FeedClients::Summarize(const CallContext& call,
                                                          absl::string_view context,
                                                          v1::SummarizeOverdueRequest request) {
  absl::StatusOr<std::unique_ptr<v1::ObligationFeed::Stub>> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, &call, call.principal.force);
  v1::OverdueSummary response;
  if (grpc::Status s = (*stub)->SummarizeOverdue(&ctx, request, &response); !s.ok())
    return FromGrpc(s);
  return response;
}

absl::StatusOr<v1::ListOverdueResponse> FeedClients::List(const CallContext& call,
                                                          absl::string_view context,
                                                          v1::ListOverdueRequest request) {
  absl::StatusOr<std::unique_ptr<v1::ObligationFeed::Stub>> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, &call, call.principal.force);
  v1::ListOverdueResponse response;
  if (grpc::Status s = (*stub)->ListOverdue(&ctx, request, &response); !s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<v1::WorkloadResponse> FeedClients::Workload(const CallContext& call,
                                                           absl::string_view context,
                                                           v1::WorkloadRequest request) {
  absl::StatusOr<std::unique_ptr<v1::ObligationFeed::Stub>> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  request.set_context(std::string(context));
  grpc::ClientContext ctx;
  Identify(ctx, &call, call.principal.force);
  v1::WorkloadResponse response;
  if (grpc::Status s = (*stub)->GetWorkload(&ctx, request, &response); !s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<std::vector<std::string>> FeedClients::Forces(absl::string_view context) {
  absl::StatusOr<std::unique_ptr<v1::ObligationFeed::Stub>> stub = Stub(context);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  Identify(ctx, nullptr, "all");
  v1::ListForcesRequest request;
  request.set_context(std::string(context));
  v1::ListForcesResponse response;
  if (grpc::Status s = (*stub)->ListForces(&ctx, request, &response); !s.ok()) return FromGrpc(s);
  return std::vector<std::string>(response.forces().begin(), response.forces().end());
}

}  // namespace vigil::backlog
