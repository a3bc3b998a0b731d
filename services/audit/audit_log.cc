#include "services/audit/audit_log.h"

#include <algorithm>
#include <optional>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/audit/witness.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "storage/key_codec.h"

namespace vigil::audit {
namespace {

// A page stops after examining this many index entries, so a narrow time window over a long
// log answers promptly; the client continues with the token.
constexpr int kMaxExamined = 20000;

}  // namespace

absl::StatusOr<v1::ListAuditRecordsResponse> AuditLog::List(
    const CallContext& call, const v1::ListAuditRecordsRequest& request) {
  if (!request.subject_id().empty() && !request.actor().empty()) {
    return FieldError("subject_id", "give subject_id or actor, not both");
  }
  VIGIL_ASSIGN_OR_RETURN(std::optional<absl::Time> from,
                         OptionalProtoTime(request.has_from(), request.from(), "from"));
  VIGIL_ASSIGN_OR_RETURN(std::optional<absl::Time> to,
                         OptionalProtoTime(request.has_to(), request.to(), "to"));
  if (from.has_value() && to.has_value() && *to < *from) {
    return FieldError("to", "is before from");
  }
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));

  const bool national = request.national_security_log();
  if (national && call.principal.role != Role::kNationalAuditor) {
    absl::Status refused = absl::PermissionDeniedError(
        "national_security_log: only the national-auditor role reads the national security log; "
        "leave it unset to list your force's log");
    storage::Change change;
    change.SetAudit(
        call.Audit(v1::AUDIT_ACTION_CONSULTATION, {}, refused.message(), v1::AUDIT_REFUSAL_ROLE));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    return refused;
  }
  const std::string& force = call.principal.force;
  const std::string query = absl::StrCat(
      "audit|", national ? "national" : force, "|s=", request.subject_id(), "|a=", request.actor(),
      "|f=", from ? FormatUtcTime(*from) : "", "|t=", to ? FormatUtcTime(*to) : "");
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));
  uint64_t after = 0;
  if (!cursor.empty()) {
    if (cursor.size() != 8) return FieldError("page_token", "is not a token this server issued");
    after = storage::DecodeFixed64BE(cursor.data());
  }

  std::string prefix;
  if (national) {
    prefix = storage::AuditNationalSecurityPrefix();
  } else if (!request.subject_id().empty()) {
    prefix = storage::AuditBySubjectPrefix(force, request.subject_id());
  } else if (!request.actor().empty()) {
    prefix = storage::AuditByActorPrefix(force, request.actor());
  } else {
    prefix = storage::AuditByForcePrefix(force);
  }

  const storage::ReadView view = store_.Snapshot();
  v1::ListAuditRecordsResponse response;
  absl::btree_set<std::string> disclosed;
  absl::Status read_status;
  uint64_t last_examined = after;
  int examined = 0;
  bool more = false;
  VIGIL_RETURN_IF_ERROR(view.ScanAuditIndex(prefix, after, [&](uint64_t sequence) {
    if (response.records_size() == page_size || examined == kMaxExamined) {
      more = true;
      return false;
    }
    ++examined;
    absl::StatusOr<std::optional<storage::StoredAuditRecord>> stored = view.AuditRecord(sequence);
    if (!stored.ok() || !stored->has_value()) {
      read_status = stored.ok() ? absl::DataLossError(absl::StrCat("audit index names record ",
                                                                   sequence, " which is missing"))
                                : stored.status();
      return false;
    }
    v1::AuditRecord record;
    if (!record.ParseFromString((*stored)->body)) {
      read_status = absl::DataLossError(absl::StrCat("audit record ", sequence, " is unreadable"));
      return false;
    }
    last_examined = sequence;
    const absl::Time time = TimeOf(record.time());
    if ((from && time < *from) || (to && time >= *to)) return true;
    // The national log has one index: its filters are applied here.
    if (national && !request.actor().empty() && record.actor() != request.actor()) return true;
    if (national && !request.subject_id().empty() &&
        std::find(record.subject_ids().begin(), record.subject_ids().end(), request.subject_id()) ==
            record.subject_ids().end()) {
      return true;
    }
    record.set_sequence(sequence);
    record.set_previous_hash((*stored)->previous_hash);
    record.set_hash((*stored)->hash);
    for (const std::string& subject : record.subject_ids()) disclosed.insert(subject);
    *response.add_records() = std::move(record);
    return true;
  }));
  VIGIL_RETURN_IF_ERROR(read_status);
  if (more) {
    std::string next;
    storage::PutFixed64BE(&next, last_examined);
    response.set_next_page_token(EncodePageToken(query, next));
  }

  // The listing discloses who accessed whom: log it before returning anything.
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION,
                             std::vector<std::string>(disclosed.begin(), disclosed.end())));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return response;
}

absl::StatusOr<v1::VerifyAuditChainResponse> AuditLog::Verify(
    const CallContext& call, const v1::VerifyAuditChainRequest& request) {
  std::vector<AuditCheckpoint> checkpoints;
  for (const v1::AuditCheckpoint& c : request.checkpoints()) {
    if (c.sequence() == 0 || c.hash().size() != storage::kAuditHashBytes) {
      return FieldError("checkpoints", "each needs a sequence and a 32-byte hash");
    }
    checkpoints.push_back({c.sequence(), c.hash(), TimeOf(c.time())});
  }
  const storage::ReadView view = store_.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(const storage::AuditChainReport report, view.VerifyAuditChain());
  v1::VerifyAuditChainResponse response;
  response.set_ok(report.ok);
  response.set_records_checked(report.records_checked);
  response.set_first_broken_sequence(report.first_broken_sequence);
  response.set_problem(report.problem);
  if (report.ok && !checkpoints.empty()) {
    VIGIL_ASSIGN_OR_RETURN(const WitnessReport witness,
                           VerifyAgainstCheckpoints(view, checkpoints));
    response.set_checkpoints_checked(witness.checkpoints_checked);
    if (!witness.ok) {
      response.set_ok(false);
      response.set_first_broken_sequence(witness.first_mismatched_sequence);
      response.set_problem(absl::StrCat("witness checkpoint ", witness.first_mismatched_sequence,
                                        ": ", witness.problem));
    }
  }
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {}));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return response;
}

}  // namespace vigil::audit
