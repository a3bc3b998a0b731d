#include "services/common/rpc.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/internal_call.h"
#include "services/common/metrics.h"

namespace vigil {
namespace {

bool IsPrintable(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// InvalidArgument naming x-vigil-purpose unless `purpose` is short and printable.
absl::Status CheckPurposeText(absl::string_view purpose) {
  if (purpose.size() <= kMaxPurposeBytes && IsPrintable(purpose)) return absl::OkStatus();
  return FieldError("x-vigil-purpose",
                    absl::StrCat("must be at most ", kMaxPurposeBytes, " printable characters"));
}

// At most this many refused credentials are recorded per second, whatever their subjects.
constexpr int64_t kMaxBadCredentialRecordsPerSecond = 20;

// The read limiter's key of a principal.
std::string PrincipalKey(const Principal& principal) {
  return absl::StrCat(principal.force, "/", principal.actor);
}

}  // namespace

bool CallContext::MaySee(absl::string_view team, absl::string_view owner) const {
  if (principal.role != Role::kOfficer || !cross_team_reason.empty()) return true;
  if (!owner.empty() && owner == principal.actor) return true;
  return !principal.team.empty() && team == principal.team;
}

absl::Status CallContext::CheckMaySee(absl::string_view what, absl::string_view team,
                                      absl::string_view owner) const {
  if (MaySee(team, owner)) return absl::OkStatus();
  const std::string yours =
      principal.team.empty() ? "your own caseload" : absl::StrCat("team ", principal.team, "'s");
  return absl::PermissionDeniedError(absl::StrCat(
      what, " is in ", team.empty() ? "no team's" : absl::StrCat("team ", team, "'s"),
      " caseload, outside ", yours,
      ": an officer reads it only with a cross-team reason "
      "(vigil --cross-team REASON, metadata x-vigil-cross-team), recorded in the audit log"));
}

absl::Status CallContext::NarrowToCaseload(std::string& team, std::string& owner) const {
  if (principal.role != Role::kOfficer || !cross_team_reason.empty()) return absl::OkStatus();
  if (!owner.empty() && owner != principal.actor) {
    return absl::PermissionDeniedError(absl::StrCat(
        "an officer lists only their own caseload; officer '", owner,
        "' needs a cross-team reason (vigil --cross-team REASON, metadata x-vigil-cross-team)"));
  }
  if (!team.empty() && team != principal.team && owner != principal.actor) {
    return absl::PermissionDeniedError(
        absl::StrCat("an officer lists only their team's caseload; team '", team,
                     "' needs a cross-team reason (vigil --cross-team REASON, metadata "
                     "x-vigil-cross-team)"));
  }
  if (team.empty() && owner.empty()) {
    if (principal.team.empty()) {
      owner = principal.actor;
    } else {
      team = principal.team;
    }
  }
  return absl::OkStatus();
}

storage::AuditEntry CallContext::Audit(v1::AuditAction action, std::vector<std::string> subject_ids,
                                       absl::string_view outcome, v1::AuditRefusal refusal,
                                       bool national_security) const {
  v1::AuditRecord record;
  *record.mutable_time() = ToProtoTime(now);
  record.set_actor(principal.actor);
  record.set_role(std::string(RoleName(principal.role)));
  record.set_force(principal.force);
  record.set_action(action);
  for (const std::string& subject : subject_ids) record.add_subject_ids(subject);
  record.set_purpose(purpose);
  record.set_request_id(request_id);
  record.set_rpc(method);
  record.set_outcome(std::string(outcome));
  record.set_team(principal.team);
  record.set_rank(std::string(RankName(principal.rank)));
  record.set_cross_team_reason(cross_team_reason);
  record.set_via(principal.via);
  record.set_refusal(refusal);
  record.set_national_security(national_security);
  if (read_limiter != nullptr && outcome.empty() &&
      (action == v1::AUDIT_ACTION_CONSULTATION || action == v1::AUDIT_ACTION_DISCLOSURE)) {
    read_limiter->Charge(PrincipalKey(principal), static_cast<int64_t>(subject_ids.size()), now);
  }

  storage::AuditEntry entry;
  entry.force = principal.force;
  entry.actor = principal.actor;
  entry.subject_ids = std::move(subject_ids);
  entry.body = record.SerializeAsString();
  entry.national_security = national_security;
  return entry;
}

void RpcRuntime::Finish(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                        absl::Time start, const grpc::Status& status) {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  static const char* const kCodes[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  const std::string labels = absl::StrCat("method=", LabelValue(method), ",code=\"",
                                          code >= 0 && code <= 16 ? kCodes[code] : "UNKNOWN", "\"");
  Metrics::Default()
      .Get(absl::StrCat("rpc_requests_total{", labels, "}"),
           "Unary calls answered, by method and code")
      .Add(1);
  Metrics::Default()
      .GetHistogram(absl::StrCat("rpc_duration_seconds{method=", LabelValue(method), "}"),
                    "Time from a unary call's arrival to its answer", LatencyBounds())
      .Observe(seconds);
  // Counted before the answer leaves: a client that scrapes /metrics after its answer must find
  // its call counted (operations_e2e_test raced this when Finish came first).
  reactor->Finish(status);
}

void RpcRuntime::CallStarted() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

bool RpcRuntime::CallStartedWithin(size_t limit) {
  absl::MutexLock lock(&mu_);
  if (static_cast<size_t>(in_flight_) >= limit) return false;
  ++in_flight_;
  return true;
}

void RpcRuntime::CallFinished() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool RpcRuntime::AuditingStartedWithin(size_t limit) {
  absl::MutexLock lock(&mu_);
  if (static_cast<size_t>(auditing_) >= limit) return false;
  ++auditing_;
  return true;
}

void RpcRuntime::AuditingFinished() {
  absl::MutexLock lock(&mu_);
  --auditing_;
}

int RpcRuntime::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_ + auditing_;
}

bool RpcRuntime::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &RpcRuntime::Idle), timeout);
}

void RpcRuntime::AuditRefusal(const CallContext& call, v1::AuditRefusal kind,
                              absl::string_view outcome, storage::Change& audits,
                              bool national_security) const {
  if (options_.audit_store == nullptr) return;
  audits.AddAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {}, outcome, kind, national_security));
}

void RpcRuntime::CommitAudits(const storage::Change& audits, absl::string_view method) const {
  if (audits.empty() || options_.audit_store == nullptr) return;
  if (absl::Status s = options_.audit_store->Commit(audits).status(); !s.ok()) {
    LogUnauditedAdmission(method, s);
  }
}

void RpcRuntime::LogUnauditedAdmission(absl::string_view method, const absl::Status& status) {
  VIGIL_LOG(ERROR) << method << ": could not audit a refusal or a refused identity claim: "
                   << status.message();
}

void RpcRuntime::AuditClaimedIdentity(const grpc::CallbackServerContext& context,
                                      const CallContext& call, storage::Change& audits) const {
  const Principal& p = call.principal;
  const std::pair<absl::string_view, std::string> claims[] = {
      {"x-vigil-actor", p.actor},
      {"x-vigil-role", std::string(RoleName(p.role))},
      {"x-vigil-force", p.force},
      {"x-vigil-team", p.team},
      {"x-vigil-rank", std::string(RankName(p.rank))},
  };
  for (const auto& [header, credential] : claims) {
    std::optional<absl::string_view> claimed = MetadataValue(context, header);
    if (!claimed.has_value() || *claimed == credential) continue;
    Metrics::Default()
        .Get("auth_claimed_identity_ignored", "Identity headers that disagreed with a credential")
        .Add(1);
    const std::string shown(claimed->substr(0, 64));
    // Claiming another force is a cross-force probe: the national security log records it too.
    AuditRefusal(call, v1::AUDIT_REFUSAL_CLAIM_REFUSED,
                 absl::StrCat("refused claim: ", header, " '", IsPrintable(shown) ? shown : "?",
                              "' disagrees with the credential ('", credential,
                              "'); the header was ignored"),
                 audits, /*national_security=*/header == "x-vigil-force");
  }
}

void RpcRuntime::AuditUnauthenticated(const grpc::CallbackServerContext& context,
                                      const RpcSpec& spec, const absl::Status& refusal,
                                      storage::Change& audits) const {
  if (options_.audit_store == nullptr) return;
  if (MetadataValue(context, kInternalTokenMetadata).has_value()) return;
  const std::string subject = authenticator_.ClaimedSubject(context);
  if (subject.empty()) return;  // nobody to name: counted in metrics only
  const absl::Time now = clock_.Now();
  int64_t attempts = 0;
  absl::Time since;
  {
    absl::MutexLock lock(&bad_mu_);
    if (bad_credentials_.size() >= kMaxBadCredentialSubjects &&
        !bad_credentials_.contains(subject)) {
      bad_credentials_.clear();
    }
    // Both entries exist before either is referred to: an insertion may move the others.
    bad_credentials_.try_emplace(subject);
    bad_credentials_.try_emplace("");
    BadCredentials& bad = bad_credentials_.find(subject)->second;
    BadCredentials& window = bad_credentials_.find("")->second;
    ++bad.attempts;
    if (now - bad.recorded < absl::Minutes(1)) return;
    // Across subjects, at most kMaxBadCredentialRecordsPerSecond records: a caller cycling
    // through made-up subjects must not turn refusals into a stream of synced writes. The entry
    // under the empty subject (which no credential can name) counts this second's records.
    if (now - window.recorded >= absl::Seconds(1)) {
      window.recorded = now;
      window.attempts = 0;
    }
    if (++window.attempts > kMaxBadCredentialRecordsPerSecond) return;
    attempts = bad.attempts;
    since = bad.recorded;
    bad.attempts = 0;
    bad.recorded = now;
  }
  // The force and role the credential claims are unverified: the record names no force, so it
  // is in the national security log only, under the subject the credential claimed.
  v1::AuditRecord record;
  *record.mutable_time() = ToProtoTime(now);
  record.set_actor(subject);
  record.set_action(v1::AUDIT_ACTION_CONSULTATION);
  record.set_rpc(std::string(spec.method));
  record.set_refusal(v1::AUDIT_REFUSAL_UNAUTHENTICATED);
  record.set_national_security(true);
  if (std::optional<absl::string_view> purpose = MetadataValue(context, "x-vigil-purpose");
      purpose.has_value() && purpose->size() <= kMaxPurposeBytes && IsPrintable(*purpose)) {
    record.set_purpose(std::string(*purpose));
  }
  record.set_outcome(absl::StrCat(
      "refused: unauthenticated (", refusal.message(), "); ", attempts,
      attempts == 1 ? " attempt" : " attempts", " with a credential naming this subject",
      since == absl::InfinitePast() ? std::string()
                                    : absl::StrCat(" since ", FormatUtcTime(since))));
  storage::AuditEntry entry;
  entry.actor = subject;
  entry.body = record.SerializeAsString();
  entry.national_security = true;
  audits.AddAudit(std::move(entry));
}

absl::StatusOr<Principal> RpcRuntime::Identify(const grpc::CallbackServerContext& context) const {
  // A relayed call: the identity headers name whom the service identity acts for.
  auto delegated = [&](absl::string_view via) -> absl::StatusOr<Principal> {
    VIGIL_ASSIGN_OR_RETURN(Principal principal,
                           ParseDevIdentity(MetadataValue(context, "x-vigil-actor"),
                                            MetadataValue(context, "x-vigil-role"),
                                            MetadataValue(context, "x-vigil-force"),
                                            MetadataValue(context, "x-vigil-team"),
                                            MetadataValue(context, "x-vigil-rank")));
    principal.via = std::string(via);
    return principal;
  };
  if (std::optional<absl::string_view> token = MetadataValue(context, kInternalTokenMetadata)) {
    if (!IsInternalToken(*token)) {
      return absl::UnauthenticatedError(
          "x-vigil-internal: not this process's internal token (it is never valid outside it)");
    }
    return delegated("vigild");
  }
  VIGIL_ASSIGN_OR_RETURN(Principal principal, authenticator_.Authenticate(context));
  if (principal.role == Role::kService && !authenticator_.trusts_client_claims() &&
      MetadataValue(context, "x-vigil-actor").has_value()) {
    return delegated(principal.actor);
  }
  return principal;
}

absl::StatusOr<CallContext> RpcRuntime::Admit(grpc::CallbackServerContext& context,
                                              const RpcSpec& spec, storage::Change& audits) const {
  if (!admitting_) {
    return absl::UnavailableError("vigild is shutting down; retry shortly or on another instance");
  }
  absl::StatusOr<Principal> principal = Identify(context);
  if (!principal.ok()) {
    Metrics::Default()
        .Get("auth_unauthenticated", "Calls refused because the caller was not authenticated")
        .Add(1);
    VIGIL_LOG(WARNING) << spec.method << ": unauthenticated call from " << context.peer() << ": "
                       << principal.status().message();
    AuditUnauthenticated(context, spec, principal.status(), audits);
    return principal.status();
  }
  CallContext call;
  call.principal = *std::move(principal);
  call.method = std::string(spec.method);
  call.now = clock_.Now();
  call.read_limiter = options_.read_limiter;
  VIGIL_RETURN_IF_ERROR(CheckRole(call, spec, audits));
  if (std::optional<absl::string_view> id = MetadataValue(context, "x-vigil-request-id")) {
    if (id->size() > kMaxRequestIdBytes || !IsPrintable(*id)) {
      return FieldError("x-vigil-request-id", absl::StrCat("must be at most ", kMaxRequestIdBytes,
                                                           " printable characters"));
    }
    call.request_id = std::string(*id);
  }
  std::optional<absl::string_view> purpose = MetadataValue(context, "x-vigil-purpose");
  if (purpose.has_value()) {
    VIGIL_RETURN_IF_ERROR(CheckPurposeText(*purpose));
    call.purpose = std::string(*purpose);
  }
  if (std::optional<absl::string_view> reason = MetadataValue(context, "x-vigil-cross-team")) {
    if (reason->empty() || reason->size() > kMaxPurposeBytes || !IsPrintable(*reason)) {
      return FieldError("x-vigil-cross-team", absl::StrCat("must be 1-", kMaxPurposeBytes,
                                                           " printable characters: the reason"));
    }
    call.cross_team_reason = std::string(*reason);
  }
  if (!authenticator_.trusts_client_claims() && call.principal.via.empty()) {
    AuditClaimedIdentity(context, call, audits);
  }
  VIGIL_RETURN_IF_ERROR(CheckPersonalData(call, spec, &context, audits));
  return call;
}

absl::Status RpcRuntime::CheckRole(const CallContext& call, const RpcSpec& spec,
                                   storage::Change& audits) const {
  if (spec.roles.contains(call.principal.role)) return absl::OkStatus();
  VIGIL_LOG(WARNING) << spec.method << ": denied " << call.principal.actor << " ("
                     << RoleName(call.principal.role) << ", " << call.principal.force << ")";
  absl::Status denied =
      absl::PermissionDeniedError(absl::StrCat(spec.method, " is open to ", spec.roles.ToString(),
                                               ", not to ", RoleName(call.principal.role)));
  AuditRefusal(call, v1::AUDIT_REFUSAL_ROLE, absl::StrCat("refused: ", denied.message()), audits);
  return denied;
}

absl::Status RpcRuntime::CheckPersonalData(const CallContext& call, const RpcSpec& spec,
                                           grpc::CallbackServerContext* context,
                                           storage::Change& audits) const {
  if (spec.personal_data && call.purpose.empty()) {
    absl::Status missing =
        FieldError("x-vigil-purpose",
                   "this call touches personal data: say why (e.g. 'MAPPA meeting 2026-11-23')");
    AuditRefusal(call, v1::AUDIT_REFUSAL_PURPOSE_MISSING,
                 absl::StrCat("refused: ", missing.message()), audits);
    return missing;
  }
  if (spec.personal_data && options_.read_limiter != nullptr) {
    const ReadLimiter::Decision decision =
        options_.read_limiter->Admit(PrincipalKey(call.principal), call.now);
    if (!decision.admitted) {
      const int64_t wait_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(decision.retry_after));
      Metrics::Default()
          .Get("reads_rate_limited", "Calls refused by the per-principal read limit")
          .Add(1);
      const ReadLimits& limits = options_.read_limiter->limits();
      if (decision.episode_start) {
        VIGIL_LOG(WARNING) << spec.method << ": read limit reached by " << call.principal.actor
                           << " (" << call.principal.force << ")";
        AuditRefusal(
            call, v1::AUDIT_REFUSAL_RATE_LIMITED,
            absl::StrCat("refused: read limit of ", limits.records_per_second, " records/s (burst ",
                         limits.burst, ") reached: possible bulk extraction"),
            audits);
      }
      if (context != nullptr) {
        context->AddTrailingMetadata("grpc-retry-pushback-ms", absl::StrCat(wait_ms));
      }
      return absl::ResourceExhaustedError(absl::StrCat(
          "reading personal data faster than ", limits.records_per_second, " records/s (burst ",
          limits.burst, "): retry in ", absl::FormatDuration(absl::Milliseconds(wait_ms)),
          "; the attempt is recorded in the audit log"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CallContext> RpcRuntime::AdmitInProcess(const CallContext& caller,
                                                       const RpcSpec& spec,
                                                       absl::string_view purpose) const {
  if (!admitting_) {
    return absl::UnavailableError("vigild is shutting down; retry shortly or on another instance");
  }
  // What the internal hop's identity headers would carry (IdentifyInternalCall), checked as
  // Identify checks them: a principal made in this process is held to the same rules.
  const Principal& on_behalf_of = caller.principal;
  VIGIL_ASSIGN_OR_RETURN(Principal principal,
                         ParseDevIdentity(absl::string_view(on_behalf_of.actor).substr(0, 128),
                                          RoleName(on_behalf_of.role), on_behalf_of.force,
                                          on_behalf_of.team.empty()
                                              ? std::nullopt
                                              : std::optional<absl::string_view>(on_behalf_of.team),
                                          RankName(on_behalf_of.rank)));
  principal.via = "vigild";
  purpose = purpose.substr(0, kMaxPurposeBytes);
  VIGIL_RETURN_IF_ERROR(CheckPurposeText(purpose));
  CallContext call;
  call.principal = std::move(principal);
  call.purpose = std::string(purpose);
  call.method = std::string(spec.method);
  call.now = clock_.Now();
  call.read_limiter = options_.read_limiter;
  storage::Change audits;
  absl::Status admitted = CheckRole(call, spec, audits);
  if (admitted.ok()) admitted = CheckPersonalData(call, spec, nullptr, audits);
  CommitAudits(audits, spec.method);
  VIGIL_RETURN_IF_ERROR(admitted);
  return call;
}

}  // namespace vigil
