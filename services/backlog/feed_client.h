// The backlog's view of the owning contexts: their ObligationFeed APIs (called in process when
// co-hosted, through remote addresses otherwise), on behalf of the caller, whose principal and
// purpose are passed on so the owners apply the caller's scope and audit the access.
#ifndef VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_
#define VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "services/common/internal_call.h"
#include "services/common/rpc.h"
#include "services/obligations/obligation_feed_service.h"
#include "vigil/v1/obligations.grpc.pb.h"

namespace vigil::backlog {

class FeedClients {
 public:
  // Adds an owning context ("rso", "ocait") served over `channel` (which may be set later, for
  // an in-process channel that exists only once the server has started), reached by `hop`.
  void Add(std::string context, std::shared_ptr<grpc::Channel> channel = nullptr,
           Hop hop = Hop::kInProcess);
  void SetChannel(absl::string_view context, const std::shared_ptr<grpc::Channel>& channel);
  // Asks the contexts `local` serves by calling it in this process (ObligationFeedImpl's *Here
  // methods) rather than over their channels: no gRPC hop, no thread handoff, and one audit
  // commit for all of them. Not owned; null (the default) asks every context over its channel.
  void SetLocal(ObligationFeedImpl* local) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> contexts() const;

  // A request for each context asked (none: that context is not asked).
  template <typename Request>
  using AskFor = std::function<std::optional<Request>(const std::string& context)>;
  // The answers, in the order of contexts(), each with its context.
  template <typename Response>
  using Answers = absl::StatusOr<std::vector<std::pair<std::string, Response>>>;

  // Each asks every context `ask_for` gives a request for, all at once, and returns their
  // answers, or the first error in the order of contexts() as its owner gave it. At once,
  // because an owner audits what it discloses in a commit of its own: asked together, the
  // owners' audit commits share a group commit instead of each waiting out the one before. An
  // owner that answers has recorded its disclosure even when another's error fails the whole
  // answer: the audit log may name a disclosure the caller never received, never the reverse.
  Answers<v1::OverdueSummary> Summarize(const CallContext& call,
                                        const AskFor<v1::SummarizeOverdueRequest>& ask_for);
  // List's answers are for one merged page: the caller takes the first page_size of them all in
  // the order asked (rank, due time, id, context), and a local owner reads and discloses only
  // its obligations among those (ObligationFeedImpl::ListHere). The requests share
  // one order and one page size.
  Answers<v1::ListOverdueResponse> List(const CallContext& call,
                                        const AskFor<v1::ListOverdueRequest>& ask_for);
  Answers<v1::WorkloadResponse> Workload(const CallContext& call,
                                         const AskFor<v1::WorkloadRequest>& ask_for);
  absl::StatusOr<std::vector<std::string>> Forces(absl::string_view context);

 private:
  struct Owner {
    std::string context;
    std::shared_ptr<grpc::Channel> channel;
    Hop hop;
  };
  struct Route {
    std::unique_ptr<v1::ObligationFeed::Stub> stub;
    Hop hop;
  };
  absl::StatusOr<Route> Stub(absl::string_view context) const;
  // Starts `start(async_stub, client_context, request, response, done)` for every context
  // asked that is not served locally, answers the others with `here(local, call, purpose,
  // requests)` meanwhile, and waits for each answer (kTimeout at the longest).
  template <typename Request, typename Response, typename Start, typename Here>
  Answers<Response> AskAll(const CallContext& call, const AskFor<Request>& ask_for, Start start,
                           Here here);

  mutable absl::Mutex mu_;
  std::vector<Owner> owners_ ABSL_GUARDED_BY(mu_);
  ObligationFeedImpl* local_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace vigil::backlog

#endif  // VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_
