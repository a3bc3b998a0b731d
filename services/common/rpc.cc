#include "services/common/rpc.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {
namespace {

bool IsPrintable(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

storage::AuditEntry CallContext::Audit(v1::AuditAction action, std::vector<std::string> subject_ids,
                                       absl::string_view outcome) const {
  v1::AuditRecord record;
  *record.mutable_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  record.set_actor(principal.actor);
  record.set_role(std::string(RoleName(principal.role)));
  record.set_force(principal.force);
  record.set_action(action);
  for (const std::string& subject : subject_ids) record.add_subject_ids(subject);
  record.set_purpose(purpose);
  record.set_request_id(request_id);
  record.set_rpc(method);
  record.set_outcome(std::string(outcome));

  storage::AuditEntry entry;
  entry.force = principal.force;
  entry.actor = principal.actor;
  entry.subject_ids = std::move(subject_ids);
  entry.body = record.SerializeAsString();
  return entry;
}

void RpcRuntime::CallStarted() {
  std::lock_guard lock(mu_);
  ++in_flight_;
}

void RpcRuntime::CallFinished() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) idle_.notify_all();
}

int RpcRuntime::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool RpcRuntime::WaitIdle(absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return in_flight_ == 0; });
}

absl::StatusOr<CallContext> RpcRuntime::Admit(const grpc::CallbackServerContext& context,
                                              const RpcSpec& spec) const {
  if (!admitting_) {
    return absl::UnavailableError("vigild is shutting down; retry shortly or on another instance");
  }
  absl::StatusOr<Principal> principal = authenticator_.Authenticate(context);
  if (!principal.ok()) {
    VIGIL_LOG(WARNING) << spec.method << ": unauthenticated call from " << context.peer() << ": "
                       << principal.status().message();
    return principal.status();
  }
  if (!spec.roles.contains(principal->role)) {
    VIGIL_LOG(WARNING) << spec.method << ": denied " << principal->actor << " ("
                       << RoleName(principal->role) << ", " << principal->force << ")";
    return absl::PermissionDeniedError(absl::StrCat(spec.method, " is open to ",
                                                    spec.roles.ToString(), ", not to ",
                                                    RoleName(principal->role)));
  }
  CallContext call;
  call.principal = *std::move(principal);
  call.method = std::string(spec.method);
  call.now = clock_.Now();
  if (std::optional<absl::string_view> id = MetadataValue(context, "x-vigil-request-id")) {
    if (id->size() > kMaxRequestIdBytes || !IsPrintable(*id)) {
      return FieldError("x-vigil-request-id", absl::StrCat("must be at most ", kMaxRequestIdBytes,
                                                           " printable characters"));
    }
    call.request_id = std::string(*id);
  }
  std::optional<absl::string_view> purpose = MetadataValue(context, "x-vigil-purpose");
  if (purpose.has_value()) {
    if (purpose->size() > kMaxPurposeBytes || !IsPrintable(*purpose)) {
      return FieldError("x-vigil-purpose", absl::StrCat("must be at most ", kMaxPurposeBytes,
                                                        " printable characters"));
    }
    call.purpose = std::string(*purpose);
  }
  if (spec.personal_data && call.purpose.empty()) {
    return FieldError("x-vigil-purpose",
                      "this call touches personal data: say why (e.g. 'MAPPA meeting 2026-11-23')");
  }
  return call;
}

}  // namespace vigil
