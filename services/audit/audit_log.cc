#include "services/audit/audit_log.h"

#include <algorithm>
#include <optional>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/audit/witness.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "storage/key_codec.h"

namespace vigil::audit {
namespace {

// A page stops after examining this many index entries, so a narrow time window over a long
// log answers promptly; the client continues with the token. An export's batch stops there
// too, so that one fetch never holds a worker for long.
constexpr int kMaxExamined = 20000;

template <typename Request>
absl::StatusOr<AuditFilter> DecodeFilterOf(const Request& request) {
  if (!request.subject_id().empty() && !request.actor().empty()) {
    return FieldError("subject_id", "give subject_id or actor, not both");
  }
  AuditFilter filter;
  VIGIL_ASSIGN_OR_RETURN(filter.from,
                         OptionalProtoTime(request.has_from(), request.from(), "from"));
  VIGIL_ASSIGN_OR_RETURN(filter.to, OptionalProtoTime(request.has_to(), request.to(), "to"));
  if (filter.from.has_value() && filter.to.has_value() && *filter.to < *filter.from) {
    return FieldError("to", "is before from");
  }
  filter.subject_id = request.subject_id();
  filter.actor = request.actor();
  filter.national = request.national_security_log();
  return filter;
}

// The audit index that holds what `filter` selects in `force`'s log.
std::string IndexPrefix(const std::string& force, const AuditFilter& filter) {
  if (filter.national) return storage::AuditNationalSecurityPrefix();
  if (!filter.subject_id.empty()) return storage::AuditBySubjectPrefix(force, filter.subject_id);
  if (!filter.actor.empty()) return storage::AuditByActorPrefix(force, filter.actor);
  return storage::AuditByForcePrefix(force);
}

// The record the index names at `sequence`, with its chain position and hashes, or nullopt
// when the filters the index does not apply leave it out. DataLoss: missing or unreadable.
absl::StatusOr<std::optional<v1::AuditRecord>> ReadMatching(const storage::ReadView& view,
                                                            uint64_t sequence,
                                                            const AuditFilter& filter) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<storage::StoredAuditRecord> stored,
                         view.AuditRecord(sequence));
  if (!stored.has_value()) {
    return absl::DataLossError(
        absl::StrCat("audit index names record ", sequence, " which is missing"));
  }
  v1::AuditRecord record;
  if (!record.ParseFromString(stored->body)) {
    return absl::DataLossError(absl::StrCat("audit record ", sequence, " is unreadable"));
  }
  const absl::Time time = TimeOf(record.time());
  if ((filter.from && time < *filter.from) || (filter.to && time >= *filter.to)) {
    return std::nullopt;
  }
  // The national log has one index: its filters are applied here.
  if (filter.national && !filter.actor.empty() && record.actor() != filter.actor) {
    return std::nullopt;
  }
  if (filter.national && !filter.subject_id.empty() &&
      std::find(record.subject_ids().begin(), record.subject_ids().end(), filter.subject_id) ==
          record.subject_ids().end()) {
    return std::nullopt;
  }
  record.set_sequence(sequence);
  record.set_previous_hash(std::move(stored->previous_hash));
  record.set_hash(std::move(stored->hash));
  return record;
}

// The audit record of (a batch of) an export: a disclosure of `subjects`, naming the filter.
storage::AuditEntry ExportAudit(const CallContext& call, const AuditFilter& filter,
                                std::vector<std::string> subjects) {
  storage::AuditEntry entry = call.Audit(v1::AUDIT_ACTION_DISCLOSURE, std::move(subjects));
  v1::AuditRecord record;
  if (record.ParseFromString(entry.body)) {
    record.set_export_filter(filter.Describe());
    entry.body = record.SerializeAsString();
  }
  return entry;
}

}  // namespace

std::string AuditFilter::Describe() const {
  std::vector<std::string> parts;
  if (national) parts.emplace_back("national_security_log");
  if (!subject_id.empty()) parts.push_back(absl::StrCat("subject_id=", subject_id));
  if (!actor.empty()) parts.push_back(absl::StrCat("actor=", actor));
  if (from) parts.push_back(absl::StrCat("from=", FormatUtcTime(*from)));
  if (to) parts.push_back(absl::StrCat("to=", FormatUtcTime(*to)));
  if (parts.empty()) return "every record";
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<AuditFilter> DecodeFilter(const v1::ListAuditRecordsRequest& request) {
  return DecodeFilterOf(request);
}

absl::StatusOr<AuditFilter> DecodeFilter(const v1::ExportAuditRecordsRequest& request) {
  return DecodeFilterOf(request);
}

absl::Status AuditLog::CheckNationalLog(const CallContext& call, const AuditFilter& filter) {
  if (!filter.national || call.principal.role == Role::kNationalAuditor) return absl::OkStatus();
  absl::Status refused = absl::PermissionDeniedError(
      "national_security_log: only the national-auditor role reads the national security log; "
      "leave it unset to read your force's log");
  storage::Change change;
  change.SetAudit(
      call.Audit(v1::AUDIT_ACTION_CONSULTATION, {}, refused.message(), v1::AUDIT_REFUSAL_ROLE));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return refused;
}

absl::StatusOr<v1::ListAuditRecordsResponse> AuditLog::List(
    const CallContext& call, const v1::ListAuditRecordsRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(const AuditFilter filter, DecodeFilter(request));
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  VIGIL_RETURN_IF_ERROR(CheckNationalLog(call, filter));
  const std::string& force = call.principal.force;
  const std::string query =
      absl::StrCat("audit|", filter.national ? "national" : force, "|s=", filter.subject_id,
                   "|a=", filter.actor, "|f=", filter.from ? FormatUtcTime(*filter.from) : "",
                   "|t=", filter.to ? FormatUtcTime(*filter.to) : "");
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));
  uint64_t after = 0;
  if (!cursor.empty()) {
    if (cursor.size() != 8) return FieldError("page_token", "is not a token this server issued");
    after = storage::DecodeFixed64BE(cursor.data());
  }

  const storage::ReadView view = store_.Snapshot();
  v1::ListAuditRecordsResponse response;
  absl::btree_set<std::string> disclosed;
  absl::Status read_status;
  uint64_t last_examined = after;
  int examined = 0;
  bool more = false;
  VIGIL_RETURN_IF_ERROR(
      view.ScanAuditIndex(IndexPrefix(force, filter), after, [&](uint64_t sequence) {
        if (response.records_size() == page_size || examined == kMaxExamined) {
          more = true;
          return false;
        }
        ++examined;
        absl::StatusOr<std::optional<v1::AuditRecord>> record =
            ReadMatching(view, sequence, filter);
        if (!record.ok()) {
          read_status = record.status();
          return false;
        }
        last_examined = sequence;
        if (!record->has_value()) return true;
        for (const std::string& subject : (*record)->subject_ids()) disclosed.insert(subject);
        *response.add_records() = **std::move(record);
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

absl::StatusOr<std::unique_ptr<AuditExport>> AuditLog::StartExport(const CallContext& call,
                                                                   const AuditFilter& filter) {
  VIGIL_RETURN_IF_ERROR(CheckNationalLog(call, filter));
  // The snapshot comes first: the export is the log as it stood when asked for, without the
  // export's own records.
  // Read around the block cache: an export of the whole log must not evict the working set.
  storage::ReadView view = store_.Snapshot().WithoutCaching();
  std::vector<std::string> subjects;
  if (!filter.subject_id.empty()) subjects.push_back(filter.subject_id);
  storage::Change change;
  change.SetAudit(ExportAudit(call, filter, std::move(subjects)));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return std::unique_ptr<AuditExport>(new AuditExport(store_, call, filter, std::move(view)));
}

AuditExport::AuditExport(storage::Store& store, CallContext call, AuditFilter filter,
                         storage::ReadView view)
    : store_(store),
      call_(std::move(call)),
      filter_(std::move(filter)),
      prefix_(IndexPrefix(call_.principal.force, filter_)),
      view_(std::move(view)) {}

absl::StatusOr<AuditExport::Batch> AuditExport::Next(uint64_t after, absl::Time now) {
  Batch batch;
  batch.cursor = after;
  absl::btree_set<std::string> disclosed;
  absl::Status read_status;
  int examined = 0;
  bool cut = false;
  VIGIL_RETURN_IF_ERROR(view_.ScanAuditIndex(prefix_, after, [&](uint64_t sequence) {
    if (batch.response.records_size() == kBatchRecords || examined == kMaxExamined) {
      cut = true;
      return false;
    }
    ++examined;
    absl::StatusOr<std::optional<v1::AuditRecord>> record = ReadMatching(view_, sequence, filter_);
    if (!record.ok()) {
      read_status = record.status();
      return false;
    }
    batch.cursor = sequence;
    if (!record->has_value()) return true;
    for (const std::string& subject : (*record)->subject_ids()) disclosed.insert(subject);
    *batch.response.add_records() = **std::move(record);
    return true;
  }));
  VIGIL_RETURN_IF_ERROR(read_status);
  batch.done = !cut;
  if (batch.response.records_size() > 0) {
    // Who exported whose access history: logged before the batch leaves.
    CallContext call = call_;
    call.now = now;
    storage::Change change;
    change.SetAudit(
        ExportAudit(call, filter_, std::vector<std::string>(disclosed.begin(), disclosed.end())));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  }
  return batch;
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
  // An incremental walk starts after a checkpoint, whose signed hash vouches for what came
  // before it.
  std::string anchor;
  const uint64_t from = std::max<uint64_t>(request.from_sequence(), 1);
  if (from > 1) {
    for (const AuditCheckpoint& c : checkpoints) {
      if (c.sequence == from - 1) anchor = c.hash;
    }
    if (anchor.empty()) {
      return FieldError("from_sequence",
                        absl::StrCat("give the witness checkpoint of record ", from - 1,
                                     " (vigil audit verify --from takes it from --witness), or "
                                     "walk the whole chain"));
    }
  }
  const storage::ReadView view = store_.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(const storage::AuditChainReport report,
                         view.VerifyAuditChain(from, anchor));
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
