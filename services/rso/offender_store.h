// Reads and writes the offender records of the caller's force. Every write is one storage
// commit holding the record, its index entries, its clocks (deadline index, due indexes and
// open-obligation counters, through ObligationLedger), one feed event (the clock transitions),
// the audit record, and the request id for idempotent retries. Thread-safe.
#ifndef VIGIL_SERVICES_RSO_OFFENDER_STORE_H_
#define VIGIL_SERVICES_RSO_OFFENDER_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "services/common/obligations.h"
#include "services/common/rpc.h"
#include "services/policy/policy_registry.h"
#include "services/rso/clocks.h"
#include "storage/store.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

// The feed context of the rso obligations.
inline constexpr absl::string_view kFeedContext = "rso";

// What an edit of a record asks of the commit.
struct Edit {
  // Clocks to derive afresh from the current policy.
  ClockSet retime;
  // The serialized response, kept under the request id so that a retry returns it.
  std::string response;
  // Audit: what was done, and to which subjects besides the offender.
  v1::AuditAction action = v1::AUDIT_ACTION_ALTERATION;
  std::vector<std::string> extra_subjects;
  // Write nothing when the record's clocks come out unchanged (used by recomputation).
  bool skip_if_clocks_unchanged = false;
};

// Receives the current record (mutable) and the change being built; may add entities of its
// own (an assessment) to the change. A non-OK status aborts the write.
using EditFn = absl::FunctionRef<absl::Status(v1::Offender& record, storage::Change& change,
                                              Edit& edit)>;

class OffenderStore {
 public:
  // None owned.
  OffenderStore(storage::Store& store, const policy::PolicyRegistry& policies,
                absl::TimeZone zone)
      : store_(store), policies_(policies), zone_(zone), ledger_(storage::DeadlineSpace::kRso) {}

  // The response stored under `request_id` by an earlier call, or nullopt.
  absl::StatusOr<std::optional<std::string>> PriorResponse(const CallContext& call,
                                                           absl::string_view request_id) const;

  // Writes a new record (validated by the caller; force, id and times set) with every clock
  // that applies. `extra` is added to the commit (e.g. an imported assessment). Returns the
  // stored record, or the first response when `request_id` was seen before. AlreadyExists
  // naming the field when the id or ViSOR reference is taken.
  absl::StatusOr<v1::Offender> Create(const CallContext& call, v1::Offender record,
                                      absl::string_view request_id,
                                      const storage::Change& extra = storage::Change());

  // Loads the record `id`, applies `edit`, reconciles its clocks and commits, retrying when a
  // concurrent write got there first. Returns the stored response (Edit::response, or the
  // record when that is empty). NotFound (audited as a refused access) for an id unknown in the
  // caller's force.
  absl::StatusOr<std::string> Mutate(const CallContext& call, absl::string_view id,
                                     absl::string_view request_id, EditFn edit);

  // Re-derives every clock of every offender of the caller's force under the current policy,
  // one audited commit per offender that changes.
  struct RecomputeReport {
    int64_t examined = 0;
    int64_t changed = 0;
    int64_t retimed = 0;
  };
  absl::StatusOr<RecomputeReport> Recompute(const CallContext& call, bool dry_run);

  // The record `id` of the caller's force, read for the caller: a consultation, audited
  // before it is returned. NotFound (audited as refused) when absent.
  absl::StatusOr<v1::Offender> Read(const CallContext& call, absl::string_view id);

  // Audits a consultation of `subjects` (or a refused one, when `outcome` is set).
  absl::Status AuditRead(const CallContext& call, std::vector<std::string> subjects,
                         absl::string_view outcome = {});

  // Reads a record without auditing (for domain code that audits its own commit).
  absl::StatusOr<std::optional<v1::Offender>> Load(const storage::ReadView& view,
                                                   absl::string_view force,
                                                   absl::string_view id) const;

  // Recomputes the time-dependent reactive-management eligibility of a record being read.
  void RefreshEligibility(v1::Offender& record, absl::Time now) const;

  storage::Store& store() { return store_; }
  absl::TimeZone zone() const { return zone_; }
  std::shared_ptr<const v1::Policy> policy() const { return policies_.Current(); }

 private:
  // Leaving the community for custody, abroad or wanted pauses the visit clock with the time it
  // had left; ReconcileClocks resumes it on return.
  void PauseOrResumeVisits(const v1::Offender& before, v1::Offender& after, absl::Time now) const;

  // Fills the commit for `before` -> `after` (before absent for a new record).
  void BuildCommit(const CallContext& call, const v1::Offender* before, const v1::Offender& after,
                   v1::AuditAction action, std::vector<std::string> extra_subjects,
                   storage::Change& change) const;

  storage::Store& store_;
  const policy::PolicyRegistry& policies_;
  const absl::TimeZone zone_;
  const ObligationLedger ledger_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_OFFENDER_STORE_H_
