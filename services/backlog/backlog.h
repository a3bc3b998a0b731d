// The supervisor's backlog, merged from every owning context through their ObligationFeed
// APIs: summaries by kind, risk and age band; oldest-first and riskiest-first pages; workloads
// weighted by the policy; daily snapshots (taken at local midnight and on demand) with trends
// and forecasts. Holds no copy of the obligations, only its snapshots. Thread-safe.
#ifndef VIGIL_SERVICES_BACKLOG_BACKLOG_H_
#define VIGIL_SERVICES_BACKLOG_BACKLOG_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/scheduled_task.h"
#include "services/backlog/feed_client.h"
#include "services/common/rpc.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "vigil/v1/backlog.pb.h"

namespace vigil::backlog {

class Backlog {
 public:
  // None owned.
  Backlog(storage::Store& store, FeedClients& feeds, const policy::PolicyRegistry& policies,
          const Clock& clock, absl::TimeZone zone)
      : store_(store), feeds_(feeds), policies_(policies), clock_(clock), zone_(zone) {}
  ~Backlog() { StopSnapshots(); }

  // An as_of more than kHistoryTolerance before now is answered from the owners' history:
  // what was open then, with the due times it had (view HISTORY). InvalidArgument: an as_of
  // before any history of the force, unknown kinds.
  // PermissionDenied: an officer asking about anyone else.
  absl::StatusOr<v1::BacklogSummary> Summary(const CallContext& call,
                                             const v1::GetBacklogSummaryRequest& request);
  absl::StatusOr<v1::ListBacklogItemsResponse> Items(const CallContext& call,
                                                     const v1::ListBacklogItemsRequest& request);
  // The work list of the caller (an officer), of a supervisor's team, or of the officer or team
  // named: overdue, due today and due soon, riskiest first, with names. PermissionDenied: an
  // officer naming anyone else. InvalidArgument: horizon_days outside 0-28, no team to default to.
  absl::StatusOr<v1::ListMyWorkResponse> MyWork(const CallContext& call,
                                                const v1::ListMyWorkRequest& request);
  absl::StatusOr<v1::GetWorkloadResponse> Workload(const CallContext& call,
                                                   const v1::GetWorkloadRequest& request);
  absl::StatusOr<v1::GetBacklogTrendResponse> Trend(const CallContext& call,
                                                    const v1::GetBacklogTrendRequest& request);
  absl::StatusOr<v1::TakeBacklogSnapshotResponse> TakeSnapshot(
      const CallContext& call, const v1::TakeBacklogSnapshotRequest& request);

  // Takes the snapshot of every force with open obligations, for the local day ending at
  // `day_end`. Returns how many forces were snapshotted.
  absl::StatusOr<int> SnapshotAllForces(absl::Time day_end);

  // Starts a thread that snapshots every force at each local midnight. Idempotent.
  void StartSnapshots() ABSL_LOCKS_EXCLUDED(mu_);
  void StopSnapshots() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<v1::BacklogSummary> Merge(const CallContext& call,
                                           const v1::GetBacklogSummaryRequest& request,
                                           absl::Time as_of, bool check_as_of);

  storage::Store& store_;
  FeedClients& feeds_;
  const policy::PolicyRegistry& policies_;
  const Clock& clock_;
  const absl::TimeZone zone_;

  absl::Mutex mu_;
  std::unique_ptr<ScheduledTask> snapshots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::backlog

#endif  // VIGIL_SERVICES_BACKLOG_BACKLOG_H_
