// The OCAIT referral queue of a force: the lifecycle RECEIVED -> AWAITING_ALLOCATION ->
// ALLOCATED -> ACTIONED -> CLOSED, each transition one commit (checked against the current
// state, recorded with who, when and why, with its clocks, counters by state and grade, feed
// event and audit); intelligence refreshes that can regrade and restart the action clock;
// deconfliction by normalised identifiers; links to registered offenders through the
// register's API. The ocait context's Owner: its keys, clocks (clocks.h, which decide which of
// them re-time) and counters. Thread-safe.
#ifndef VIGIL_SERVICES_OCAIT_QUEUE_H_
#define VIGIL_SERVICES_OCAIT_QUEUE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "services/obligations/record_store.h"
#include "services/ocait/link_outbox.h"
#include "services/ocait/offender_link.h"
#include "services/policy/policy_registry.h"
#include "vigil/v1/ocait.pb.h"

namespace vigil::ocait {

inline constexpr absl::string_view kFeedContext = "ocait";

class Queue final : public Owner<v1::Referral> {
 public:
  // `link` and `outbox` may be null when no offender register is reachable: referrals with a
  // linked offender are then refused (FailedPrecondition). None owned.
  Queue(storage::Store& store, const policy::PolicyRegistry& policies, absl::TimeZone zone,
        OffenderLink* link, LinkOutbox* outbox);

  // Owner<v1::Referral>.
  absl::string_view noun() const override { return "referral"; }
  absl::string_view collection() const override { return "queue"; }
  absl::string_view context() const override { return kFeedContext; }
  storage::DeadlineSpace space() const override { return storage::DeadlineSpace::kOcait; }
  std::string Key(absl::string_view force, absl::string_view id) const override;
  std::string LegacyRequestKey(absl::string_view force,
                               absl::string_view request_id) const override;
  std::vector<std::string> IndexKeys(const v1::Referral& record) const override;
  std::vector<UniqueKey> UniqueKeys(const v1::Referral& record) const override;
  Caseload CaseloadOf(const v1::Referral& record) const override {
    return {record.team(), record.allocated_officer()};
  }
  // The subject's name as received, else its first identifier (a referral may carry only a
  // phone number or an account).
  std::string DisplayNameOf(const v1::Referral& record) const override;
  void Derive(const CallContext& call, const v1::Referral* before, v1::Referral& after,
              const RecordEdit& edit) const override;
  // Counters by team, state and grade, and the outbox entry that tells the register of a
  // linked referral.
  void AlsoWrite(const v1::Referral* before, const v1::Referral& after,
                 storage::Change& change) const override;
  // A referral is in the group of its suspected offence (Policy.retention.referral_group);
  // managed (not erasable) until CLOSED. An erasure also takes it out of the queue's counters,
  // and waits (FailedPrecondition) while its link to an offender is still being sent.
  v1::RecordType record_type() const override { return v1::RECORD_TYPE_REFERRAL; }
  RetentionRule RetentionOf(const v1::Referral& record) const override;
  std::string StillManaged(const v1::Referral& record) const override;
  absl::StatusOr<int64_t> AddErasure(const storage::ReadView& view, const v1::Referral& record,
                                     storage::Change& change) const override;

  // RECEIVED. InvalidArgument naming the field: no subject, a bad identifier, a receipt in the
  // future, an unknown linked offender. The response lists open referrals sharing identifiers.
  absl::StatusOr<v1::Referral> Create(const CallContext& call,
                                      const v1::CreateReferralRequest& request);
  // Create without waiting for the commit (RecordStore::CreateAsync): `done` gets the answer
  // once, on the committing thread or this one; `*call` and `request` must stay valid until
  // then. Attempts after a lost race run on `retries`.
  void CreateAsync(std::shared_ptr<const CallContext> call,
                   const v1::CreateReferralRequest& request, Executor& retries,
                   RecordStore<v1::Referral>::Answer<v1::Referral> done);
  // RECEIVED -> AWAITING_ALLOCATION with a grade.
  absl::StatusOr<v1::Referral> Triage(const CallContext& call,
                                      const v1::TriageReferralRequest& request);
  // AWAITING_ALLOCATION (or ALLOCATED, to reallocate) -> ALLOCATED.
  absl::StatusOr<v1::Referral> Allocate(const CallContext& call,
                                        const v1::AllocateReferralRequest& request);
  // While not actioned. An upward regrade makes the action due by the earlier of its due time
  // and the refresh + the new grade's target; it, or new access to children, marks the
  // referral for immediate escalation. A downward regrade needs regrade_reason and keeps the
  // due time unless a supervisor gives extension_reason (PermissionDenied for other roles).
  // InvalidArgument naming every check (CSC, household, regulated activity, police systems) not
  // recorded as done with its outcome or not possible with the reason. Only a refresh with at
  // least one check done restarts the refresh clock.
  absl::StatusOr<v1::Referral> RecordIntelRefresh(const CallContext& call,
                                                  const v1::RecordIntelRefreshRequest& request);
  absl::StatusOr<v1::Referral> RecordCscCheck(const CallContext& call,
                                              const v1::RecordCscCheckRequest& request);
  // ALLOCATED -> ACTIONED.
  absl::StatusOr<v1::Referral> Action(const CallContext& call,
                                      const v1::ActionReferralRequest& request);
  // Any open state -> CLOSED with an outcome and a reason.
  absl::StatusOr<v1::Referral> Close(const CallContext& call,
                                     const v1::CloseReferralRequest& request);

  absl::StatusOr<v1::Referral> Get(const CallContext& call, const v1::GetReferralRequest& request);
  absl::StatusOr<v1::ListReferralsResponse> List(const CallContext& call,
                                                 const v1::ListReferralsRequest& request);
  absl::StatusOr<v1::CountReferralsResponse> Count(const CallContext& call,
                                                   const v1::CountReferralsRequest& request);
  // Each row one commit; rows whose source reference is already in the queue are skipped.
  absl::StatusOr<v1::ImportReferralsResponse> Import(const CallContext& call,
                                                     const v1::ImportReferralsRequest& request);

  RecordStore<v1::Referral>& records() { return records_; }
  // The names of referral subjects, for listings (ObligationFeed, the backlog).
  const SubjectNamer& namer() const { return records_; }

 private:
  // Create's request, checked and bound to its request id: the referral to store, or `replay`
  // when the caller's request id was answered (RecordStore::Create answers the first call's
  // referral again, audited as a replay).
  struct NewReferral {
    IdempotentRequest bound;
    bool replay = false;
    v1::Referral referral;
  };
  absl::StatusOr<NewReferral> PrepareCreate(const CallContext& call,
                                            const v1::CreateReferralRequest& request);
  // Validates a new referral's fields, normalises identifiers, checks the linked offender.
  absl::StatusOr<v1::Referral> ValidateNew(const CallContext& call, const v1::Referral& in);
  // Fills the deconfliction matches of `referral` from the open referrals of the force.
  absl::Status Deconflict(const CallContext& call, v1::Referral& referral);
  // Applies a transition: checks `from`, edits, records history; returns the stored referral.
  // Idempotent on `request`'s request_id for the caller (services/common/idempotency.h).
  absl::StatusOr<v1::Referral> Transition(
      const CallContext& call, absl::string_view id, const google::protobuf::Message& request,
      std::initializer_list<v1::ReferralState> from, absl::string_view verb,
      absl::FunctionRef<absl::Status(v1::Referral&, RecordEdit&)> edit);
  void AfterWrite(const v1::Referral& referral);

  const policy::PolicyRegistry& policies_;
  const absl::TimeZone zone_;
  OffenderLink* link_;
  LinkOutbox* outbox_;
  RecordStore<v1::Referral> records_;
};

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_QUEUE_H_
