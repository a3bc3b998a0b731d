#include "services/admin/admin_service.h"

#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/metrics.h"
#include "services/common/validate.h"
#include "storage/change.h"

namespace vigil::admin {
namespace {

constexpr RpcSpec kGetPolicy{"vigil.v1.AdminService/GetPolicy", RoleSet::All(), false};
constexpr RpcSpec kSetPolicy{"vigil.v1.AdminService/SetPolicy", {Role::kForceAdmin}, false};
constexpr RpcSpec kListPolicyVersions{"vigil.v1.AdminService/ListPolicyVersions", RoleSet::All(),
                                      false};
constexpr RpcSpec kRecomputeObligations{
    "vigil.v1.AdminService/RecomputeObligations", {Role::kForceAdmin}, false};
constexpr RpcSpec kGetMetrics{"vigil.v1.AdminService/GetMetrics", RoleSet::All(), false};
constexpr RpcSpec kCreateBackup{
    "vigil.v1.AdminService/CreateBackup", {Role::kForceAdmin, Role::kSystem}, false};
constexpr RpcSpec kListBackups{
    "vigil.v1.AdminService/ListBackups", {Role::kForceAdmin, Role::kSystem, Role::kAuditor}, false};
constexpr RpcSpec kVerifyBackup{"vigil.v1.AdminService/VerifyBackup",
                                {Role::kForceAdmin, Role::kSystem, Role::kAuditor},
                                false};
constexpr RpcSpec kDeleteBackup{"vigil.v1.AdminService/DeleteBackup", {Role::kForceAdmin}, false};
constexpr RpcSpec kVerifyStore{
    "vigil.v1.AdminService/VerifyStore", {Role::kForceAdmin, Role::kSystem}, false};
constexpr RpcSpec kSpecs[] = {
    kGetPolicy,    kSetPolicy,   kListPolicyVersions, kRecomputeObligations, kGetMetrics,
    kCreateBackup, kListBackups, kVerifyBackup,       kDeleteBackup,         kVerifyStore};

v1::Backup ToProto(const storage::BackupRecord& record) {
  v1::Backup backup;
  backup.set_id(record.id);
  *backup.mutable_created_time() = ToProtoTime(record.created);
  backup.set_size_bytes(record.size_bytes);
  backup.set_files(record.files);
  backup.set_schema_version(record.schema_version);
  backup.set_audit_head(record.audit_head);
  return backup;
}

}  // namespace

std::span<const RpcSpec> AdminServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* context,
                                                      const v1::GetPolicyRequest* request,
                                                      v1::Policy* response) {
  return runtime_.Reply(context, kGetPolicy, response,
                        [=, this](const CallContext& call) -> absl::StatusOr<v1::Policy> {
                          const std::string& force = call.principal.force;
                          if (request->version().empty()) return *policies_.Current(force);
                          return policies_.Get(force, request->version());
                        });
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetPolicy(grpc::CallbackServerContext* context,
                                                      const v1::SetPolicyRequest* request,
                                                      v1::Policy* response) {
  return runtime_.Reply(
      context, kSetPolicy, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::Policy> {
        VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request->request_id(), 128, false));
        return policies_.Set(call, request->policy(), request->request_id());
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListPolicyVersions(
    grpc::CallbackServerContext* context, const v1::ListPolicyVersionsRequest* request,
    v1::ListPolicyVersionsResponse* response) {
  return runtime_.Reply(
      context, kListPolicyVersions, response,
      [this](const CallContext& call) -> absl::StatusOr<v1::ListPolicyVersionsResponse> {
        VIGIL_ASSIGN_OR_RETURN(std::vector<v1::PolicyVersion> versions,
                               policies_.List(call.principal.force));
        v1::ListPolicyVersionsResponse list;
        for (v1::PolicyVersion& v : versions) *list.add_versions() = std::move(v);
        return list;
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RecomputeObligations(
    grpc::CallbackServerContext* context, const v1::RecomputeObligationsRequest* request,
    v1::RecomputeObligationsResponse* response) {
  return runtime_.Reply(
      context, kRecomputeObligations, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::RecomputeObligationsResponse> {
        VIGIL_RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
        if (owners_.empty()) {
          return absl::FailedPreconditionError(
              "no owning context (rso, ocait) is hosted by this vigild; recompute where they run");
        }
        // The reason is the justification recorded with every record the recomputation moves.
        CallContext justified = call;
        justified.purpose = request->reason();
        v1::RecomputeObligationsResponse result;
        result.set_policy_version(policies_.Current(call.principal.force)->version());
        for (ClockRecomputer* owner : owners_) {
          VIGIL_ASSIGN_OR_RETURN(ClockRecomputer::Report report,
                                 owner->Recompute(justified, request->dry_run()));
          v1::ContextRecompute& part = *result.add_contexts();
          part.set_context(std::string(owner->context()));
          part.set_examined(report.examined);
          part.set_changed(report.changed);
          part.set_retimed(report.retimed);
          result.set_obligations_retimed(result.obligations_retimed() + report.retimed);
          if (owner->context() == "rso") {
            result.set_offenders_examined(report.examined);
            result.set_offenders_changed(report.changed);
          }
        }
        return result;
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetMetrics(grpc::CallbackServerContext* context,
                                                       const v1::GetMetricsRequest*,
                                                       v1::GetMetricsResponse* response) {
  return runtime_.Reply(context, kGetMetrics, response,
                        [](const CallContext& call) -> absl::StatusOr<v1::GetMetricsResponse> {
                          v1::GetMetricsResponse result;
                          *result.mutable_as_of() = ToProtoTime(call.now);
                          for (MetricSample& s : Metrics::Default().Snapshot()) {
                            v1::Metric* m = result.add_metrics();
                            m->set_name(std::move(s.name));
                            m->set_value(s.value);
                            m->set_help(std::move(s.help));
                          }
                          return result;
                        });
}

absl::StatusOr<BackupKeeper*> AdminServiceImpl::Keeper() const {
  if (backups_ == nullptr) {
    return absl::FailedPreconditionError(
        "this vigild keeps no backups: start it with --backup-dir (docs/operations.md)");
  }
  return backups_;
}

absl::Status AdminServiceImpl::AuditAction(const CallContext& call) {
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_ALTERATION, {}));
  return store_.Commit(change).status();
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateBackup(grpc::CallbackServerContext* context,
                                                         const v1::CreateBackupRequest*,
                                                         v1::Backup* response) {
  return runtime_.Reply(context, kCreateBackup, response,
                        [this](const CallContext& call) -> absl::StatusOr<v1::Backup> {
                          VIGIL_ASSIGN_OR_RETURN(BackupKeeper * keeper, Keeper());
                          // Recorded first: the backup then holds the record of its taking.
                          VIGIL_RETURN_IF_ERROR(AuditAction(call));
                          VIGIL_ASSIGN_OR_RETURN(storage::BackupRecord made, keeper->CreateNow());
                          return ToProto(made);
                        });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListBackups(grpc::CallbackServerContext* context,
                                                        const v1::ListBackupsRequest*,
                                                        v1::ListBackupsResponse* response) {
  return runtime_.Reply(context, kListBackups, response,
                        [this](const CallContext&) -> absl::StatusOr<v1::ListBackupsResponse> {
                          VIGIL_ASSIGN_OR_RETURN(BackupKeeper * keeper, Keeper());
                          VIGIL_ASSIGN_OR_RETURN(std::vector<storage::BackupRecord> records,
                                                 keeper->backups().List());
                          v1::ListBackupsResponse list;
                          list.set_backup_dir(keeper->backups().dir());
                          for (const storage::BackupRecord& record : records)
                            *list.add_backups() = ToProto(record);
                          return list;
                        });
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyBackup(grpc::CallbackServerContext* context,
                                                         const v1::VerifyBackupRequest* request,
                                                         v1::VerifyBackupResponse* response) {
  return runtime_.Reply(context, kVerifyBackup, response,
                        [=, this](const CallContext&) -> absl::StatusOr<v1::VerifyBackupResponse> {
                          VIGIL_ASSIGN_OR_RETURN(BackupKeeper * keeper, Keeper());
                          if (request->id() == 0)
                            return FieldError("id", "name a backup (vigil admin backup list)");
                          v1::VerifyBackupResponse result;
                          result.set_id(request->id());
                          absl::Status verified = keeper->backups().Verify(request->id());
                          if (verified.code() == absl::StatusCode::kDataLoss) {
                            // A damaged backup is the answer, not a failure of the call.
                            result.set_ok(false);
                            result.set_problem(std::string(verified.message()));
                            return result;
                          }
                          VIGIL_RETURN_IF_ERROR(verified);
                          result.set_ok(true);
                          return result;
                        });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteBackup(grpc::CallbackServerContext* context,
                                                         const v1::DeleteBackupRequest* request,
                                                         v1::DeleteBackupResponse* response) {
  return runtime_.Reply(
      context, kDeleteBackup, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::DeleteBackupResponse> {
        VIGIL_ASSIGN_OR_RETURN(BackupKeeper * keeper, Keeper());
        if (request->id() == 0) return FieldError("id", "name a backup (vigil admin backup list)");
        VIGIL_RETURN_IF_ERROR(keeper->backups().Delete(request->id()));
        VIGIL_RETURN_IF_ERROR(AuditAction(call));
        return v1::DeleteBackupResponse();
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyStore(grpc::CallbackServerContext* context,
                                                        const v1::VerifyStoreRequest*,
                                                        v1::VerifyStoreResponse* response) {
  return runtime_.Reply(context, kVerifyStore, response,
                        [this](const CallContext&) -> absl::StatusOr<v1::VerifyStoreResponse> {
                          VIGIL_ASSIGN_OR_RETURN(storage::VerifyReport report,
                                                 store_.VerifyChecksums());
                          v1::VerifyStoreResponse result;
                          result.set_files_checked(report.files_checked);
                          result.set_bytes_checked(report.bytes_checked);
                          for (const auto& [file, problem] : report.damaged) {
                            result.add_damaged_files(file);
                            result.add_problems(problem);
                          }
                          return result;
                        });
}

}  // namespace vigil::admin
