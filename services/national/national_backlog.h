// The national backlog: BacklogService across forces, for the national auditor and HMICFRS
// inspectors. Every call is fanned out to each force's shard at once (ShardSet) and the answers
// merged: national totals, each force's own part, and the forces that did not answer in time
// named (partial, missing_forces) rather than failing the call. Keeps no copy of any force's
// data; what it returns carries no personal data (StripPersonalData), and each call is audited
// here under the person who asked, as each shard audits its part. Thread-safe.
#ifndef VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_H_
#define VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "services/national/shards.h"
#include "storage/store.h"
#include "vigil/v1/backlog.pb.h"

namespace vigil::national {

// Keeps only what identifies no one: kind, risk, due time, team, force and policy version of an
// obligation (its id, subject, owning officer and reason, which may name them, and any field
// added later, go); of a backlog item, that obligation, days overdue and age band (the subject's
// name goes).
void StripPersonalData(v1::Obligation& obligation);
void StripPersonalData(v1::BacklogItem& item);

// The pure merges, separate so that they are tested without shards. Each takes the shards'
// answers in force order; forces without an answer go to missing_forces (and partial).
// Unavailable naming every force when no shard answered; when every shard refused the
// request itself (InvalidArgument), that refusal.
absl::StatusOr<v1::BacklogSummary> MergeSummaries(
    std::vector<ShardAnswer<v1::BacklogSummary>> answers, const v1::GetBacklogSummaryRequest& ask);
absl::StatusOr<v1::GetWorkloadResponse> MergeWorkloads(
    const std::vector<ShardAnswer<v1::GetWorkloadResponse>>& answers);
absl::StatusOr<v1::GetBacklogTrendResponse> MergeTrends(
    const std::vector<ShardAnswer<v1::GetBacklogTrendResponse>>& answers);

class NationalBacklog {
 public:
  // Neither owned. `store` keeps this process's audit records.
  NationalBacklog(storage::Store& store, const ShardSet& shards) : store_(store), shards_(shards) {}

  // National totals and each force's summary (by_force); oldest without personal data.
  absl::StatusOr<v1::BacklogSummary> Summary(const CallContext& call,
                                             const v1::GetBacklogSummaryRequest& request);
  // Overdue obligations of every force merged oldest first (or risk then age), without
  // personal data; the page token carries each shard's place. InvalidArgument: a page token
  // of another query.
  absl::StatusOr<v1::ListBacklogItemsResponse> Items(const CallContext& call,
                                                     const v1::ListBacklogItemsRequest& request);
  // Load by force and team (officer empty: no officer is named nationally).
  absl::StatusOr<v1::GetWorkloadResponse> Workload(const CallContext& call,
                                                   const v1::GetWorkloadRequest& request);
  // Each force's daily points (by_force) and their sums by date.
  absl::StatusOr<v1::GetBacklogTrendResponse> Trend(const CallContext& call,
                                                    const v1::GetBacklogTrendRequest& request);

 private:
  // Commits the audit record of one fan-out: a consultation of the forces that answered.
  // `missing` is logged with it.
  absl::Status Audit(const CallContext& call, const std::vector<std::string>& answered,
                     const std::vector<std::string>& missing);
  template <typename Response>
  absl::Status AuditAnswers(const CallContext& call,
                            const std::vector<ShardAnswer<Response>>& answers);

  storage::Store& store_;
  const ShardSet& shards_;
};

}  // namespace vigil::national

#endif  // VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_H_
