// The shared shape of every RPC handler: authenticate, authorise against the RPC's declared
// roles, check the purpose for personal data, then run the body on the worker pool and finish
// the reactor exactly once with the mapped status. A handler reads:
//
//   grpc::ServerUnaryReactor* FooService::GetThing(grpc::CallbackServerContext* context,
//                                                  const GetThingRequest* request,
//                                                  Thing* response) {
//     return runtime_.Unary(context, kGetThing, [=](const CallContext& call) -> absl::Status {
//       VIGIL_ASSIGN_OR_RETURN(Thing thing, things_.Get(call, request->id()));
//       *response = std::move(thing);
//       return absl::OkStatus();
//     });
//   }
#ifndef VIGIL_SERVICES_COMMON_RPC_H_
#define VIGIL_SERVICES_COMMON_RPC_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/auth.h"
#include "services/common/errors.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/read_limiter.h"
#include "storage/audit_chain.h"
#include "storage/store.h"
#include "vigil/v1/audit.pb.h"

namespace vigil {

// How one RPC may be called. Deny by default: an empty role set admits nobody.
struct RpcSpec {
  // The full method name, "vigil.v1.AuditService/ListAuditRecords".
  absl::string_view method;
  RoleSet roles;
  // The RPC returns or changes personal data: the caller must give x-vigil-purpose, and the
  // body must write an audit record.
  bool personal_data = false;
};

// Everything the domain may know about the call: who, why, when. Built only by RpcRuntime
// (and tests), from the credential, never from the request body.
struct CallContext {
  Principal principal;
  // x-vigil-purpose: the justification recorded in audit.
  std::string purpose;
  // x-vigil-request-id, when the client sent one.
  std::string request_id;
  // x-vigil-cross-team: an officer's reason for reading outside their team's caseload,
  // recorded with every audit record of the call.
  std::string cross_team_reason;
  std::string method;
  absl::Time now;
  // Charged with the records each consultation discloses; null: unlimited.
  ReadLimiter* read_limiter = nullptr;

  // An audit entry for this call, `action` on `subject_ids`, with the record body filled from
  // the call. Add it to the storage change that does (or reads) what it describes.
  // `outcome` is empty when the access happened, otherwise why it was refused, and `refusal`
  // its kind. With `national_security` the record is also in the national security log (a
  // cross-force probe). A consultation or disclosure that happened is charged to the caller's
  // read limit.
  storage::AuditEntry Audit(v1::AuditAction action, std::vector<std::string> subject_ids,
                            absl::string_view outcome = {},
                            v1::AuditRefusal refusal = v1::AUDIT_REFUSAL_UNSPECIFIED,
                            bool national_security = false) const;

  // Need-to-know: whether the caller may see a record in `team`'s caseload owned by `owner`.
  // Every role but officer may (within its force: records of other forces are never loaded);
  // an officer sees their team's caseload (or, without a team, their own), or any record when
  // the call carries a cross-team reason, which its audit records then show.
  bool MaySee(absl::string_view team, absl::string_view owner) const;
  // PermissionDenied naming what to do, when !MaySee. `what` names the record ("offender R1").
  absl::Status CheckMaySee(absl::string_view what, absl::string_view team,
                           absl::string_view owner) const;
  // For listings: an officer without a cross-team reason lists only their caseload. Narrows
  // empty filters to it (their team, else themselves) and refuses (PermissionDenied) a filter
  // naming another team or another officer; other callers' filters are left as they are.
  absl::Status NarrowToCaseload(std::string& team, std::string& owner) const;
};

// What RpcRuntime needs besides its authenticator, pool and clock. Every member may be null.
struct RpcRuntimeOptions {
  // Limits reads of personal data per principal (docs/security.md).
  ReadLimiter* read_limiter = nullptr;
  // Where refusals that no body sees are audited: a credential that did not verify (national
  // security log), a role refused, a purpose missing, a read limit reached, an identity header
  // that disagrees with the credential.
  storage::Store* audit_store = nullptr;
};

// Limits on metadata a client controls.
inline constexpr size_t kMaxPurposeBytes = 500;
inline constexpr size_t kMaxRequestIdBytes = 128;

class RpcRuntime {
 public:
  // None owned; all must outlive the runtime.
  RpcRuntime(const Authenticator& authenticator, Executor& executor, const Clock& clock,
             RpcRuntimeOptions options = {})
      : authenticator_(authenticator), executor_(executor), clock_(clock), options_(options) {}

  // Admits a call this process makes to its own `spec` without gRPC (the backlog asking the
  // owning contexts it is co-hosted with), on behalf of `caller`: as Admit admits the relayed
  // call the internal hop would carry (internal_call.h): the caller's principal, checked as the
  // identity headers are, via "vigild"; `purpose` (at most kMaxPurposeBytes of it); no request
  // id or cross-team reason; then the same role, purpose and read-limit checks, each refusal
  // audited. The owner's worker pool, its queue limit and its RPC metrics are not involved:
  // the call runs on the caller's thread, under the caller's deadline.
  absl::StatusOr<CallContext> AdmitInProcess(const CallContext& caller, const RpcSpec& spec,
                                             absl::string_view purpose) const;

  // How an asynchronous body finishes its call: exactly once, from any thread.
  using Done = absl::AnyInvocable<void(absl::Status status) &&>;

  // Runs `body(const CallContext&) -> absl::Status` for an admitted call on the worker pool
  // and finishes the RPC with its status. A call whose deadline passed or that was cancelled
  // while queued is finished without running the body. RESOURCE_EXHAUSTED when the worker
  // queue is full. The request and response stay valid until the body returns.
  template <typename Body>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const RpcSpec& spec,
                                  Body body) {
    return UnaryAsync(context, spec,
                      [body = std::move(body)](const std::shared_ptr<const CallContext>& call,
                                               Done done) mutable {
                        std::move(done)(body(static_cast<const CallContext&>(*call)));
                      });
  }

  // Where an asynchronous body starts.
  enum class StartOn {
    // The worker pool: the body may wait (a call to another context, a synchronous commit).
    kWorker,
    // gRPC's thread that received the call, at once: no hop to a worker and back. Only for a
    // body that waits for nothing but reads of the store until it hands its change to
    // Store::CommitAsync, including the audit record of a refusal or of a retried request id
    // answered again (RecordStore::MutateAsync, CreateAsync), as UnaryAsync commits Admit's.
    // Never for a body that calls another context: its answer may need this very thread.
    kReceivingThread,
  };

  // As Unary, for a body that finishes later without holding a thread: `body(call, done)`
  // runs where `start_on` says, may hand the work on (Store::CommitAsync), and calls `done`
  // exactly once, from whichever thread ends it. On the receiving thread, RESOURCE_EXHAUSTED
  // once the context has as many calls in flight as its worker pool holds. The request and
  // response, and `*call` (while the body keeps the pointer), stay valid until `done` is called;
  // the call counts as in flight (WaitIdle) until then.
  //
  // The audit records of Admit's refusals (and of identity headers that disagree with the
  // credential) are committed with Store::CommitAsync, not waited for on this, gRPC's, thread:
  // a refused call is answered from that commit, and an admitted call whose claims were refused
  // starts on a worker once they are committed. At most as many calls wait this way as the
  // context's pool holds (apart from the calls it holds); beyond that this thread commits them
  // itself, waiting, as a bound on what a flood of refused calls can queue.
  template <typename Body>
  grpc::ServerUnaryReactor* UnaryAsync(grpc::CallbackServerContext* context, const RpcSpec& spec,
                                       Body body, StartOn start_on = StartOn::kWorker) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const absl::string_view method = spec.method;
    const absl::Time start = absl::Now();
    storage::Change audits;
    absl::StatusOr<CallContext> admitted = Admit(*context, spec, audits);
    if (!audits.empty() && options_.audit_store != nullptr &&
        AuditingStartedWithin(executor_.capacity())) {
      options_.audit_store->CommitAsync(
          std::move(audits),
          [this, context, reactor, method, start, admitted = std::move(admitted),
           body = std::move(body)](const absl::StatusOr<storage::CommitResult>& audited) mutable {
            if (!audited.ok()) LogUnauditedAdmission(method, audited.status());
            if (!admitted.ok()) {
              Finish(reactor, method, start, ToGrpcStatus(admitted.status()));
            } else {
              // Not on the thread that committed (the store's, or a writer leading its group):
              // a worker.
              Start(context, reactor, method, start, *std::move(admitted), std::move(body),
                    StartOn::kWorker);
            }
            AuditingFinished();
          });
      return reactor;
    }
    CommitAudits(audits, method);
    if (!admitted.ok()) {
      Finish(reactor, method, start, ToGrpcStatus(admitted.status()));
      return reactor;
    }
    Start(context, reactor, method, start, *std::move(admitted), std::move(body), start_on);
    return reactor;
  }

  // Admit for a streaming call, whose handler returns its reactor: the admitted call, or the
  // reactor that refuses it. The refusal is answered once its audit record is committed, queued
  // as UnaryAsync queues it (past the same bound, committed here, waiting); an admitted call's
  // records (identity headers that disagreed with the credential) are committed before this
  // returns.
  template <typename Message>
  std::variant<CallContext, grpc::ServerWriteReactor<Message>*> AdmitStream(
      grpc::CallbackServerContext& context, const RpcSpec& spec) {
    storage::Change audits;
    absl::StatusOr<CallContext> admitted = Admit(context, spec, audits);
    if (!admitted.ok() && !audits.empty() && options_.audit_store != nullptr &&
        AuditingStartedWithin(executor_.capacity())) {
      auto* refused = new RefusedStream<Message>();
      options_.audit_store->CommitAsync(
          std::move(audits),
          [this, refused, method = spec.method, status = ToGrpcStatus(admitted.status())](
              const absl::StatusOr<storage::CommitResult>& audited) mutable {
            if (!audited.ok()) LogUnauditedAdmission(method, audited.status());
            refused->Finish(std::move(status));
            AuditingFinished();
          });
      return refused;
    }
    CommitAudits(audits, spec.method);
    if (admitted.ok()) return *std::move(admitted);
    return RefuseStream<Message>(admitted.status());
  }

  // Waits until no admitted call is running or queued, or `timeout` passes. Returns true when
  // idle. Used to drain before shutdown: gRPC's own Shutdown(deadline) also waits for idle
  // client connections, so vigild drains calls itself and then shuts down at once.
  bool WaitIdle(absl::Duration timeout);
  int in_flight() const;
  // Refuses every later call with UNAVAILABLE, so that a drain ends (vigild on SIGTERM).
  void StopAdmitting() { admitting_ = false; }

  // Unary for a body returning absl::StatusOr<Response>: the value becomes the response.
  template <typename Response, typename Body>
  grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context, const RpcSpec& spec,
                                  Response* response, Body body) {
    return Unary(context, spec,
                 [response, body = std::move(body)](const CallContext& call) -> absl::Status {
                   auto result = body(call);
                   if (!result.ok()) return result.status();
                   *response = *std::move(result);
                   return absl::OkStatus();
                 });
  }

  // UnaryAsync for a body that answers `done(absl::StatusOr<Response>)`: the value becomes the
  // response.
  template <typename Response, typename Body>
  grpc::ServerUnaryReactor* ReplyAsync(grpc::CallbackServerContext* context, const RpcSpec& spec,
                                       Response* response, Body body,
                                       StartOn start_on = StartOn::kWorker) {
    return UnaryAsync(
        context, spec,
        [response, body = std::move(body)](std::shared_ptr<const CallContext> call,
                                           Done done) mutable {
          body(std::move(call),
               [response, done = std::move(done)](absl::StatusOr<Response> result) mutable {
                 if (!result.ok()) return std::move(done)(result.status());
                 *response = *std::move(result);
                 std::move(done)(absl::OkStatus());
               });
        },
        start_on);
  }

  const Clock& clock() const { return clock_; }
  // The worker pool, for streaming handlers that fetch on it.
  Executor& executor() const { return executor_; }

 private:
  void CallStarted();
  // CallStarted unless `limit` calls are in flight already (then false).
  bool CallStartedWithin(size_t limit);
  void CallFinished();
  // RESOURCE_EXHAUSTED: the context holds as many calls as its worker pool can.
  static grpc::Status AtCapacity() {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the server is at capacity; retry with backoff");
  }
  // Finishes a unary call, counting it by method and code (rpc_requests_total) and timing it
  // from arrival (rpc_duration_seconds).
  static void Finish(grpc::ServerUnaryReactor* reactor, absl::string_view method, absl::Time start,
                     const grpc::Status& status);

  // UnaryAsync's start of the body of an admitted call, where `start_on` says.
  template <typename Body>
  void Start(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
             absl::string_view method, absl::Time start, CallContext admitted, Body body,
             StartOn start_on) {
    // Ends a call that started: the body's `done`.
    auto finish = [this, reactor, method, start](const absl::Status& status) {
      Finish(reactor, method, start, ToGrpcStatus(status));
      CallFinished();
    };
    if (start_on == StartOn::kReceivingThread) {
      // No worker holds it, so nothing else bounds how many wait for their commits: as many
      // as the context's pool would hold (its workers and its queue).
      if (!CallStartedWithin(executor_.capacity())) {
        Finish(reactor, method, start, AtCapacity());
        return;
      }
      body(std::make_shared<const CallContext>(std::move(admitted)), std::move(finish));
      return;
    }
    CallStarted();
    const bool queued =
        executor_.TrySchedule([this, context, reactor, method, start, finish,
                               call = std::make_shared<const CallContext>(std::move(admitted)),
                               body = std::move(body)]() mutable {
          if (context->IsCancelled()) {
            Finish(reactor, method, start, grpc::Status::CANCELLED);
            CallFinished();
          } else if (context->deadline() <= std::chrono::system_clock::now()) {
            Finish(reactor, method, start,
                   grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                "the deadline passed before the server could start"));
            CallFinished();
          } else {
            body(std::move(call), std::move(finish));
          }
        });
    if (!queued) {
      Finish(reactor, method, start, AtCapacity());
      CallFinished();
    }
  }

  // The caller: this process's own contexts (internal token), or whoever the authenticator
  // names; a service identity's call acts for the principal its identity headers name.
  absl::StatusOr<Principal> Identify(const grpc::CallbackServerContext& context) const;
  // Authenticates and authorises the call for `spec` (UnaryAsync, AdmitStream).
  // Unauthenticated, PermissionDenied, InvalidArgument (x-vigil-purpose missing for personal
  // data; metadata too long), or ResourceExhausted (the caller's read limit; a
  // grpc-retry-pushback-ms trailer says when to retry). Each refusal's audit record is added to
  // `audits` (when audit_store is set), for the caller to commit before it answers: a role
  // refused, a purpose missing, a read limit reached (once per episode), and a credential that
  // did not verify when it names a subject (in the national security log, at most once a minute
  // per subject with the count of attempts); so is each identity header that disagrees with
  // the credential of an admitted call, to commit before the call goes on.
  absl::StatusOr<CallContext> Admit(grpc::CallbackServerContext& context, const RpcSpec& spec,
                                    storage::Change& audits) const;
  // Commits what Admit's checks added to `audits`, waiting; failures are logged.
  void CommitAudits(const storage::Change& audits, absl::string_view method) const;
  static void LogUnauditedAdmission(absl::string_view method, const absl::Status& status);
  // Admit's checks of an identified call: the role (before anything else is read) and, for
  // personal data, the purpose and the read limit. `context` (null in process) takes the
  // read limit's retry trailer. Each refusal's audit record is added to `audits`.
  absl::Status CheckRole(const CallContext& call, const RpcSpec& spec,
                         storage::Change& audits) const;
  absl::Status CheckPersonalData(const CallContext& call, const RpcSpec& spec,
                                 grpc::CallbackServerContext* context,
                                 storage::Change& audits) const;
  // Adds to `audits` the record of a refusal no body sees (when there is an audit store).
  void AuditRefusal(const CallContext& call, v1::AuditRefusal kind, absl::string_view outcome,
                    storage::Change& audits, bool national_security = false) const;
  // Records a refused credential that names a subject in the national security log.
  void AuditUnauthenticated(const grpc::CallbackServerContext& context, const RpcSpec& spec,
                            const absl::Status& refusal, storage::Change& audits) const;
  // With a real authenticator: audits identity headers that disagree with the credential.
  void AuditClaimedIdentity(const grpc::CallbackServerContext& context, const CallContext& call,
                            storage::Change& audits) const;

  const Authenticator& authenticator_;
  Executor& executor_;
  const Clock& clock_;
  const RpcRuntimeOptions options_;
  // Calls whose admission records UnaryAsync is committing (not in in_flight_: they hold no
  // share of the pool), counted for WaitIdle.
  bool AuditingStartedWithin(size_t limit);
  void AuditingFinished();
  // WaitIdle awaits Idle(): the last CallFinished or AuditingFinished wakes it when it releases
  // mu_.
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0 && auditing_ == 0; }

  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int auditing_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> admitting_{true};

  // Refused credentials per claimed subject: attempts since the last record, and its time.
  struct BadCredentials {
    int64_t attempts = 0;
    absl::Time recorded = absl::InfinitePast();
  };
  static constexpr size_t kMaxBadCredentialSubjects = 10000;
  mutable absl::Mutex bad_mu_;
  mutable absl::flat_hash_map<std::string, BadCredentials> bad_credentials_
      ABSL_GUARDED_BY(bad_mu_);
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_RPC_H_
