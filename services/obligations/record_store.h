// How an owning context (rso, ocait) keeps its records: one storage commit per change holding
// the record, its index entries, unique secondary keys, its open clocks (ObligationLedger:
// deadline entries, due indexes, counters), one feed event with the clock transitions, the
// audit record, and the response under the caller's request id (services/common/idempotency.h)
// so that the caller's retry returns the first result, audited as a consultation, and writes
// nothing. Reads that return a record are audited; a record unknown in the caller's
// force is NotFound and the refusal is audited. Thread-safe.
//
// Record is a generated message with string id, string force, int64 revision, Timestamp
// create_time and update_time, and repeated Obligation obligations.
#ifndef VIGIL_SERVICES_OBLIGATIONS_RECORD_STORE_H_
#define VIGIL_SERVICES_OBLIGATIONS_RECORD_STORE_H_

#include <algorithm>
#include <bitset>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/idempotency.h"
#include "services/common/rpc.h"
#include "services/obligations/ledger.h"
#include "storage/store.h"
#include "vigil/v1/retention.pb.h"

namespace vigil {

// `raw`, a serialized message, without its top-level field `number` (every other field's bytes
// as they are); nullopt when `raw` is not well-formed wire format.
std::optional<std::string> WithoutField(absl::string_view raw, int number);
// `raw` with only its top-level fields numbered in `numbers`; nullopt as WithoutField.
std::optional<std::string> OnlyFields(absl::string_view raw, std::span<const int> numbers);

// Which of a context's clocks re-derive (each context numbers its own).
using ClockBits = std::bitset<16>;

// What an edit of a record asks of the commit.
struct RecordEdit {
  // Re-derive every clock from the current policy, whatever changed (an administrator's
  // RecomputeObligations). Otherwise the owner decides which clocks re-time from what changed.
  bool recompute = false;
  // The serialized response, kept under the request id; empty: the record itself.
  std::string response;
  // Audit: what was done, and to which subjects besides the record.
  v1::AuditAction action = v1::AUDIT_ACTION_ALTERATION;
  std::vector<std::string> extra_subjects;
  // Write nothing when the record's clocks come out unchanged (recomputation).
  bool skip_if_clocks_unchanged = false;
  // A retention review (RecordKeeper::Review): not activity about the subject, so the record's
  // last_activity_time stays.
  bool retention_review = false;
  // The reason of a retention decision, recorded in the audit record.
  std::string reason;
  // Findings that must alert at once, published on the feed with the change. Give each an id,
  // kind and summary, and in `obligation` the kind of clock it concerns with the record's
  // subject, risk, owner, team and force: the commit replaces it with that clock as it stands
  // after the change, when the record has it open. The time defaults to the call's.
  std::vector<v1::ObligationNotice> notices;
};

// A secondary key that at most one record may hold (a ViSOR reference, a source reference).
struct UniqueKey {
  std::string key;    // in the index family; its value is the holder's id
  std::string field;  // named in the AlreadyExists error, e.g. "offender.visor_ref"
  std::string value;
};

// Whose caseload a record is in (need-to-know, CallContext::MaySee).
struct Caseload {
  std::string team;
  std::string owner;
};

// What an owning context tells the kernel about its records: implemented once by rso
// (offenders) and once by ocait (referrals). RecordStore keeps the records through it; the
// context's clocks come from Derive, which alone decides which of them re-time.
template <typename Record>
class Owner {
 public:
  virtual ~Owner() = default;

  // "offender", used in messages ("offender R1 is not in the register of wessex").
  virtual absl::string_view noun() const = 0;
  // "register", "queue".
  virtual absl::string_view collection() const = 0;
  // The context ("rso"): its event feed, and the prefix of its ledger keys.
  virtual absl::string_view context() const = 0;
  // Its partition of the deadline index.
  virtual storage::DeadlineSpace space() const = 0;

  virtual std::string Key(absl::string_view force, absl::string_view id) const = 0;
  // Where stores written before request ids were bound to their caller kept the response of
  // `request_id` (read only, to refuse such an id: idempotency.h).
  virtual std::string LegacyRequestKey(absl::string_view force,
                                       absl::string_view request_id) const = 0;
  virtual std::vector<std::string> IndexKeys(const Record& record) const = 0;
  virtual std::vector<UniqueKey> UniqueKeys(const Record& record) const = 0;
  virtual Caseload CaseloadOf(const Record& record) const = 0;
  // The name a person reads for the record's subject in a listing (the offender's display
  // name, the referral subject's). A listing passes the record without its clocks (its
  // `obligations` are not read for a name: they are most of a record's bytes).
  virtual std::string DisplayNameOf(const Record& record) const = 0;

  // Everything that follows from an edit: derived fields and the record's open obligations,
  // from its facts and the policy of its force. `before` is the record as stored (null for a
  // new one); `after.obligations()` still holds the clocks before the edit. The owner decides
  // which clocks re-time from what changed between them (every clock when edit.recompute);
  // the others keep their due time, reason and policy version.
  virtual void Derive(const CallContext& call, const Record* before, Record& after,
                      const RecordEdit& edit) const = 0;

  // Retention (MoPI): which records these are, their group under the schedule and when one is
  // next due for review (policy::RetentionReviewDue under its force's policy).
  virtual v1::RecordType record_type() const = 0;
  struct RetentionRule {
    v1::RetentionGroup group = v1::RETENTION_GROUP_UNSPECIFIED;
    absl::Time review_due;
  };
  virtual RetentionRule RetentionOf(const Record& record) const = 0;
  // Why the record may not be erased yet, in words ("offender O1 is still managed (status
  // ACTIVE_COMMUNITY)"); empty when it may. (Open obligations are checked besides.)
  virtual std::string StillManaged(const Record& record) const = 0;
  // Adds to `change` the erasure of what the context keeps about the record besides the record,
  // its index entries, unique keys, obligations' history, feed events and stored responses
  // (dependent records, counters). Returns the keys deleted; FailedPrecondition when the record
  // may not be erased yet (audited as a refused erasure).
  virtual absl::StatusOr<int64_t> AddErasure(const storage::ReadView& /*view*/,
                                             const Record& /*record*/,
                                             storage::Change& /*change*/) const {
    return 0;
  }

  // Writes of the context's own that follow every change (counters, an outbox entry).
  virtual void AlsoWrite(const Record* before, const Record& after, storage::Change& change) const {
  }

  // Why the clocks this change closes were closed, when not simply met (the record left active
  // management): carried by their CLOSED events, and the resolution of their alerts.
  virtual std::string CloseReason(const Record* /*before*/, const Record& /*after*/) const {
    return {};
  }
};

// An owning context's recomputation of every clock of a force under its current policy, for
// AdminService.RecomputeObligations. Implemented by every RecordStore.
class ClockRecomputer {
 public:
  struct Report {
    int64_t examined = 0;  // records
    int64_t changed = 0;   // records whose clocks moved
    int64_t retimed = 0;   // clocks whose due time moved, or that opened or closed
  };
  virtual ~ClockRecomputer() = default;
  // "rso", "ocait".
  virtual absl::string_view context() const = 0;
  // Re-derives every open clock of every record of the caller's force, one audited commit per
  // record that changes (none with `dry_run`). call.purpose is the recorded justification.
  virtual absl::StatusOr<Report> Recompute(const CallContext& call, bool dry_run) = 0;
};

// Names the subjects of an owning context's obligations, for listings a person reads (the
// backlog's items, a work list). Implemented by every RecordStore.
class SubjectNamer {
 public:
  virtual ~SubjectNamer() = default;
  // The display names of subjects `ids` of `force` as their records hold them in `view`, in
  // the ids' order (one batched read); nullopt for a record that is gone. Not audited: the
  // listing that shows them audits its subjects.
  virtual absl::StatusOr<std::vector<std::optional<std::string>>> DisplayNames(
      const storage::ReadView& view, absl::string_view force,
      std::span<const std::string> ids) const = 0;
};

// An owning context's records under the retention schedule (MoPI), for RetentionService.
// Implemented by every RecordStore. Each call is the caller's force only.
class RecordKeeper {
 public:
  virtual ~RecordKeeper() = default;
  // "rso", "ocait".
  virtual absl::string_view context() const = 0;
  virtual v1::RecordType record_type() const = 0;
  // Every record due for review by `as_of`, in id order. Reads every record of the force (one
  // snapshot, around the block cache). Not audited: the listing audits what it returns.
  virtual absl::StatusOr<std::vector<v1::RecordRetention>> DueForReview(const CallContext& call,
                                                                        absl::Time as_of) = 0;
  // Keeps record `id` after review: stores the review (the caller, `reason`, the next review:
  // `next_review`, or the group's interval from now) in one audited commit. InvalidArgument
  // naming next_review_time or reason; NotFound (audited).
  virtual absl::StatusOr<v1::RecordRetention> Review(const CallContext& call, absl::string_view id,
                                                     absl::string_view reason,
                                                     std::optional<absl::Time> next_review,
                                                     const IdempotentRequest& request) = 0;
  // Erases record `id` (RetentionService.EraseRecord) in one commit, then compacts the erased
  // keys away. FailedPrecondition (audited) while the record is managed; NotFound (audited).
  virtual absl::StatusOr<v1::EraseRecordResponse> Erase(const CallContext& call,
                                                        absl::string_view id,
                                                        absl::string_view reason,
                                                        const IdempotentRequest& request) = 0;
  // Completes the compaction of erasures committed before vigild stopped (a crash between an
  // erasure's commit and its compaction): compacts when any is pending. Returns how many were.
  virtual absl::StatusOr<int> ResumeErasures() = 0;
};

template <typename Record>
class RecordStore final : public ClockRecomputer, public SubjectNamer, public RecordKeeper {
 public:
  // Receives the current record (mutable) and the change being built; may add entities of its
  // own to the change. A non-OK status aborts the write.
  using EditFn =
      absl::FunctionRef<absl::Status(Record& record, storage::Change& change, RecordEdit& edit)>;

  // `owner` must outlive the store.
  RecordStore(storage::Store& store, const Owner<Record>& owner)
      : store_(store), owner_(owner), ledger_(owner.context(), owner.space()) {}

  // The response the caller's earlier call stored under the request id, or nullopt. Not
  // audited: see Replay. FailedPrecondition when the caller used the id for another request.
  absl::StatusOr<std::optional<std::string>> PriorResponse(const IdempotentRequest& request) const {
    return StoredResponse(store_.Snapshot(), owner_.context(), request,
                          request.empty()
                              ? std::string()
                              : owner_.LegacyRequestKey(request.force, request.request_id));
  }

  // The record a Create by the caller with the same request id stored, audited as a consultation
  // of it (the replay discloses it again); nullopt when the id is new for the caller.
  // FailedPrecondition when the caller used the id for another request.
  absl::StatusOr<std::optional<Record>> ReplayCreate(const CallContext& call,
                                                     const IdempotentRequest& request) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<Record> first, PriorRecord(request));
    if (first.has_value()) VIGIL_RETURN_IF_ERROR(AuditReplay(call, request, {first->id()}));
    return first;
  }
  // The record a Create by the caller with the same request id stored, not audited (see
  // ReplayCreate); nullopt when the id is new for the caller.
  absl::StatusOr<std::optional<Record>> PriorRecord(const IdempotentRequest& request) const {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior, PriorResponse(request));
    if (!prior.has_value()) return std::optional<Record>();
    VIGIL_ASSIGN_OR_RETURN(Record first, Parse(*prior, request.request_id));
    return std::optional<Record>(std::move(first));
  }

  // A record of `force`, without auditing (for code that audits its own commit).
  absl::StatusOr<std::optional<Record>> Load(const storage::ReadView& view, absl::string_view force,
                                             absl::string_view id) const {
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                           view.Get(storage::Family::kEntities, owner_.Key(force, id)));
    if (!raw.has_value()) return std::optional<Record>();
    VIGIL_ASSIGN_OR_RETURN(Record record, Parse(*raw, id));
    return std::optional<Record>(std::move(record));
  }

  // The records of `ids` in `view`, read in one batched lookup (nullopt where there is none),
  // each parsed from its top-level fields numbered in `fields` alone: for reads that need a
  // field or two of many records. Not audited. DataLoss when a record is unreadable.
  absl::StatusOr<std::vector<std::optional<Record>>> LoadFields(const storage::ReadView& view,
                                                                absl::string_view force,
                                                                std::span<const std::string> ids,
                                                                std::span<const int> fields) const {
    return LoadFiltered(view, force, ids,
                        [fields](absl::string_view raw) { return OnlyFields(raw, fields); });
  }

  // Calls `fn(record)` for each record of `force` in `view`, in id order, while it returns
  // true: one pass over the records rather than a point read each, around the block cache (for
  // work over a whole force). Not audited. DataLoss when a record is unreadable.
  absl::Status ForEach(const storage::ReadView& view, absl::string_view force,
                       absl::FunctionRef<bool(const Record&)> fn) const {
    const std::string prefix = owner_.Key(force, "");
    absl::Status parsed = absl::OkStatus();
    VIGIL_RETURN_IF_ERROR(view.WithoutCaching().ScanPrefix(
        storage::Family::kEntities, prefix, {}, [&](absl::string_view key, absl::string_view raw) {
          absl::StatusOr<Record> record = Parse(raw, key.substr(prefix.size()));
          if (!record.ok()) {
            parsed = record.status();
            return false;
          }
          return fn(*record);
        }));
    return parsed;
  }

  // The audit record of a consultation of `subjects` (a refused one, outside the caller's scope,
  // when `outcome` is set; with `national_security` the national security log has it too).
  static storage::AuditEntry ReadAudit(const CallContext& call, std::vector<std::string> subjects,
                                       absl::string_view outcome = {},
                                       bool national_security = false) {
    return call.Audit(
        v1::AUDIT_ACTION_CONSULTATION, std::move(subjects), outcome,
        outcome.empty() ? v1::AUDIT_REFUSAL_UNSPECIFIED : v1::AUDIT_REFUSAL_OUT_OF_SCOPE,
        national_security);
  }

  // Audits a consultation of `subjects` (see ReadAudit).
  absl::Status AuditRead(const CallContext& call, std::vector<std::string> subjects,
                         absl::string_view outcome = {}, bool national_security = false) {
    storage::Change change;
    change.SetAudit(ReadAudit(call, std::move(subjects), outcome, national_security));
    return store_.Commit(change).status();
  }

  // NotFound for `id`, after auditing the refused access (NotFoundAudit).
  absl::Status NotFound(const CallContext& call, absl::string_view id) {
    storage::Change change;
    change.SetAudit(NotFoundAudit(call, id));
    VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    return NotFoundError(call, id);
  }
  // The audit record of a lookup of `id` that found nothing in the caller's force. The lookup
  // may be a probe for another force's record: the national security log records it as well,
  // without anyone checking (or revealing) whether another force holds the id.
  static storage::AuditEntry NotFoundAudit(const CallContext& call, absl::string_view id) {
    return ReadAudit(call, {std::string(id)}, "not found in force", /*national_security=*/true);
  }
  absl::Status NotFoundError(const CallContext& call, absl::string_view id) const {
    return absl::NotFoundError(absl::StrCat(owner_.noun(), " ", id, " is not in the ",
                                            owner_.collection(), " of ", call.principal.force));
  }

  // The record `id` of the caller's force as of `view`, if the caller may see it: NotFound and
  // PermissionDenied (outside an officer's caseload) are audited; the read itself is the
  // caller's to audit, with whatever else it reads from `view`.
  absl::StatusOr<Record> LoadForCaller(const CallContext& call, const storage::ReadView& view,
                                       absl::string_view id) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<Record> record, Load(view, call.principal.force, id));
    if (!record.has_value()) return NotFound(call, id);
    VIGIL_RETURN_IF_ERROR(CheckCaseload(call, *record));
    return *std::move(record);
  }

  // The record `id` of the caller's force, read for the caller: audited before it is returned.
  // PermissionDenied (audited) outside an officer's caseload.
  absl::StatusOr<Record> Read(const CallContext& call, absl::string_view id) {
    VIGIL_ASSIGN_OR_RETURN(Record record, LoadForCaller(call, store_.Snapshot(), id));
    VIGIL_RETURN_IF_ERROR(AuditRead(call, {std::string(id)}));
    return record;
  }

  // OK when the caller may see `record`; otherwise audits the refusal and returns
  // PermissionDenied saying how to ask.
  absl::Status CheckCaseload(const CallContext& call, const Record& record) {
    absl::Status refusal = CaseloadRefusal(call, record);
    if (refusal.ok()) return refusal;
    VIGIL_RETURN_IF_ERROR(AuditRead(call, {record.id()}, refusal.message()));
    return refusal;
  }
  // CheckCaseload's answer, unaudited: for a caller that commits the refusal's audit record
  // (ReadAudit with its message) itself.
  absl::Status CaseloadRefusal(const CallContext& call, const Record& record) const {
    const Caseload caseload = owner_.CaseloadOf(record);
    return call.CheckMaySee(absl::StrCat(owner_.noun(), " ", record.id()), caseload.team,
                            caseload.owner);
  }

  // Writes a new record (validated by the caller, id set) with its derived clocks; `extra` joins
  // the commit. Returns the stored record, or the first response (audited as a consultation) when
  // the caller's request id was seen. AlreadyExists naming the field for a taken id or unique
  // key; FailedPrecondition when the caller used the request id for another request.
  absl::StatusOr<Record> Create(const CallContext& call, Record record,
                                const IdempotentRequest& request,
                                const storage::Change& extra = storage::Change()) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      VIGIL_ASSIGN_OR_RETURN(Creation creation, PrepareCreate(call, record, request, extra));
      if (creation.answer.has_value()) {
        VIGIL_RETURN_IF_ERROR(store_.Commit(creation.change).status());  // the replay's audit
        return *std::move(creation.answer);
      }
      absl::StatusOr<storage::CommitResult> committed = store_.Commit(creation.change);
      if (committed.ok()) return std::move(creation.stored);
      if (!absl::IsAborted(committed.status())) return committed.status();
      VIGIL_ASSIGN_OR_RETURN(std::optional<Record> first,
                             AfterLostCreate(call, request, creation.stored));
      if (first.has_value()) return *std::move(first);
    }
    return absl::AbortedError("too many concurrent changes; try again");
  }

  // What an asynchronous write answers: exactly once, from whichever thread ends it.
  template <typename Response>
  using Answer = absl::AnyInvocable<void(absl::StatusOr<Response> result) &&>;

  // Create without waiting for the commit (Store::CommitAsync): the same checks and answers,
  // given to `done` on the thread that committed the record (it must be quick), or on this one
  // when the answer came first. An attempt that lost to a concurrent write is tried again on
  // `retries`, never on the committing thread (Unavailable when it refuses).
  void CreateAsync(std::shared_ptr<const CallContext> call, Record record,
                   IdempotentRequest request, storage::Change extra, Executor& retries,
                   Answer<Record> done) {
    auto op = std::make_shared<AsyncCreate>(AsyncCreate{std::move(call), std::move(record),
                                                        std::move(request), std::move(extra),
                                                        &retries, std::move(done),
                                                        /*attempts=*/0});
    AttemptCreate(std::move(op));
  }

  // Loads `id`, applies `edit_fn`, derives and commits, retrying when a concurrent write got
  // there first. Returns the response: the record as stored, or the Response message the edit
  // put in RecordEdit::response (an ArmsAssessment, a Visit); the caller's retry with the same
  // request id and request returns the first call's, audited as a consultation of `id`.
  // FailedPrecondition when the caller used the request id for another request; DataLoss when a
  // stored response does not parse; NotFound (audited) for an id unknown in the caller's force;
  // PermissionDenied (audited) outside an officer's caseload.
  template <typename Response = Record>
  absl::StatusOr<Response> Mutate(const CallContext& call, absl::string_view id,
                                  const IdempotentRequest& request, EditFn edit_fn) {
    VIGIL_ASSIGN_OR_RETURN(const std::string raw, MutateRaw(call, id, request, edit_fn));
    return ParseResponse<Response>(raw, id);
  }

  // An edit that MutateAsync keeps and may run again, on another thread, after it returned: it
  // must own what it reads (or point only at what outlives the answer, like the request).
  using OwnedEditFn =
      std::function<absl::Status(Record& record, storage::Change& change, RecordEdit& edit)>;

  // Mutate without waiting for the commit (Store::CommitAsync): the same checks and answers,
  // given to `done` on the thread that committed the change (it must be quick), or on this
  // one when the answer came first. An attempt that lost to a concurrent write is tried again
  // on `retries`, never on the committing thread (Unavailable when it refuses).
  template <typename Response = Record>
  void MutateAsync(std::shared_ptr<const CallContext> call, std::string id,
                   IdempotentRequest request, OwnedEditFn edit_fn, Executor& retries,
                   Answer<Response> done) {
    auto ended = [this, id, done = std::move(done)](absl::StatusOr<std::string> response) mutable {
      if (!response.ok()) return std::move(done)(response.status());
      std::move(done)(ParseResponse<Response>(*response, id));
    };
    auto op = std::make_shared<AsyncMutation>(AsyncMutation{std::move(call), std::move(id),
                                                            std::move(request), std::move(edit_fn),
                                                            &retries, std::move(ended),
                                                            /*attempts=*/0});
    AttemptMutation(std::move(op));
  }

  // The ids of every record of `force` under an index prefix (keys are prefix + id).
  absl::StatusOr<std::vector<std::string>> IdsUnder(absl::string_view prefix) const {
    std::vector<std::string> ids;
    VIGIL_RETURN_IF_ERROR(store_.Snapshot().ScanPrefix(
        storage::Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
          ids.emplace_back(key.substr(prefix.size()));
          return true;
        }));
    return ids;
  }

  absl::string_view context() const override { return owner_.context(); }

  absl::StatusOr<std::vector<std::optional<std::string>>> DisplayNames(
      const storage::ReadView& view, absl::string_view force,
      std::span<const std::string> ids) const override {
    static const int kClocks = Record::descriptor()->FindFieldByName("obligations")->number();
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<Record>> records,
                           LoadFiltered(view, force, ids, [](absl::string_view raw) {
                             return WithoutField(raw, kClocks);
                           }));
    std::vector<std::optional<std::string>> names(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (records[i].has_value()) names[i] = owner_.DisplayNameOf(*records[i]);
    }
    return names;
  }

  absl::StatusOr<Report> Recompute(const CallContext& call, bool dry_run) override {
    Report report;
    const std::string prefix = owner_.Key(call.principal.force, "");
    std::vector<std::string> ids;
    VIGIL_RETURN_IF_ERROR(store_.Snapshot().ScanPrefix(
        storage::Family::kEntities, prefix, {}, [&](absl::string_view key, absl::string_view) {
          ids.emplace_back(key.substr(prefix.size()));
          return true;
        }));
    for (const std::string& id : ids) {
      ++report.examined;
      VIGIL_ASSIGN_OR_RETURN(std::optional<Record> record,
                             Load(store_.Snapshot(), call.principal.force, id));
      if (!record.has_value()) continue;  // removed since the scan
      Record derived = *record;
      RecordEdit edit;
      edit.recompute = true;
      owner_.Derive(call, &*record, derived, edit);
      StampSince(record->obligations(), *derived.mutable_obligations(), call.now,
                 /*new_record=*/false);
      int moved = 0;
      for (const v1::Obligation& o : derived.obligations()) {
        bool same = false;
        for (const v1::Obligation& old : record->obligations()) {
          same = same || SameObligation(o, old);
        }
        if (!same) ++moved;
      }
      if (moved == 0 && derived.obligations_size() == record->obligations_size()) continue;
      ++report.changed;
      report.retimed += moved;
      if (dry_run) continue;
      VIGIL_RETURN_IF_ERROR(
          MutateRaw(call, id, IdempotentRequest(), [](Record&, storage::Change&, RecordEdit& e) {
            e.recompute = true;
            e.skip_if_clocks_unchanged = true;
            return absl::OkStatus();
          }).status());
    }
    return report;
  }

  v1::RecordType record_type() const override { return owner_.record_type(); }

  absl::StatusOr<std::vector<v1::RecordRetention>> DueForReview(const CallContext& call,
                                                                absl::Time as_of) override {
    std::vector<v1::RecordRetention> due;
    VIGIL_RETURN_IF_ERROR(
        ForEach(store_.Snapshot(), call.principal.force, [&](const Record& record) {
          v1::RecordRetention standing = Standing(record);
          if (TimeOf(standing.review_time()) <= as_of) due.push_back(std::move(standing));
          return true;
        }));
    return due;
  }

  absl::StatusOr<v1::RecordRetention> Review(const CallContext& call, absl::string_view id,
                                             absl::string_view reason,
                                             std::optional<absl::Time> next_review,
                                             const IdempotentRequest& request) override {
    VIGIL_ASSIGN_OR_RETURN(
        const Record kept,
        Mutate(call, id, request,
               [&](Record& record, storage::Change&, RecordEdit& edit) -> absl::Status {
                 VIGIL_RETURN_IF_ERROR(CheckReason(record, reason));
                 // The longest a review may set: the group's interval from now.
                 Record fresh = record;
                 fresh.mutable_retention()->clear_reviews();
                 *fresh.mutable_retention()->mutable_last_activity_time() = ToProtoTime(call.now);
                 const absl::Time latest = owner_.RetentionOf(fresh).review_due;
                 const absl::Time next = next_review.value_or(latest);
                 if (next <= call.now || next > latest) {
                   return absl::InvalidArgumentError(absl::StrCat(
                       "next_review_time: must be after now and at most ",
                       absl::FormatTime("%Y-%m-%d", latest, absl::UTCTimeZone()),
                       " (the record's group's interval from now); leave it unset for that"));
                 }
                 v1::RetentionReview& review = *record.mutable_retention()->add_reviews();
                 *review.mutable_review_time() = ToProtoTime(call.now);
                 review.set_reviewer(call.principal.actor);
                 review.set_reason(std::string(reason));
                 *review.mutable_next_review_time() = ToProtoTime(next);
                 edit.retention_review = true;
                 edit.reason = std::string(reason);
                 return absl::OkStatus();
               }));
    return Standing(kept);
  }

  absl::StatusOr<v1::EraseRecordResponse> Erase(const CallContext& call, absl::string_view id,
                                                absl::string_view reason,
                                                const IdempotentRequest& request) override {
    v1::EraseRecordResponse erased;
    VIGIL_RETURN_IF_ERROR(CommitErasure(call, id, reason, request, erased));
    const absl::Time start = absl::Now();
    const absl::StatusOr<int> compacted = CompactErased(/*always=*/true);
    erased.set_compaction_seconds(absl::ToDoubleSeconds(absl::Now() - start));
    erased.set_compacted(compacted.ok());
    if (!compacted.ok()) erased.set_compaction_error(std::string(compacted.status().message()));
    return erased;
  }

  absl::StatusOr<int> ResumeErasures() override { return CompactErased(/*always=*/false); }

  static bool SameClocks(const Record& a, const Record& b) {
    if (a.obligations_size() != b.obligations_size()) return false;
    for (int i = 0; i < a.obligations_size(); ++i) {
      if (!SameObligation(a.obligations(i), b.obligations(i))) return false;
    }
    return true;
  }

  storage::Store& store() { return store_; }
  const ObligationLedger& ledger() const { return ledger_; }

 private:
  // Mutate, returning the serialized response.
  absl::StatusOr<std::string> MutateRaw(const CallContext& call, absl::string_view id,
                                        const IdempotentRequest& request, EditFn edit_fn) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      VIGIL_ASSIGN_OR_RETURN(Mutation mutation, PrepareMutation(call, id, request, edit_fn));
      if (mutation.answer.has_value()) {
        // A replay or a refusal is audited before it is answered.
        if (!mutation.change.empty())
          VIGIL_RETURN_IF_ERROR(store_.Commit(mutation.change).status());
        return *std::move(mutation.answer);
      }
      absl::StatusOr<storage::CommitResult> committed = store_.Commit(mutation.change);
      if (committed.ok()) return std::move(mutation.response);
      if (!absl::IsAborted(committed.status())) return committed.status();
      VIGIL_RETURN_IF_ERROR(CheckUniqueKeys(store_.Snapshot(), mutation.after));
    }
    return TooManyAttempts(id);
  }

  absl::Status TooManyAttempts(absl::string_view id) const {
    return absl::AbortedError(
        absl::StrCat(owner_.noun(), " ", id, ": too many concurrent changes; try again"));
  }

  template <typename Response>
  absl::StatusOr<Response> ParseResponse(absl::string_view raw, absl::string_view id) const {
    Response response;
    if (!response.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      return absl::DataLossError(absl::StrCat("the stored response to a change of ", owner_.noun(),
                                              " ", id, " is unreadable"));
    }
    return response;
  }

  // One attempt at a change of record `id`: the change to commit and the response it answers
  // with, or the answer known without changing the record: the caller's retry of a request id
  // already answered, a refusal (NotFound, outside the caller's caseload), or an edit that leaves
  // the clocks as they were with skip_if_clocks_unchanged. `change` then holds only the audit
  // record of the replay or refusal, to commit before answering (nothing for an unchanged edit).
  // Nothing here commits: the caller commits, waiting or not (MutateRaw, AttemptMutation).
  struct Mutation {
    std::optional<absl::StatusOr<std::string>> answer;
    storage::Change change;
    std::string response;
    Record after;  // as the change stores it: its unique keys explain a lost race
  };
  absl::StatusOr<Mutation> PrepareMutation(const CallContext& call, absl::string_view id,
                                           const IdempotentRequest& request, EditFn edit_fn) {
    const std::string& force = call.principal.force;
    const std::string key = owner_.Key(force, id);
    Mutation mutation;
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior, PriorResponse(request));
    if (prior.has_value()) {
      mutation.change.SetAudit(vigil::AuditReplay(call, request, {std::string(id)}));
      mutation.answer.emplace(*std::move(prior));
      return mutation;
    }
    const storage::ReadView view = store_.Snapshot();
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                           view.Get(storage::Family::kEntities, key));
    if (!raw.has_value()) {
      mutation.change.SetAudit(NotFoundAudit(call, id));
      mutation.answer.emplace(NotFoundError(call, id));
      return mutation;
    }
    VIGIL_ASSIGN_OR_RETURN(const Record before, Parse(*raw, id));
    if (absl::Status refusal = CaseloadRefusal(call, before); !refusal.ok()) {
      mutation.change.SetAudit(ReadAudit(call, {before.id()}, refusal.message()));
      mutation.answer.emplace(std::move(refusal));
      return mutation;
    }
    Record& after = mutation.after;
    after = before;
    storage::Change& change = mutation.change;
    RecordEdit edit;
    VIGIL_RETURN_IF_ERROR(edit_fn(after, change, edit));
    after.set_id(before.id());
    after.set_force(force);
    owner_.Derive(call, &before, after, edit);
    if (!edit.recompute && !edit.retention_review) {
      *after.mutable_retention()->mutable_last_activity_time() = ToProtoTime(call.now);
    } else if (!after.retention().has_last_activity_time()) {
      // A record from before vigil kept its activity: its last change stands in, not this one.
      *after.mutable_retention()->mutable_last_activity_time() = before.update_time();
    }
    StampSince(before.obligations(), *after.mutable_obligations(), call.now,
               /*new_record=*/false);
    if (edit.skip_if_clocks_unchanged && SameClocks(before, after)) {
      change = storage::Change();  // nothing of the edit is written
      mutation.answer.emplace(after.SerializeAsString());
      return mutation;
    }
    after.set_revision(before.revision() + 1);
    *after.mutable_update_time() = ToProtoTime(call.now);

    change.ExpectValue(storage::Family::kEntities, key, *raw);
    const std::vector<UniqueKey> old_unique = owner_.UniqueKeys(before);
    const std::vector<UniqueKey> new_unique = owner_.UniqueKeys(after);
    for (const UniqueKey& u : old_unique) {
      if (!Contains(new_unique, u.key)) change.Delete(storage::Family::kIndex, u.key);
    }
    for (const UniqueKey& u : new_unique) {
      if (Contains(old_unique, u.key)) continue;
      change.ExpectAbsent(storage::Family::kIndex, u.key);
      change.Put(storage::Family::kIndex, u.key, after.id());
    }
    mutation.response = edit.response.empty() ? after.SerializeAsString() : edit.response;
    StoreResponse(owner_.context(), request, mutation.response, change);
    BuildCommit(call, &before, after, edit, change);
    return mutation;
  }

  // Gives `answer` (a replay's, a refusal's) to `done` once `audit`, its audit record, is
  // committed (at once when there is none), or the commit's error when it fails: as MutateRaw
  // and Create do waiting, without waiting.
  template <typename Value, typename Done>
  void AnswerAfterAudit(storage::Change&& audit, Value answer, Done done) {
    if (audit.empty()) return done(std::move(answer));
    store_.CommitAsync(std::move(audit),
                       [answer = std::move(answer), done = std::move(done)](
                           const absl::StatusOr<storage::CommitResult>& audited) mutable {
                         if (!audited.ok()) return done(audited.status());
                         done(std::move(answer));
                       });
  }

  // MutateAsync's state across its attempts. `ended` gets the serialized response, or the error.
  struct AsyncMutation {
    std::shared_ptr<const CallContext> call;
    std::string id;
    IdempotentRequest request;
    OwnedEditFn edit_fn;
    Executor* retries;
    absl::AnyInvocable<void(absl::StatusOr<std::string> response) &&> ended;
    int attempts = 0;
  };
  void AttemptMutation(std::shared_ptr<AsyncMutation> op) {
    absl::StatusOr<Mutation> mutation =
        PrepareMutation(*op->call, op->id, op->request, op->edit_fn);
    if (!mutation.ok()) return std::move(op->ended)(mutation.status());
    if (mutation->answer.has_value()) {
      return AnswerAfterAudit(
          std::move(mutation->change), *std::move(mutation->answer),
          [op](absl::StatusOr<std::string> answer) { std::move(op->ended)(std::move(answer)); });
    }
    store_.CommitAsync(
        std::move(mutation->change),
        [this, op, response = std::move(mutation->response), after = std::move(mutation->after)](
            const absl::StatusOr<storage::CommitResult>& committed) mutable {
          if (committed.ok()) return std::move(op->ended)(std::move(response));
          if (!absl::IsAborted(committed.status())) return std::move(op->ended)(committed.status());
          // Not on this, the committing, thread: an attempt reads the store.
          auto retry = [this, op, after = std::move(after)] {
            if (absl::Status taken = CheckUniqueKeys(store_.Snapshot(), after); !taken.ok())
              return std::move(op->ended)(std::move(taken));
            if (++op->attempts == kMaxAttempts)
              return std::move(op->ended)(TooManyAttempts(op->id));
            AttemptMutation(op);
          };
          if (!op->retries->TrySchedule(std::move(retry))) {
            std::move(op->ended)(absl::UnavailableError(
                "the server is at capacity and could not retry the change; retry with backoff"));
          }
        });
  }

  // One attempt at a Create: the change to commit and the record it stores, or the first
  // call's record when the caller's request id was answered (`change` then holds only the
  // replay's audit record, to commit before answering). Nothing here commits.
  struct Creation {
    std::optional<Record> answer;
    storage::Change change;
    Record stored;
  };
  absl::StatusOr<Creation> PrepareCreate(const CallContext& call, const Record& record,
                                         const IdempotentRequest& request,
                                         const storage::Change& extra) {
    Creation creation;
    VIGIL_ASSIGN_OR_RETURN(creation.answer, PriorRecord(request));
    if (creation.answer.has_value()) {
      creation.change.SetAudit(vigil::AuditReplay(call, request, {creation.answer->id()}));
      return creation;
    }
    if (record.id().empty()) {
      // A caller that found a first answer (Queue::PrepareCreate) passes no record: stored
      // responses are never deleted (an erasure rewrites them, and PriorRecord then refuses),
      // so this is a defence, not a path. Never store a record without an id.
      return absl::AbortedError(absl::StrCat("the first answer to request id ", request.request_id,
                                             " is no longer held; send a new request id"));
    }
    const std::string& force = call.principal.force;
    Record& stored = creation.stored;
    stored = record;
    stored.set_force(force);
    stored.set_revision(1);
    *stored.mutable_create_time() = ToProtoTime(call.now);
    *stored.mutable_update_time() = ToProtoTime(call.now);
    stored.clear_obligations();
    stored.clear_retention();
    *stored.mutable_retention()->mutable_last_activity_time() = ToProtoTime(call.now);
    RecordEdit edit;
    edit.action = v1::AUDIT_ACTION_COLLECTION;
    owner_.Derive(call, nullptr, stored, edit);
    StampSince({}, *stored.mutable_obligations(), call.now, /*new_record=*/true);

    storage::Change& change = creation.change;
    change = extra;
    change.ExpectAbsent(storage::Family::kEntities, owner_.Key(force, stored.id()));
    for (const UniqueKey& unique : owner_.UniqueKeys(stored)) {
      change.ExpectAbsent(storage::Family::kIndex, unique.key);
      change.Put(storage::Family::kIndex, unique.key, stored.id());
    }
    StoreResponse(owner_.context(), request, stored.SerializeAsString(), change);
    BuildCommit(call, nullptr, stored, edit, change);
    return creation;
  }

  // After a Create's commit found a precondition failed: the first call's record (the
  // caller's retry was answered meanwhile), AlreadyExists naming what is taken, or nullopt to
  // try again.
  absl::StatusOr<std::optional<Record>> AfterLostCreate(const CallContext& call,
                                                        const IdempotentRequest& request,
                                                        const Record& stored) {
    const storage::ReadView view = store_.Snapshot();
    VIGIL_ASSIGN_OR_RETURN(std::optional<Record> prior, ReplayCreate(call, request));
    if (prior.has_value()) return prior;
    VIGIL_ASSIGN_OR_RETURN(
        std::optional<std::string> existing,
        view.Get(storage::Family::kEntities, owner_.Key(call.principal.force, stored.id())));
    if (existing.has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat(owner_.noun(), ".id: ", stored.id(), " already exists"));
    }
    VIGIL_RETURN_IF_ERROR(CheckUniqueKeys(view, stored));
    return std::optional<Record>();
  }

  // CreateAsync's state across its attempts.
  struct AsyncCreate {
    std::shared_ptr<const CallContext> call;
    Record record;
    IdempotentRequest request;
    storage::Change extra;
    Executor* retries;
    Answer<Record> done;
    int attempts = 0;
  };
  void AttemptCreate(std::shared_ptr<AsyncCreate> op) {
    absl::StatusOr<Creation> creation =
        PrepareCreate(*op->call, op->record, op->request, op->extra);
    if (!creation.ok()) return std::move(op->done)(creation.status());
    if (creation->answer.has_value()) {
      return AnswerAfterAudit(
          std::move(creation->change), *std::move(creation->answer),
          [op](absl::StatusOr<Record> first) { std::move(op->done)(std::move(first)); });
    }
    store_.CommitAsync(
        std::move(creation->change),
        [this, op, stored = std::move(creation->stored)](
            const absl::StatusOr<storage::CommitResult>& committed) mutable {
          if (committed.ok()) return std::move(op->done)(std::move(stored));
          if (!absl::IsAborted(committed.status())) return std::move(op->done)(committed.status());
          // Not on this, the committing, thread: an attempt reads the store, and may commit the
          // audit record of a replay that won the race (AfterLostCreate, waiting: a worker).
          auto retry = [this, op, stored = std::move(stored)] {
            absl::StatusOr<std::optional<Record>> first =
                AfterLostCreate(*op->call, op->request, stored);
            if (!first.ok()) return std::move(op->done)(first.status());
            if (first->has_value()) return std::move(op->done)(**std::move(first));
            if (++op->attempts == kMaxAttempts) {
              return std::move(op->done)(
                  absl::AbortedError("too many concurrent changes; try again"));
            }
            AttemptCreate(op);
          };
          if (!op->retries->TrySchedule(std::move(retry))) {
            std::move(op->done)(absl::UnavailableError(
                "the server is at capacity and could not retry the change; retry with backoff"));
          }
        });
  }

  static constexpr int kMaxAttempts = 16;

  // The record as the retention schedule sees it.
  v1::RecordRetention Standing(const Record& record) const {
    v1::RecordRetention standing;
    standing.set_record_type(owner_.record_type());
    standing.set_record_id(record.id());
    standing.set_display_name(owner_.DisplayNameOf(record));
    const typename Owner<Record>::RetentionRule rule = owner_.RetentionOf(record);
    standing.set_group(rule.group);
    *standing.mutable_last_activity_time() = record.retention().has_last_activity_time()
                                                 ? record.retention().last_activity_time()
                                                 : record.update_time();
    if (!record.retention().reviews().empty()) {
      *standing.mutable_last_review_time() = record.retention().reviews().rbegin()->review_time();
    }
    *standing.mutable_review_time() = ToProtoTime(rule.review_due);
    standing.set_still_managed(StillManaged(record));
    return standing;
  }

  std::string StillManaged(const Record& record) const {
    std::string why = owner_.StillManaged(record);
    if (why.empty() && record.obligations_size() > 0) {
      why = absl::StrCat(owner_.noun(), " ", record.id(), " has ", record.obligations_size(),
                         " open obligation", record.obligations_size() == 1 ? "" : "s");
    }
    return why;
  }

  // A retention decision's reason is kept (in the record, in the audit log): it must not carry
  // the subject's name, which an erasure could not then remove. Compared word by word (letters
  // and digits, case-insensitive; words of three or more characters), so that a surname alone
  // or in a possessive is caught.
  absl::Status CheckReason(const Record& record, absl::string_view reason) const {
    const auto words = [](absl::string_view text) {
      absl::flat_hash_set<std::string> found;
      for (absl::string_view word :
           absl::StrSplit(text, absl::ByAnyChar(" \t\n'-.,;:()/\"\\"), absl::SkipEmpty())) {
        if (word.size() >= 3) found.insert(absl::AsciiStrToLower(word));
      }
      return found;
    };
    const absl::flat_hash_set<std::string> said = words(reason);
    for (const std::string& name : words(owner_.DisplayNameOf(record))) {
      if (said.contains(name)) {
        return absl::InvalidArgumentError(
            "reason: must not repeat the subject's name (the audit log keeps the reason, and an "
            "erasure could not remove it); refer to the record by its id");
      }
    }
    return absl::OkStatus();
  }

  // Where an erasure committed but not yet compacted away is marked, in the same commit.
  std::string PendingErasureKey(absl::string_view force, absl::string_view id) const {
    return absl::StrCat(PendingErasurePrefix(), storage::LengthPrefixed(force),
                        storage::LengthPrefixed(id));
  }
  std::string PendingErasurePrefix() const {
    return absl::StrCat("erasure-pending/", storage::LengthPrefixed(owner_.context()));
  }

  // The erasure's commit; fills `erased`.
  absl::Status CommitErasure(const CallContext& call, absl::string_view id,
                             absl::string_view reason, const IdempotentRequest& request,
                             v1::EraseRecordResponse& erased) {
    const std::string& force = call.principal.force;
    const std::string key = owner_.Key(force, id);
    // A refused erasure is audited, with its reason (checked first: the log keeps it).
    const auto refuse = [&](absl::string_view why) -> absl::Status {
      const std::string refusal =
          absl::StrCat(why, ": only a record no longer managed may be erased");
      storage::Change audit;
      audit.SetAudit(
          WithReason(call.Audit(v1::AUDIT_ACTION_ERASURE, {std::string(id)}, refusal), reason));
      VIGIL_RETURN_IF_ERROR(store_.Commit(audit).status());
      return absl::FailedPreconditionError(refusal);
    };
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior, PriorResponse(request));
      if (prior.has_value()) {
        VIGIL_RETURN_IF_ERROR(AuditReplay(call, request, {std::string(id)}));
        if (!erased.ParseFromString(*prior)) {
          return absl::DataLossError(
              absl::StrCat("the stored response to the erasure of ", id, " is unreadable"));
        }
        return absl::OkStatus();  // the caller compacts again: the first compaction may have failed
      }
      const storage::ReadView view = store_.Snapshot().WithoutCaching();
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                             view.Get(storage::Family::kEntities, key));
      if (!raw.has_value()) return NotFound(call, id);
      VIGIL_ASSIGN_OR_RETURN(const Record record, Parse(*raw, id));
      VIGIL_RETURN_IF_ERROR(CheckCaseload(call, record));
      VIGIL_RETURN_IF_ERROR(CheckReason(record, reason));
      if (const std::string why = StillManaged(record); !why.empty()) return refuse(why);

      storage::Change change;
      erased.Clear();
      erased.set_record_type(owner_.record_type());
      erased.set_record_id(std::string(id));
      *erased.mutable_erase_time() = ToProtoTime(call.now);
      change.ExpectValue(storage::Family::kEntities, key, *raw);
      change.Delete(storage::Family::kEntities, key);
      int64_t removed = 1;
      for (std::string& index : owner_.IndexKeys(record)) {
        change.Delete(storage::Family::kIndex, std::move(index));
        ++removed;
      }
      for (UniqueKey& unique : owner_.UniqueKeys(record)) {
        change.Delete(storage::Family::kIndex, std::move(unique.key));
        ++removed;
      }
      absl::StatusOr<int64_t> dependent = owner_.AddErasure(view, record, change);
      if (absl::IsFailedPrecondition(dependent.status()))
        return refuse(dependent.status().message());
      if (!dependent.ok()) return dependent.status();
      removed += *dependent;
      VIGIL_ASSIGN_OR_RETURN(const int64_t history, EraseHistory(view, force, id, change));
      erased.set_keys_removed(removed + history);
      VIGIL_ASSIGN_OR_RETURN(const int64_t events, RedactEvents(view, force, id, change));
      erased.set_events_redacted(events);
      VIGIL_ASSIGN_OR_RETURN(const int64_t responses, RedactResponses(view, force, id, change));
      erased.set_responses_redacted(responses);
      change.Put(storage::Family::kIndex, PendingErasureKey(force, id), "");
      StoreResponse(owner_.context(), request, erased.SerializeAsString(), change);
      change.SetAudit(WithReason(call.Audit(v1::AUDIT_ACTION_ERASURE, {std::string(id)}), reason));
      absl::StatusOr<storage::CommitResult> committed = store_.Commit(change);
      if (committed.ok()) return absl::OkStatus();
      if (!absl::IsAborted(committed.status())) return committed.status();
    }
    return absl::AbortedError(
        absl::StrCat(owner_.noun(), " ", id, ": too many concurrent changes; try again"));
  }

  // Compacts every family an erasure writes or that held the erased record's earlier keys (a
  // closed clock's deadline entry, a closed referral's identifier keys), then clears the pending
  // marks it covered. Returns how many were pending; compacts nothing when none was, unless
  // `always`.
  absl::StatusOr<int> CompactErased(bool always) {
    std::vector<std::string> pending;
    VIGIL_RETURN_IF_ERROR(
        store_.Snapshot().ScanPrefix(storage::Family::kIndex, PendingErasurePrefix(), {},
                                     [&](absl::string_view key, absl::string_view) {
                                       pending.emplace_back(key);
                                       return true;
                                     }));
    if (pending.empty() && !always) return 0;
    std::vector<storage::Store::KeyRange> ranges;
    for (storage::Family family : {storage::Family::kEntities, storage::Family::kIndex,
                                   storage::Family::kDeadlines, storage::Family::kEvents}) {
      ranges.push_back({family, {}, {}});  // the whole family
    }
    VIGIL_RETURN_IF_ERROR(store_.CompactAway(ranges));
    if (pending.empty()) return 0;
    storage::Change done;
    for (std::string& key : pending) done.Delete(storage::Family::kIndex, std::move(key));
    VIGIL_RETURN_IF_ERROR(store_.Commit(done).status());
    return static_cast<int>(pending.size());
  }

  // Deletes every history interval of the subject's obligations. Returns the keys deleted.
  absl::StatusOr<int64_t> EraseHistory(const storage::ReadView& view, absl::string_view force,
                                       absl::string_view id, storage::Change& change) const {
    int64_t erased = 0;
    bool readable = true;
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        storage::Family::kIndex, ledger_.HistoryPrefix(force), {},
        [&](absl::string_view key, absl::string_view value) {
          v1::Obligation version;
          if (!version.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            readable = false;
            return false;
          }
          if (version.subject_id() == id) {
            change.Delete(storage::Family::kIndex, std::string(key));
            ++erased;
          }
          return true;
        }));
    if (!readable) {
      return absl::DataLossError(
          absl::StrCat("an obligation version of ", owner_.context(), "'s history is unreadable"));
    }
    return erased;
  }

  // Replaces the content of every event of the owner's feed about the subject (of the
  // caller's force: ids are unique only within a force) with a redaction marker. A CLOSED
  // event keeps the obligation's id, kind and force, so that a follower that had not yet
  // applied it (the alerts context, lagging) still closes what it follows. Returns the events
  // redacted.
  absl::StatusOr<int64_t> RedactEvents(const storage::ReadView& view, absl::string_view force,
                                       absl::string_view id, storage::Change& change) const {
    const auto about = [&](const v1::Obligation& o) {
      return o.subject_id() == id && o.force() == force;
    };
    int64_t redacted = 0;
    uint64_t after = 0;
    for (;;) {
      VIGIL_ASSIGN_OR_RETURN(std::vector<storage::FeedEvent> page,
                             view.ReadEvents(owner_.context(), after, 1024));
      if (page.empty()) return redacted;
      for (const storage::FeedEvent& event : page) {
        after = event.sequence;
        v1::ObligationEventBatch batch;
        if (!batch.ParseFromString(event.payload)) {
          return absl::DataLossError(absl::StrCat("event ", event.sequence, " of feed ",
                                                  owner_.context(), " is unreadable"));
        }
        v1::ObligationEventBatch kept;
        kept.set_cause(batch.cause());
        kept.set_force(batch.force());
        bool mentions = false;
        for (const v1::ObligationEvent& e : batch.events()) {
          if (!about(e.obligation()) && !about(e.previous()) && !about(e.notice().obligation())) {
            *kept.add_events() = e;
            continue;
          }
          mentions = true;
          if (e.type() != v1::OBLIGATION_EVENT_TYPE_CLOSED) continue;
          v1::ObligationEvent& closed = *kept.add_events();
          closed.set_sequence(e.sequence());
          closed.set_type(e.type());
          *closed.mutable_event_time() = e.event_time();
          closed.mutable_obligation()->set_id(e.obligation().id());
          closed.mutable_obligation()->set_kind(e.obligation().kind());
          closed.mutable_obligation()->set_force(e.obligation().force());
        }
        for (const v1::ObligationNotice& n : batch.notices()) {
          if (about(n.obligation())) {
            mentions = true;
          } else {
            *kept.add_notices() = n;
          }
        }
        // A batch of the subject's own (one change to the record): known by its force, or by an
        // event of the subject. One written before batches named their force, with no event,
        // holds only the id and the cause, and is left alone: it may be another force's.
        const bool theirs = batch.subject_id() == id && (batch.force() == force || mentions);
        if (theirs) {
          mentions = true;
        } else {
          kept.set_subject_id(batch.subject_id());
        }
        if (!mentions) continue;
        kept.set_redacted(true);
        change.RedactEvent(std::string(owner_.context()), event.sequence, kept.SerializeAsString());
        ++redacted;
      }
    }
  }

  // Removes the response from every stored response of the force that holds the record, and
  // empties every such response stored before request ids were bound to their caller (those are
  // read only to refuse their id, which an empty value still does). Returns the responses
  // redacted.
  absl::StatusOr<int64_t> RedactResponses(const storage::ReadView& view, absl::string_view force,
                                          absl::string_view id, storage::Change& change) const {
    int64_t redacted = 0;
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        storage::Family::kIndex, IdempotencyPrefix(owner_.context(), force), {},
        [&](absl::string_view key, absl::string_view value) {
          if (StoredResponseHolds(value, id)) {
            change.Put(storage::Family::kIndex, std::string(key), ErasedStoredResponse());
            ++redacted;
          }
          return true;
        }));
    // The legacy key of an empty request id, without that id's one-byte length: the prefix of
    // every legacy key of the force.
    std::string legacy = owner_.LegacyRequestKey(force, "");
    legacy.pop_back();
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        storage::Family::kIndex, legacy, {}, [&](absl::string_view key, absl::string_view value) {
          if (HoldsStringField(value, id)) {
            change.Put(storage::Family::kIndex, std::string(key), "");
            ++redacted;
          }
          return true;
        }));
    return redacted;
  }

  // `entry` with the reason of a retention decision (none: unchanged).
  static storage::AuditEntry WithReason(storage::AuditEntry entry, absl::string_view reason) {
    if (reason.empty()) return entry;
    v1::AuditRecord record;
    if (record.ParseFromString(entry.body)) {
      record.set_reason(std::string(reason));
      entry.body = record.SerializeAsString();
    }
    return entry;
  }

  // Commits the audit record of a replayed response.
  absl::Status AuditReplay(const CallContext& call, const IdempotentRequest& request,
                           std::vector<std::string> subjects) {
    storage::Change change;
    change.SetAudit(vigil::AuditReplay(call, request, std::move(subjects)));
    return store_.Commit(change).status();
  }

  // The records of `ids` in `view`, read in one batched lookup (nullopt where there is none),
  // each parsed from the bytes `filter` keeps of it (nullopt from `filter`: malformed, DataLoss).
  template <typename Filter>
  absl::StatusOr<std::vector<std::optional<Record>>> LoadFiltered(const storage::ReadView& view,
                                                                  absl::string_view force,
                                                                  std::span<const std::string> ids,
                                                                  Filter filter) const {
    std::vector<std::string> keys;
    keys.reserve(ids.size());
    for (const std::string& id : ids) keys.push_back(owner_.Key(force, id));
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> raw,
                           view.MultiGet(storage::Family::kEntities, keys));
    std::vector<std::optional<Record>> records(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!raw[i].has_value()) continue;
      const std::optional<std::string> kept = filter(*raw[i]);
      if (!kept.has_value()) {
        return absl::DataLossError(
            absl::StrCat(owner_.noun(), " record ", ids[i], " is unreadable"));
      }
      VIGIL_ASSIGN_OR_RETURN(records[i], Parse(*kept, ids[i]));
    }
    return records;
  }

  absl::StatusOr<Record> Parse(absl::string_view raw, absl::string_view id) const {
    Record record;
    if (!record.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      return absl::DataLossError(absl::StrCat(owner_.noun(), " record ", id, " is unreadable"));
    }
    return record;
  }

  static bool Contains(const std::vector<UniqueKey>& keys, const std::string& key) {
    for (const UniqueKey& k : keys) {
      if (k.key == key) return true;
    }
    return false;
  }

  // AlreadyExists when a unique key of `record` is held by another record.
  absl::Status CheckUniqueKeys(const storage::ReadView& view, const Record& record) const {
    for (const UniqueKey& unique : owner_.UniqueKeys(record)) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> holder,
                             view.Get(storage::Family::kIndex, unique.key));
      if (holder.has_value() && *holder != record.id()) {
        return absl::AlreadyExistsError(absl::StrCat(
            unique.field, ": ", unique.value, " is already held by ", owner_.noun(), " ", *holder));
      }
    }
    return absl::OkStatus();
  }

  void BuildCommit(const CallContext& call, const Record* before, const Record& after,
                   const RecordEdit& edit, storage::Change& change) const {
    change.Put(storage::Family::kEntities, owner_.Key(after.force(), after.id()),
               after.SerializeAsString());
    const std::vector<std::string> old_keys =
        before != nullptr ? owner_.IndexKeys(*before) : std::vector<std::string>();
    const std::vector<std::string> new_keys = owner_.IndexKeys(after);
    const absl::flat_hash_set<std::string> keep(new_keys.begin(), new_keys.end());
    const absl::flat_hash_set<std::string> had(old_keys.begin(), old_keys.end());
    for (const std::string& k : old_keys) {
      if (!keep.contains(k)) change.Delete(storage::Family::kIndex, k);
    }
    for (const std::string& k : new_keys) {
      if (!had.contains(k)) change.Put(storage::Family::kIndex, k, "");
    }
    v1::ObligationEventBatch events;
    events.set_cause(call.method);
    events.set_subject_id(after.id());
    events.set_force(after.force());
    std::vector<v1::Obligation> old_clocks;
    if (before != nullptr)
      old_clocks.assign(before->obligations().begin(), before->obligations().end());
    const std::vector<v1::Obligation> new_clocks(after.obligations().begin(),
                                                 after.obligations().end());
    ledger_.Reconcile(old_clocks, new_clocks, call.now, change, events);
    if (const std::string why = owner_.CloseReason(before, after); !why.empty()) {
      for (v1::ObligationEvent& event : *events.mutable_events()) {
        if (event.type() == v1::OBLIGATION_EVENT_TYPE_CLOSED) event.set_close_reason(why);
      }
    }
    for (const v1::ObligationNotice& notice : edit.notices) {
      v1::ObligationNotice& published = *events.add_notices() = notice;
      if (!published.has_time()) *published.mutable_time() = ToProtoTime(call.now);
      for (const v1::Obligation& clock : new_clocks) {
        if (clock.kind() == notice.obligation().kind()) *published.mutable_obligation() = clock;
      }
    }
    change.AddEvent(std::string(owner_.context()), events.SerializeAsString());
    owner_.AlsoWrite(before, after, change);
    std::vector<std::string> subjects = {after.id()};
    subjects.insert(subjects.end(), edit.extra_subjects.begin(), edit.extra_subjects.end());
    change.SetAudit(WithReason(call.Audit(edit.action, std::move(subjects)), edit.reason));
  }

  storage::Store& store_;
  const Owner<Record>& owner_;
  const ObligationLedger ledger_;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_RECORD_STORE_H_
