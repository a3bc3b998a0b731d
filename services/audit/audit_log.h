// The access log as the audit service sees it: listing and exporting records of the caller's
// force (each itself a logged access) and verifying the hash chain.
#ifndef VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_
#define VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/rpc.h"
#include "storage/store.h"
#include "vigil/v1/audit.pb.h"

namespace vigil::audit {

// What a listing or an export of the log asks for, its fields checked (DecodeFilter).
struct AuditFilter {
  std::string subject_id;
  std::string actor;
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;  // exclusive
  bool national = false;

  // In words, for the export's audit record: "subject_id=R1 from=2026-01-01T00:00:00Z".
  std::string Describe() const;
};

// InvalidArgument naming the field: both subject_id and actor, a bad timestamp, to before from.
absl::StatusOr<AuditFilter> DecodeFilter(const v1::ListAuditRecordsRequest& request);
absl::StatusOr<AuditFilter> DecodeFilter(const v1::ExportAuditRecordsRequest& request);

// One export in progress: a snapshot of the log taken when it began, read batch by batch.
// Holds one batch at a time. Not thread-safe: its stream asks for one batch at a time.
class AuditExport {
 public:
  struct Batch {
    // The batch to send; none when every entry examined was filtered out.
    v1::ExportAuditRecordsResponse response;
    // The last index position examined: the next batch starts after it.
    uint64_t cursor = 0;
    // Nothing follows: the index was read to its end.
    bool done = false;
  };

  // Records per batch.
  static constexpr int kBatchRecords = 500;

  // The next batch of matching records after index position `after` (0: from the start),
  // oldest first. Before it returns the batch, audits the disclosure of the batch's subjects
  // as happening at `now`. DataLoss: the index names a record that is missing or unreadable.
  // Unavailable: storage failed (nothing of the batch is returned).
  absl::StatusOr<Batch> Next(uint64_t after, absl::Time now);

 private:
  friend class AuditLog;
  AuditExport(storage::Store& store, CallContext call, AuditFilter filter, storage::ReadView view);

  storage::Store& store_;
  const CallContext call_;
  const AuditFilter filter_;
  const std::string prefix_;
  const storage::ReadView view_;
};

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

  // Begins an export of the records `filter` selects from call.principal.force's log (or the
  // national security log), as they stand now: a snapshot is taken, then the export's request
  // is audited (a disclosure naming the filter, and the subject of a subject access request),
  // and only then may its batches be read (AuditExport::Next). PermissionDenied, audited, for
  // the national security log asked by any role but national-auditor. Unavailable: storage
  // failed. Thread-safe.
  absl::StatusOr<std::unique_ptr<AuditExport>> StartExport(const CallContext& call,
                                                           const AuditFilter& filter);

  // Walks the whole chain, then checks it against the request's checkpoints (a witness's:
  // witness.h), and audits the verification. Thread-safe.
  absl::StatusOr<v1::VerifyAuditChainResponse> Verify(const CallContext& call,
                                                      const v1::VerifyAuditChainRequest& request);

 private:
  // PermissionDenied, audited, when `filter` asks for the national security log and the caller
  // is not a national auditor.
  absl::Status CheckNationalLog(const CallContext& call, const AuditFilter& filter);

  storage::Store& store_;
};

}  // namespace vigil::audit

#endif  // VIGIL_SERVICES_AUDIT_AUDIT_LOG_H_
