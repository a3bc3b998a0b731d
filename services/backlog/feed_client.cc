#include "services/backlog/feed_client.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"

namespace vigil::backlog {
namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

// Why the backlog asks: its caller's purpose, or its own snapshot's.
absl::string_view Purpose(const CallContext& call) {
  return call.purpose.empty() ? "backlog snapshot" : absl::string_view(call.purpose);
}

// A call to an owner made for `call`'s caller carries that person (or force system), so the
// owner applies their scope and records its disclosure under them, with the backlog as `via`.
void Identify(grpc::ClientContext& context, Hop hop, const CallContext& call) {
  IdentifyInternalCall(context, hop, call.principal, Purpose(call));
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

void FeedClients::SetLocal(ObligationFeedImpl* local) {
  absl::MutexLock lock(&mu_);
  local_ = local;
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

template <typename Request, typename Response, typename Start, typename Here>
FeedClients::Answers<Response> FeedClients::AskAll(const CallContext& call,
                                                   const AskFor<Request>& ask_for, Start start,
                                                   Here here) {
  struct Pending {
    std::string context;
    std::unique_ptr<v1::ObligationFeed::Stub> stub;
    grpc::ClientContext client;
    Request request;
    Response response;
    grpc::Status status;
  };
  ObligationFeedImpl* local;
  {
    absl::MutexLock lock(&mu_);
    local = local_;
  }
  // Each context asked, in the order of contexts(): served here (an index into local_requests)
  // or over its channel (an index into pending).
  struct Asked {
    std::string context;
    bool here;
    size_t index;
  };
  std::vector<Asked> asked;
  std::vector<Request> local_requests;
  std::vector<std::unique_ptr<Pending>> pending;
  for (const std::string& context : contexts()) {
    std::optional<Request> request = ask_for(context);
    if (!request.has_value()) continue;
    request->set_context(context);
    if (local != nullptr && local->Serves(context)) {
      asked.push_back(Asked{context, true, local_requests.size()});
      local_requests.push_back(*std::move(request));
      continue;
    }
    absl::StatusOr<Route> route = Stub(context);
    if (!route.ok()) return route.status();
    auto p = std::make_unique<Pending>();
    p->context = context;
    p->stub = std::move(route->stub);
    p->request = *std::move(request);
    Identify(p->client, route->hop, call);
    asked.push_back(Asked{context, false, pending.size()});
    pending.push_back(std::move(p));
  }
  std::mutex mu;
  std::condition_variable done;
  size_t remaining = pending.size();
  // gRPC runs every callback by the deadline at the latest; what `pending` holds must outlive
  // them all, so this waits for each, whatever happens after they start.
  absl::Cleanup wait_for_all = [&] {
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return remaining == 0; });
  };
  for (const auto& p : pending) {
    start(p->stub->async(), &p->client, &p->request, &p->response,
          [p = p.get(), &mu, &done, &remaining](const grpc::Status& status) {
            std::lock_guard lock(mu);
            p->status = status;
            if (--remaining == 0) done.notify_all();
          });
  }
  // The local owners answer on this thread while the remote ones work.
  absl::StatusOr<std::vector<Response>> answered_here = std::vector<Response>();
  if (!local_requests.empty()) {
    answered_here = here(*local, call, Purpose(call), std::span<const Request>(local_requests));
  }
  std::move(wait_for_all).Invoke();
  std::vector<std::pair<std::string, Response>> answers;
  answers.reserve(asked.size());
  for (Asked& a : asked) {
    if (a.here) {
      if (!answered_here.ok()) return answered_here.status();
      answers.emplace_back(std::move(a.context), std::move((*answered_here)[a.index]));
      continue;
    }
    Pending& p = *pending[a.index];
    if (!p.status.ok()) return FromGrpc(p.status);
    answers.emplace_back(std::move(a.context), std::move(p.response));
  }
  return answers;
}

FeedClients::Answers<v1::OverdueSummary> FeedClients::Summarize(
    const CallContext& call, const AskFor<v1::SummarizeOverdueRequest>& ask_for) {
  return AskAll<v1::SummarizeOverdueRequest, v1::OverdueSummary>(
      call, ask_for,
      [](auto* stub, auto* client, auto* request, auto* response, auto done) {
        stub->SummarizeOverdue(client, request, response, std::move(done));
      },
      [](ObligationFeedImpl& local, const CallContext& caller, absl::string_view purpose,
         auto requests) { return local.SummarizeHere(caller, purpose, requests); });
}

FeedClients::Answers<v1::ListOverdueResponse> FeedClients::List(
    const CallContext& call, const AskFor<v1::ListOverdueRequest>& ask_for) {
  return AskAll<v1::ListOverdueRequest, v1::ListOverdueResponse>(
      call, ask_for,
      [](auto* stub, auto* client, auto* request, auto* response, auto done) {
        stub->ListOverdue(client, request, response, std::move(done));
      },
      [](ObligationFeedImpl& local, const CallContext& caller, absl::string_view purpose,
         auto requests) { return local.ListHere(caller, purpose, requests); });
}

FeedClients::Answers<v1::WorkloadResponse> FeedClients::Workload(
    const CallContext& call, const AskFor<v1::WorkloadRequest>& ask_for) {
  return AskAll<v1::WorkloadRequest, v1::WorkloadResponse>(
      call, ask_for,
      [](auto* stub, auto* client, auto* request, auto* response, auto done) {
        stub->GetWorkload(client, request, response, std::move(done));
      },
      [](ObligationFeedImpl& local, const CallContext& caller, absl::string_view purpose,
         auto requests) { return local.WorkloadHere(caller, purpose, requests); });
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
