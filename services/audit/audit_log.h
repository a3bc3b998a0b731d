// The access log as the audit service sees it: listing records of the caller's force (itself
// a consultation that is logged) and verifying the hash chain.
#ifndef VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_
#define VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_

#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "storage/store.h"
#include "vigil/v1/audit.pb.h"

namespace vigil::audit {

class AuditLog {
 public:
  explicit AuditLog(storage::Store& store) : store_(store) {}

  // Records of call.principal.force matching the request, oldest first, one page; with
  // national_security_log, the national security log of every force instead (the
  // national-auditor role only: PermissionDenied, audited, for any other). The listing is
  // audited (a consultation of the subjects it returns) before anything is returned.
  // InvalidArgument naming the field: both subject_id and actor, to before from, a bad page
  // token or size. Unavailable: storage failed.
  absl::StatusOr<v1::ListAuditRecordsResponse> List(const CallContext& call,
                                                    const v1::ListAuditRecordsRequest& request);

  // Walks the whole chain, then checks it against the request's checkpoints (a witness's:
  // witness.h), and audits the verification. Thread-safe.
  absl::StatusOr<v1::VerifyAuditChainResponse> Verify(const CallContext& call,
                                                      const v1::VerifyAuditChainRequest& request);

 private:
  storage::Store& store_;
};

}  // namespace vigil::audit

#endif  // VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_
