// The stored policy versions of one vigild. Versions are immutable; one is current and sets
// every new due date, which records its version. Changing the current version never moves an
// existing due date (AdminService.RecomputeObligations does, audited).
//
//   entities "policy/v/" version-number:fixed64 -> PolicyVersionRecord
//   entities "policy/current"                   -> version-number:fixed64
#ifndef VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_
#define VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/rpc.h"
#include "storage/store.h"
#include "vigil/v1/admin.pb.h"
#include "vigil/v1/policy.pb.h"

namespace vigil::policy {

class PolicyRegistry {
 public:
  // When `configured` becomes a stored version.
  enum class Adopt {
    // When its rules differ from the current version's: an operator's explicit --policy.
    kWhenDifferent,
    // Only into a store that has no policy yet: the built-in default, which must never undo
    // a version an admin set with SetPolicy.
    kWhenNone,
  };

  // Loads the current version. When the store has none, or (kWhenDifferent) `configured` sets
  // different rules, stores `configured` as the next version (described by `source`, e.g. the
  // --policy path) and makes it current, audited as `system`. Thread-safe once open.
  static absl::StatusOr<std::unique_ptr<PolicyRegistry>> Open(storage::Store& store,
                                                              const Clock& clock,
                                                              const v1::Policy& configured,
                                                              absl::string_view source,
                                                              Adopt adopt = Adopt::kWhenDifferent);

  // The current policy, version set. Cheap; safe to hold while the current one changes.
  std::shared_ptr<const v1::Policy> Current() const;

  // A stored version ("v3"); NotFound otherwise.
  absl::StatusOr<v1::Policy> Get(absl::string_view version) const;

  // Validates `policy` (InvalidArgument naming the field), stores it as the next version, makes
  // it current and audits the change. Returns it with its version.
  absl::StatusOr<v1::Policy> Set(const CallContext& call, v1::Policy policy);

  absl::StatusOr<std::vector<v1::PolicyVersion>> List() const;

 private:
  PolicyRegistry(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Stores `policy` as version current+1 on behalf of `call`.
  absl::StatusOr<v1::Policy> Store(const CallContext& call, v1::Policy policy);

  storage::Store& store_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::shared_ptr<const v1::Policy> current_;  // GUARDED_BY(mu_)
};

}  // namespace vigil::policy

#endif  // VIGIL_SERVICES_POLICY_POLICY_REGISTRY_H_
