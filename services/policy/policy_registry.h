// The stored policy versions of one vigild, per force. Versions are immutable; one is current
// for each force and sets that force's new due dates, which record its version. Changing a
// force's current version never moves an existing due date (AdminService.RecomputeObligations
// does, audited) and never touches another force.
//
// The national chain holds the built-in default and what operators load with --policy. A force
// follows the national current version until its force-admin stores a policy of its own; that
// first Set copies every national version into the force's chain under the same numbers (so the
// versions its due dates already name keep resolving) and adds the new one after them.
//
//   entities "policy/v/" number:fixed64                    -> PolicyVersion (national)
//   entities "policy/current"                              -> number:fixed64
//   entities "policy/f/" force "/v/" number:fixed64        -> PolicyVersion (force's chain)
//   entities "policy/f/" force "/current"                  -> number:fixed64
//   index    "idem/" lp("policy") lp(force) lp(actor) lp(request_id) -> digest | Policy
//                                                (the first response: common/idempotency.h)
//   index    "policy/req/" force "/" request_id            legacy (0.1.0): read to refuse it
//
// A store written before policies were per force is migrated on open: each force it knows gets
// its own chain holding the store-wide versions, current as before (logged as a warning, since
// any force-admin's SetPolicy used to change every force).
#ifndef VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_
#define VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "services/common/rpc.h"
#include "storage/store.h"
#include "vigil/v1/admin.pb.h"
#include "vigil/v1/policy.pb.h"

namespace vigil::policy {

class PolicyRegistry {
 public:
  // When `configured` becomes a stored national version.
  enum class Adopt {
    // When its rules differ from the current national version's: an operator's --policy.
    kWhenDifferent,
    // Only into a store that has no policy yet: the built-in default, which must never undo
    // a version an operator loaded.
    kWhenNone,
  };

  // Loads the national and every force's current version. When the store has no national
  // version, or (kWhenDifferent) `configured` sets different rules, stores `configured` as the
  // next national version (described by `source`, e.g. the --policy path), audited as
  // `system`. Thread-safe once open.
  static absl::StatusOr<std::unique_ptr<PolicyRegistry>> Open(storage::Store& store,
                                                              const Clock& clock,
                                                              const v1::Policy& configured,
                                                              absl::string_view source,
                                                              Adopt adopt = Adopt::kWhenDifferent);

  // The current policy of `force`, version set: its own, or the national one it follows.
  // Cheap; safe to hold while the current one changes.
  std::shared_ptr<const v1::Policy> Current(absl::string_view force) const;
  // The current national default.
  std::shared_ptr<const v1::Policy> National() const;

  // Version `version` ("v3") as `force` knows it; NotFound otherwise.
  absl::StatusOr<v1::Policy> Get(absl::string_view force, absl::string_view version) const;

  // Validates `policy` (InvalidArgument naming the field), stores it as the next version of
  // the caller's force, makes it current for that force alone and audits the change under
  // it. The caller's retry with the same non-empty `request_id` and policy returns the first
  // result; FailedPrecondition when the caller used the request_id for another policy.
  absl::StatusOr<v1::Policy> Set(const CallContext& call, v1::Policy policy,
                                 absl::string_view request_id = {});

  // The versions `force` knows (its own chain, or the national one it follows), oldest first.
  absl::StatusOr<std::vector<v1::PolicyVersion>> List(absl::string_view force) const;

 private:
  PolicyRegistry(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Once per store: gives every force a store from before per-force policies knows (by its
  // audit records) a chain of its own holding the store-wide versions, current as before.
  absl::Status Migrate(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Stores `policy` as the next version of `force`'s chain ("" = national) for `call`.
  absl::StatusOr<v1::Policy> Store(const CallContext& call, absl::string_view force,
                                   v1::Policy policy, absl::string_view request_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  storage::Store& store_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const v1::Policy> national_ ABSL_GUARDED_BY(mu_);
  // Forces with a chain of their own.
  absl::flat_hash_map<std::string, std::shared_ptr<const v1::Policy>> forces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::policy

#endif  // VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_
