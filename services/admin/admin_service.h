// gRPC handlers of vigil.v1.AdminService: policy versions, recomputation of due dates,
// backups and store verification.
#ifndef VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include <span>

#include "services/admin/backup_keeper.h"
#include "services/common/rpc.h"
#include "services/obligations/record_store.h"
#include "services/policy/policy_registry.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::admin {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `owners`: the owning contexts hosted here, whose clocks RecomputeObligations re-derives
  // (none: FAILED_PRECONDITION). `backups`: null when vigild runs without --backup-dir (the
  // backup RPCs answer FAILED_PRECONDITION). None owned.
  AdminServiceImpl(RpcRuntime& runtime, policy::PolicyRegistry& policies,
                   std::vector<ClockRecomputer*> owners, storage::Store& store,
                   BackupKeeper* backups)
      : runtime_(runtime),
        policies_(policies),
        owners_(std::move(owners)),
        store_(store),
        backups_(backups) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const v1::GetPolicyRequest* request,
                                      v1::Policy* response) override;
  grpc::ServerUnaryReactor* SetPolicy(grpc::CallbackServerContext* context,
                                      const v1::SetPolicyRequest* request,
                                      v1::Policy* response) override;
  grpc::ServerUnaryReactor* ListPolicyVersions(grpc::CallbackServerContext* context,
                                               const v1::ListPolicyVersionsRequest* request,
                                               v1::ListPolicyVersionsResponse* response) override;
  grpc::ServerUnaryReactor* RecomputeObligations(
      grpc::CallbackServerContext* context, const v1::RecomputeObligationsRequest* request,
      v1::RecomputeObligationsResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const v1::GetMetricsRequest* request,
                                       v1::GetMetricsResponse* response) override;
  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* context,
                                         const v1::CreateBackupRequest* request,
                                         v1::Backup* response) override;
  grpc::ServerUnaryReactor* ListBackups(grpc::CallbackServerContext* context,
                                        const v1::ListBackupsRequest* request,
                                        v1::ListBackupsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyBackup(grpc::CallbackServerContext* context,
                                         const v1::VerifyBackupRequest* request,
                                         v1::VerifyBackupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteBackup(grpc::CallbackServerContext* context,
                                         const v1::DeleteBackupRequest* request,
                                         v1::DeleteBackupResponse* response) override;
  grpc::ServerUnaryReactor* VerifyStore(grpc::CallbackServerContext* context,
                                        const v1::VerifyStoreRequest* request,
                                        v1::VerifyStoreResponse* response) override;

 private:
  // FailedPrecondition when vigild has no --backup-dir.
  absl::StatusOr<BackupKeeper*> Keeper() const;
  // Records an administrative action on the store (no subject) in the audit chain.
  absl::Status AuditAction(const CallContext& call);

  RpcRuntime& runtime_;
  policy::PolicyRegistry& policies_;
  const std::vector<ClockRecomputer*> owners_;
  storage::Store& store_;
  BackupKeeper* const backups_;
};

}  // namespace vigil::admin

#endif  // VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
