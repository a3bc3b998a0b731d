// The offender records of the caller's force, kept by RecordStore (one commit per change with
// the record, its indexes, its clocks, a feed event, the audit record and the request id). This
// is the rso context's Owner: its keys, and how a record's derived fields follow an edit (the
// notification end, reactive-management eligibility and its loss, visit pauses, and the clocks,
// which decide themselves which of them re-time: clocks.h). Thread-safe.
#ifndef VIGIL_SERVICES_RSO_OFFENDER_STORE_H_
#define VIGIL_SERVICES_RSO_OFFENDER_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "services/obligations/record_store.h"
#include "services/policy/policy_registry.h"
#include "services/rso/clocks.h"
#include "storage/store.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

// The feed context of the rso obligations.
inline constexpr absl::string_view kFeedContext = "rso";

using Edit = RecordEdit;
using EditFn = RecordStore<v1::Offender>::EditFn;

class OffenderStore final : public Owner<v1::Offender> {
 public:
  // None owned.
  OffenderStore(storage::Store& store, const policy::PolicyRegistry& policies, absl::TimeZone zone);

  // Owner<v1::Offender>.
  absl::string_view noun() const override { return "offender"; }
  absl::string_view collection() const override { return "register"; }
  absl::string_view context() const override { return kFeedContext; }
  storage::DeadlineSpace space() const override { return storage::DeadlineSpace::kRso; }
  std::string Key(absl::string_view force, absl::string_view id) const override;
  std::string LegacyRequestKey(absl::string_view force,
                               absl::string_view request_id) const override;
  std::vector<std::string> IndexKeys(const v1::Offender& record) const override;
  std::vector<UniqueKey> UniqueKeys(const v1::Offender& record) const override;
  Caseload CaseloadOf(const v1::Offender& record) const override {
    return {record.team(), record.owner_officer()};
  }
  std::string DisplayNameOf(const v1::Offender& record) const override {
    return record.display_name();
  }
  void Derive(const CallContext& call, const v1::Offender* before, v1::Offender& after,
              const RecordEdit& edit) const override;
  std::string CloseReason(const v1::Offender* before, const v1::Offender& after) const override;
  // Registered offenders are MoPI Group 1. Managed (not erasable) in every status but
  // DECEASED, EXPIRED and TRANSFERRED. An erasure also takes the offender's assessments, plans,
  // visits and compliance findings.
  v1::RecordType record_type() const override { return v1::RECORD_TYPE_OFFENDER; }
  RetentionRule RetentionOf(const v1::Offender& record) const override;
  std::string StillManaged(const v1::Offender& record) const override;
  absl::StatusOr<int64_t> AddErasure(const storage::ReadView& view, const v1::Offender& record,
                                     storage::Change& change) const override;

  // Writes a new offender (validated by the caller) with every clock that applies. AlreadyExists
  // naming the field when the id or ViSOR reference is taken.
  absl::StatusOr<v1::Offender> Create(const CallContext& call, v1::Offender record,
                                      const IdempotentRequest& request,
                                      const storage::Change& extra = storage::Change()) {
    return records_.Create(call, std::move(record), request, extra);
  }

  // Applies `edit` to offender `id` and commits (see RecordStore::Mutate). NotFound, audited as
  // a refused access, for an id unknown in the caller's force.
  template <typename Response = v1::Offender>
  absl::StatusOr<Response> Mutate(const CallContext& call, absl::string_view id,
                                  const IdempotentRequest& request, EditFn edit) {
    return records_.template Mutate<Response>(call, id, request, edit);
  }

  using OwnedEditFn = RecordStore<v1::Offender>::OwnedEditFn;
  template <typename Response>
  using Answer = RecordStore<v1::Offender>::Answer<Response>;

  // A change an RPC's request asks for, checked: the request bound to its request id, and the
  // edit that makes the change (MutateAsync may run it again after the RPC's body returned).
  struct BoundEdit {
    IdempotentRequest request;
    OwnedEditFn edit;
  };

  // Mutate without waiting for the commit (see RecordStore::MutateAsync); `done` gets the
  // error of a request that did not check out.
  template <typename Response = v1::Offender>
  void MutateAsync(std::shared_ptr<const CallContext> call, std::string id,
                   absl::StatusOr<BoundEdit> edit, Executor& retries, Answer<Response> done) {
    if (!edit.ok()) return std::move(done)(edit.status());
    records_.template MutateAsync<Response>(std::move(call), std::move(id),
                                            std::move(edit->request), std::move(edit->edit),
                                            retries, std::move(done));
  }

  // The offender, read for the caller (audited), with eligibility refreshed to call.now.
  absl::StatusOr<v1::Offender> Read(const CallContext& call, absl::string_view id);

  absl::Status AuditRead(const CallContext& call, std::vector<std::string> subjects,
                         absl::string_view outcome = {}) {
    return records_.AuditRead(call, std::move(subjects), outcome);
  }
  absl::Status NotFound(const CallContext& call, absl::string_view id) {
    return records_.NotFound(call, id);
  }
  // PermissionDenied (audited) when the caller may not see `record` (need-to-know).
  absl::Status CheckCaseload(const CallContext& call, const v1::Offender& record) {
    return records_.CheckCaseload(call, record);
  }

  // The offender as of `view`, if the caller may see it (NotFound, PermissionDenied audited);
  // the read is the caller's to audit.
  absl::StatusOr<v1::Offender> LoadForCaller(const CallContext& call, const storage::ReadView& view,
                                             absl::string_view id) {
    return records_.LoadForCaller(call, view, id);
  }

  absl::StatusOr<std::optional<v1::Offender>> Load(const storage::ReadView& view,
                                                   absl::string_view force,
                                                   absl::string_view id) const {
    return records_.Load(view, force, id);
  }

  // Each offender of `force` in `view`, in one pass, while `fn` returns true (not audited).
  absl::Status ForEach(const storage::ReadView& view, absl::string_view force,
                       absl::FunctionRef<bool(const v1::Offender&)> fn) const {
    return records_.ForEach(view, force, fn);
  }

  // Recomputes the time-dependent reactive-management eligibility of a record being read.
  void RefreshEligibility(v1::Offender& record, absl::Time now) const;

  storage::Store& store() { return records_.store(); }
  // Recomputation of every offender's clocks (AdminService.RecomputeObligations).
  ClockRecomputer& recomputer() { return records_; }
  // The register under the retention schedule (RetentionService).
  RecordKeeper& keeper() { return records_; }
  // The names of offenders, for listings (ObligationFeed, the backlog).
  const SubjectNamer& namer() const { return records_; }
  // The rso context's ledger: its due indexes (Visits::Plan reads them).
  const ObligationLedger& ledger() const { return records_.ledger(); }
  absl::TimeZone zone() const { return zone_; }
  std::shared_ptr<const v1::Policy> policy(absl::string_view force) const {
    return policies_.Current(force);
  }

 private:
  const policy::PolicyRegistry& policies_;
  const absl::TimeZone zone_;
  RecordStore<v1::Offender> records_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_OFFENDER_STORE_H_
