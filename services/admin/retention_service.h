// gRPC handlers of vigil.v1.RetentionService: the records of the caller's force due for review
// under the retention schedule (MoPI), the review that keeps one, and the erasure that removes
// one, each answered by the owning context that keeps the record (RecordKeeper).
#ifndef VIGIL_SERVICES_ADMIN_RETENTION_SERVICE_H_
#define VIGIL_SERVICES_ADMIN_RETENTION_SERVICE_H_

#include <span>
#include <vector>

#include "services/common/rpc.h"
#include "services/obligations/record_store.h"
#include "storage/store.h"
#include "vigil/v1/retention.grpc.pb.h"

namespace vigil::admin {

class RetentionServiceImpl final : public v1::RetentionService::CallbackService {
 public:
  // `keepers`: the owning contexts hosted here (none: every RPC is FAILED_PRECONDITION). None
  // owned.
  RetentionServiceImpl(RpcRuntime& runtime, std::vector<RecordKeeper*> keepers,
                       storage::Store& store)
      : runtime_(runtime), keepers_(std::move(keepers)), store_(store) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* ListDueForReview(grpc::CallbackServerContext* context,
                                             const v1::ListDueForReviewRequest* request,
                                             v1::ListDueForReviewResponse* response) override;
  grpc::ServerUnaryReactor* ReviewRecord(grpc::CallbackServerContext* context,
                                         const v1::ReviewRecordRequest* request,
                                         v1::RecordRetention* response) override;
  grpc::ServerUnaryReactor* EraseRecord(grpc::CallbackServerContext* context,
                                        const v1::EraseRecordRequest* request,
                                        v1::EraseRecordResponse* response) override;

 private:
  // The keeper of `type`'s records. InvalidArgument naming record_type for UNSPECIFIED;
  // FailedPrecondition when its context is not hosted by this vigild.
  absl::StatusOr<RecordKeeper*> KeeperOf(v1::RecordType type) const;

  RpcRuntime& runtime_;
  const std::vector<RecordKeeper*> keepers_;
  storage::Store& store_;
};

}  // namespace vigil::admin

#endif  // VIGIL_SERVICES_ADMIN_RETENTION_SERVICE_H_
