// The backlog's view of the owning contexts: their ObligationFeed APIs (in-process channels
// when co-hosted, remote addresses otherwise), called as role `system` on behalf of the
// caller, whose actor and purpose are passed on so the owners audit the access.
#ifndef VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_
#define VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "services/common/internal_call.h"
#include "services/common/rpc.h"
#include "vigil/v1/obligations.grpc.pb.h"

namespace vigil::backlog {

class FeedClients {
 public:
  // Adds an owning context ("rso", "ocait") served over `channel` (which may be set later, for
  // an in-process channel that exists only once the server has started), reached by `hop`.
  void Add(std::string context, std::shared_ptr<grpc::Channel> channel = nullptr,
           Hop hop = Hop::kInProcess);
  void SetChannel(absl::string_view context, const std::shared_ptr<grpc::Channel>& channel);
  std::vector<std::string> contexts() const;

  // Each call goes to one context; errors come back as the owner gave them.
  absl::StatusOr<v1::OverdueSummary> Summarize(const CallContext& call, absl::string_view context,
                                               v1::SummarizeOverdueRequest request);
  absl::StatusOr<v1::ListOverdueResponse> List(const CallContext& call, absl::string_view context,
                                               v1::ListOverdueRequest request);
  absl::StatusOr<v1::WorkloadResponse> Workload(const CallContext& call, absl::string_view context,
                                                v1::WorkloadRequest request);
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

  mutable absl::Mutex mu_;
  std::vector<Owner> owners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::backlog

#endif  // VIGIL_SERVICES_BACKLOG_FEED_CLIENT_H_
