#include "services/policy/policy_registry.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/proto_time.h"
#include "services/policy/policy.h"
#include "storage/key_codec.h"

namespace vigil::policy {
namespace {

constexpr absl::string_view kCurrentKey = "policy/current";
constexpr absl::string_view kVersionPrefix = "policy/v/";
constexpr int kMaxAttempts = 8;

std::string VersionKey(uint64_t number) {
  std::string key(kVersionPrefix);
  storage::PutFixed64BE(&key, number);
  return key;
}

std::string Encode(uint64_t number) {
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

// The current version number and its raw pointer value (empty when none), read together.
struct CurrentPointer {
  uint64_t number = 0;
  std::optional<std::string> raw;
};

absl::StatusOr<CurrentPointer> ReadCurrent(const storage::ReadView& view) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                         view.Get(storage::Family::kEntities, std::string(kCurrentKey)));
  CurrentPointer pointer;
  pointer.raw = raw;
  if (raw.has_value()) {
    if (raw->size() != 8) return absl::DataLossError("policy/current is malformed");
    pointer.number = storage::DecodeFixed64BE(raw->data());
  }
  return pointer;
}

absl::StatusOr<v1::PolicyVersion> ReadVersion(const storage::ReadView& view, uint64_t number) {
  VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> raw,
                         view.Get(storage::Family::kEntities, VersionKey(number)));
  if (!raw.has_value())
    return absl::NotFoundError(absl::StrCat("policy version v", number, " does not exist"));
  v1::PolicyVersion version;
  if (!version.ParseFromString(*raw))
    return absl::DataLossError(absl::StrCat("policy v", number, " is unreadable"));
  return version;
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
  VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view));
  if (current.number > 0) {
    VIGIL_ASSIGN_OR_RETURN(v1::PolicyVersion stored, ReadVersion(view, current.number));
    if (adopt == Adopt::kWhenNone || SameRules(stored.policy(), configured)) {
      if (!SameRules(stored.policy(), configured)) {
        VIGIL_LOG(INFO) << "policy " << stored.policy().version() << " (stored) stays current; the "
                        << source << " applies only to a new store";
      }
      registry->current_ = std::make_shared<const v1::Policy>(stored.policy());
      return registry;
    }
  }
  CallContext call;
  call.principal = Principal{"vigild", Role::kSystem, "all"};
  call.purpose = absl::StrCat("policy loaded at start-up from ", source);
  call.method = "vigild/start-up";
  call.now = clock.Now();
  v1::Policy policy = configured;
  if (policy.description().empty()) policy.set_description(std::string(source));
  VIGIL_ASSIGN_OR_RETURN(v1::Policy stored, registry->Store(call, std::move(policy)));
  VIGIL_LOG(INFO) << "policy " << stored.version() << " (" << source << ") is now current";
  return registry;
}

std::shared_ptr<const v1::Policy> PolicyRegistry::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

absl::StatusOr<v1::Policy> PolicyRegistry::Get(absl::string_view version) const {
  VIGIL_ASSIGN_OR_RETURN(const uint64_t number, ParseVersion(version));
  VIGIL_ASSIGN_OR_RETURN(v1::PolicyVersion stored, ReadVersion(store_.Snapshot(), number));
  return stored.policy();
}

absl::StatusOr<v1::Policy> PolicyRegistry::Set(const CallContext& call, v1::Policy policy) {
  if (absl::Status s = ValidatePolicy(policy); !s.ok()) {
    return FieldError("policy", s.message());
  }
  return Store(call, std::move(policy));
}

absl::StatusOr<v1::Policy> PolicyRegistry::Store(const CallContext& call, v1::Policy policy) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(store_.Snapshot()));
    const uint64_t number = current.number + 1;
    policy.set_version(absl::StrCat("v", number));
    v1::PolicyVersion record;
    *record.mutable_policy() = policy;
    record.set_version(policy.version());
    record.set_description(policy.description());
    *record.mutable_created_time() = ToProtoTime(call.now);
    record.set_created_by(call.principal.actor);

    storage::Change change;
    if (current.raw.has_value()) {
      change.ExpectValue(storage::Family::kEntities, std::string(kCurrentKey), *current.raw);
    } else {
      change.ExpectAbsent(storage::Family::kEntities, std::string(kCurrentKey));
    }
    change.ExpectAbsent(storage::Family::kEntities, VersionKey(number));
    change.Put(storage::Family::kEntities, VersionKey(number), record.SerializeAsString());
    change.Put(storage::Family::kEntities, std::string(kCurrentKey), Encode(number));
    change.SetAudit(
        call.Audit(v1::AUDIT_ACTION_ALTERATION, {absl::StrCat("policy/", policy.version())}));
    absl::StatusOr<storage::CommitResult> committed = store_.Commit(change);
    if (absl::IsAborted(committed.status())) continue;  // another version was stored first
    VIGIL_RETURN_IF_ERROR(committed.status());
    std::lock_guard lock(mu_);
    current_ = std::make_shared<const v1::Policy>(policy);
    return policy;
  }
  return absl::AbortedError("policy: too many concurrent changes; try again");
}

absl::StatusOr<std::vector<v1::PolicyVersion>> PolicyRegistry::List() const {
  const storage::ReadView view = store_.Snapshot();
  VIGIL_ASSIGN_OR_RETURN(CurrentPointer current, ReadCurrent(view));
  std::vector<v1::PolicyVersion> versions;
  absl::Status parse;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      storage::Family::kEntities, std::string(kVersionPrefix), {},
      [&](absl::string_view key, absl::string_view value) {
        v1::PolicyVersion version;
        if (!version.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("a policy version is unreadable");
          return false;
        }
        version.set_current(storage::DecodeFixed64BE(key.data() + kVersionPrefix.size()) ==
                            current.number);
        version.clear_policy();
        versions.push_back(std::move(version));
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(parse);
  return versions;
}

}  // namespace vigil::policy
