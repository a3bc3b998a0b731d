#include "services/policy/policy_registry.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/policy/policy.h"
#include "storage/key_codec.h"

namespace vigil::policy {
namespace {

using storage::Family;

constexpr absl::string_view kForcesPrefix = "policy/f/";
// Present once the store's forces have chains of their own (see Migrate).
constexpr absl::string_view kPerForceMarker = "policy/per-force";
constexpr int kMaxAttempts = 8;

// The keys of one chain: the national one (force "") or a force's.
struct Chain {
  std::string force;

  std::string current_key() const {
    return force.empty() ? "policy/current" : absl::StrCat(kForcesPrefix, force, "/current");
  }
  std::string version_prefix() const {
    return force.empty() ? "policy/v/" : absl::StrCat(kForcesPrefix, force, "/v/");
  }
  std::string version_key(uint64_t number) const {
    std::string key = version_prefix();
    storage::PutFixed64BE(&key, number);
    return key;
  }
};

// The context of SetPolicy's request ids (services/common/idempotency.h).
constexpr absl::string_view kRequestContext = "policy";

std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id) {
  return absl::StrCat("policy/req/", force, "/", request_id);
}

std::string EncodeNumber(uint64_t number) {
  std::string value;
  storage::PutFixed64BE(&value, number);
  return value;
}

absl::StatusOr<uint64_t> ParseVersion(absl::string_view version) {
  uint64_t number = 0;
  if (version.size() < 2 || version[0] != 'v' || !absl::SimpleAtoi(version.substr(1), &number) ||
      number == 0) {
    return FieldError("version",
                      absl::StrCat("'", version, "' is not a policy version (v1, v2, ...)"));
  }
  return number;
}

// A chain's current version number and its raw pointer value (empty when the chain has none),
// read together.
struct CurrentPointer {
  uint64_t number = 0;
  std::optional<std::string> raw;
};

absl::StatusOr<CurrentPointer> ReadCurrent(const storage::ReadView& view, const Chain& chain) {
  const std::string key = chain.current_key();
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw, view.Get(Family::kEntities, key));
  CurrentPointer pointer;
  pointer.raw = raw;
  if (raw.has_value()) {
    if (raw->size() != 8) return absl::DataLossError(absl::StrCat(key, " is malformed"));
    pointer.number = storage::DecodeFixed64BE(raw->data());
  }
  return pointer;
}

absl::StatusOr<v1::PolicyVersion> ReadVersion(const storage::ReadView& view, const Chain& chain,
                                              uint64_t number) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                         view.Get(Family::kEntities, chain.version_key(number)));
  const std::string owner = chain.force.empty() ? "the national policy" : chain.force;
  if (!raw.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("policy version v", number, " of ", owner, " does not exist"));
  }
  v1::PolicyVersion version;
  if (!version.ParseFromString(*raw)) {
    return absl::DataLossError(absl::StrCat("policy v", number, " of ", owner, " is unreadable"));
  }
  return version;
}

// Every version of `chain`, oldest first.
absl::StatusOr<std::vector<v1::PolicyVersion>> ReadChain(const storage::ReadView& view,
                                                         const Chain& chain) {
  std::vector<v1::PolicyVersion> versions;
  absl::Status parse;
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(Family::kEntities, chain.version_prefix(), {},
                      [&](absl::string_view, absl::string_view value) {
                        v1::PolicyVersion version;
                        if (!version.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                          parse = absl::DataLossError("a stored policy version is unreadable");
                          return false;
                        }
                        versions.push_back(std::move(version));
                        return true;
                      }));
  VIGIL_RETURN_IF_ERROR(parse);
  return versions;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyRegistry>> PolicyRegistry::Open(storage::Store& store,
                                                                     const Clock& clock,
                                                                     const v1::Policy& configured,
                                                                     absl::string_view source,
                                                                     Adopt adopt) {
  VIGIL_RETURN_IF_ERROR(ValidatePolicy(configured));
  std::unique_ptr<PolicyRegistry> registry(new PolicyRegistry(store, clock));
  const storage::ReadView view = store.Snapshot();

  // Forces with chains of their own: their current pointers sit under "policy/f/".
  std::vector<std::string> forces;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(Family::kEntities, kForcesPrefix, {},
                                        [&](absl::string_view key, absl::string_view) {
                                          absl::string_view rest = key.substr(kForcesPrefix.size());
                                          if (absl::ConsumeSuffix(&rest, "/current")) {
                                            forces.emplace_back(rest);
                                          }
                                          return true;
                                        }));
  for (const std::string& force : forces) {
    const Chain chain{force};
    VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view, chain));
    VIGIL_ASSIGN_OR_RETURN(v1::PolicyVersion stored, ReadVersion(view, chain, current.number));
    absl::MutexLock lock(&registry->mu_);
    registry->forces_[force] = std::make_shared<const v1::Policy>(stored.policy());
  }

  VIGIL_RETURN_IF_ERROR(registry->Migrate(clock.Now()));
  const Chain national{};
  const storage::ReadView migrated = store.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(migrated, national));
  if (current.number > 0) {
    VIGIL_ASSIGN_OR_RETURN(v1::PolicyVersion stored,
                           ReadVersion(migrated, national, current.number));
    if (adopt == Adopt::kWhenNone || SameRules(stored.policy(), configured)) {
      if (!SameRules(stored.policy(), configured)) {
        VIGIL_LOG(INFO) << "national policy " << stored.policy().version()
                        << " (stored) stays current; the " << source
                        << " applies only to a new store";
      }
      absl::MutexLock lock(&registry->mu_);
      registry->national_ = std::make_shared<const v1::Policy>(stored.policy());
      return registry;
    }
  }
  CallContext call;
  call.principal = Principal{"vigild", Role::kSystem, std::string(kAllForces)};
  call.purpose = absl::StrCat("national policy loaded at start-up from ", source);
  call.method = "vigild/start-up";
  call.now = clock.Now();
  v1::Policy policy = configured;
  if (policy.description().empty()) policy.set_description(std::string(source));
  VIGIL_ASSIGN_OR_RETURN(v1::Policy stored, registry->Store(call, "", std::move(policy), {}));
  VIGIL_LOG(INFO) << "national policy " << stored.version() << " (" << source
                  << ") is now current for every force without a policy of its own";
  return registry;
}

absl::Status PolicyRegistry::Migrate(absl::Time now) {
  const storage::ReadView view = store_.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> marker,
                         view.Get(Family::kEntities, std::string(kPerForceMarker)));
  if (marker.has_value()) return absl::OkStatus();
  const Chain national{};
  VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view, national));
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::PolicyVersion> versions, ReadChain(view, national));
  VIGIL_ASSIGN_OR_RETURN(std::vector<std::string> audited, view.AuditedForces());
  std::vector<std::string> forces;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& force : audited) {
      // "all" named vigild's own records before they were filed per force.
      if (force != kAllForces && ValidateForce(force).ok() && !forces_.contains(force)) {
        forces.push_back(force);
      }
    }
  }
  storage::Change change;
  change.ExpectAbsent(Family::kEntities, std::string(kPerForceMarker));
  change.Put(Family::kEntities, std::string(kPerForceMarker), "1");
  if (current.raw.has_value() && !forces.empty()) {
    // A store from before per-force policies: every force ran on the store-wide versions. Each
    // keeps running on them, as its own chain, until its force-admin changes it.
    for (const std::string& force : forces) {
      const Chain chain{force};
      for (v1::PolicyVersion version : versions) {
        VIGIL_ASSIGN_OR_RETURN(const uint64_t number, ParseVersion(version.version()));
        version.set_force(force);
        change.Put(Family::kEntities, chain.version_key(number), version.SerializeAsString());
      }
      change.Put(Family::kEntities, chain.current_key(), *current.raw);
    }
    // The national default is what operators loaded (versions vigild stored at start-up), not
    // what one force's admin set for everyone.
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (it->created_by() != "vigild") continue;
      VIGIL_ASSIGN_OR_RETURN(const uint64_t number, ParseVersion(it->version()));
      if (number != current.number) {
        change.ExpectValue(Family::kEntities, national.current_key(), *current.raw);
        change.Put(Family::kEntities, national.current_key(), EncodeNumber(number));
        VIGIL_LOG(WARNING) << "policy: the national default is now " << it->version()
                           << ", the last version loaded at start-up; later versions were set "
                              "by a force-admin and stay with the forces above";
      }
      break;
    }
    CallContext call;
    call.principal = Principal{"vigild", Role::kSystem, std::string(kAllForces)};
    call.purpose = "store upgraded to per-force policies: each force keeps the store-wide versions";
    call.method = "vigild/start-up";
    call.now = now;
    std::vector<std::string> subjects;
    subjects.reserve(forces.size());
    for (const std::string& force : forces) subjects.push_back(absl::StrCat("policy/", force));
    change.SetAudit(call.Audit(v1::AUDIT_ACTION_ALTERATION, std::move(subjects)));
  }
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  if (!current.raw.has_value() || forces.empty()) return absl::OkStatus();
  std::string history;
  for (const v1::PolicyVersion& version : versions) {
    absl::StrAppend(&history, history.empty() ? "" : "; ", version.version(), " by ",
                    version.created_by().empty() ? "?" : version.created_by(), " (",
                    version.description(), ")");
  }
  VIGIL_LOG(WARNING) << "policy: this store predates per-force policies; forces "
                     << absl::StrJoin(forces, ", ") << " each keep the store-wide versions ["
                     << history << "] with v" << current.number
                     << " current. Before this release any force-admin's SetPolicy changed every "
                        "force: each force-admin should check 'vigil policy versions' and set "
                        "their own";
  const std::shared_ptr<const v1::Policy> followed = [&] {
    for (const v1::PolicyVersion& version : versions) {
      if (version.version() == absl::StrCat("v", current.number)) {
        return std::make_shared<const v1::Policy>(version.policy());
      }
    }
    return std::shared_ptr<const v1::Policy>();
  }();
  absl::MutexLock lock(&mu_);
  for (const std::string& force : forces) {
    if (followed != nullptr) forces_[force] = followed;
  }
  return absl::OkStatus();
}

std::shared_ptr<const v1::Policy> PolicyRegistry::Current(absl::string_view force) const {
  absl::MutexLock lock(&mu_);
  if (auto it = forces_.find(force); it != forces_.end()) return it->second;
  return national_;
}

std::shared_ptr<const v1::Policy> PolicyRegistry::National() const {
  absl::MutexLock lock(&mu_);
  return national_;
}

absl::StatusOr<v1::Policy> PolicyRegistry::Get(absl::string_view force,
                                               absl::string_view version) const {
  VIGIL_ASSIGN_OR_RETURN(const uint64_t number, ParseVersion(version));
  bool own = false;
  {
    absl::MutexLock lock(&mu_);
    own = forces_.contains(force);
  }
  // A force's chain starts with copies of every national version, so a version it followed
  // before it had a chain reads the same from either.
  const Chain chain{own ? std::string(force) : std::string()};
  VIGIL_ASSIGN_OR_RETURN(v1::PolicyVersion stored, ReadVersion(store_.Snapshot(), chain, number));
  return stored.policy();
}

absl::StatusOr<v1::Policy> PolicyRegistry::Set(const CallContext& call, v1::Policy policy,
                                               absl::string_view request_id) {
  if (absl::Status s = ValidatePolicy(policy); !s.ok()) {
    return FieldError("policy", s.message());
  }
  return Store(call, call.principal.force, std::move(policy), request_id);
}

absl::StatusOr<v1::Policy> PolicyRegistry::Store(const CallContext& call, absl::string_view force,
                                                 v1::Policy policy, absl::string_view request_id) {
  const Chain chain{std::string(force)};
  const Chain national{};
  // The digest covers the policy asked for: the request's other field is the request_id.
  const IdempotentRequest bound = BindRequest(call, policy, request_id);
  const std::string legacy_key = request_id.empty() ? "" : LegacyRequestKey(force, request_id);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const storage::ReadView view = store_.Snapshot();
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> prior,
                           StoredResponse(view, kRequestContext, bound, legacy_key));
    if (prior.has_value()) {
      v1::Policy first;
      if (!first.ParseFromString(*prior)) {
        return absl::DataLossError("the stored response of this request id is unreadable");
      }
      return first;
    }
    storage::Change change;
    VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view, chain));
    if (current.raw.has_value()) {
      change.ExpectValue(Family::kEntities, chain.current_key(), *current.raw);
    } else {
      change.ExpectAbsent(Family::kEntities, chain.current_key());
      if (!force.empty()) {
        // The force's first version of its own: its chain starts as a copy of the national
        // chain it followed, pinned against a national change committed meanwhile.
        VIGIL_ASSIGN_OR_RETURN(CurrentPointer followed, ReadCurrent(view, national));
        if (followed.raw.has_value()) {
          change.ExpectValue(Family::kEntities, national.current_key(), *followed.raw);
        } else {
          change.ExpectAbsent(Family::kEntities, national.current_key());
        }
        VIGIL_ASSIGN_OR_RETURN(std::vector<v1::PolicyVersion> inherited, ReadChain(view, national));
        for (v1::PolicyVersion& version : inherited) {
          VIGIL_ASSIGN_OR_RETURN(const uint64_t number, ParseVersion(version.version()));
          version.set_force(std::string(force));
          change.Put(Family::kEntities, chain.version_key(number), version.SerializeAsString());
        }
        current.number = followed.number;
      }
    }
    const uint64_t number = current.number + 1;
    policy.set_version(absl::StrCat("v", number));
    v1::PolicyVersion record;
    *record.mutable_policy() = policy;
    record.set_version(policy.version());
    record.set_description(policy.description());
    *record.mutable_created_time() = ToProtoTime(call.now);
    record.set_created_by(call.principal.actor);
    record.set_force(std::string(force));

    change.ExpectAbsent(Family::kEntities, chain.version_key(number));
    change.Put(Family::kEntities, chain.version_key(number), record.SerializeAsString());
    change.Put(Family::kEntities, chain.current_key(), EncodeNumber(number));
    StoreResponse(kRequestContext, bound, policy.SerializeAsString(), change);
    change.SetAudit(call.Audit(
        v1::AUDIT_ACTION_ALTERATION,
        {absl::StrCat("policy/", force.empty() ? "national" : force, "/", policy.version())}));
    absl::StatusOr<storage::CommitResult> committed = store_.Commit(change);
    if (absl::IsAborted(committed.status())) continue;  // another version was stored first
    VIGIL_RETURN_IF_ERROR(committed.status());
    absl::MutexLock lock(&mu_);
    auto stored = std::make_shared<const v1::Policy>(policy);
    if (force.empty()) {
      national_ = std::move(stored);
    } else {
      forces_[force] = std::move(stored);
    }
    return policy;
  }
  return absl::AbortedError("policy: too many concurrent changes; try again");
}

absl::StatusOr<std::vector<v1::PolicyVersion>> PolicyRegistry::List(absl::string_view force) const {
  bool own = false;
  {
    absl::MutexLock lock(&mu_);
    own = forces_.contains(force);
  }
  const Chain chain{own ? std::string(force) : std::string()};
  const storage::ReadView view = store_.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view, chain));
  VIGIL_ASSIGN_OR_RETURN(std::vector<v1::PolicyVersion> versions, ReadChain(view, chain));
  for (v1::PolicyVersion& version : versions) {
    version.set_current(version.version() == absl::StrCat("v", current.number));
    version.clear_policy();
  }
  return versions;
}

}  // namespace vigil::policy
