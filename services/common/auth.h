// Identity and authorisation. Every call is authenticated into a Principal (actor, role,
// force, team, rank) by the server's Authenticator; every RPC declares the roles it admits
// (RpcSpec in rpc.h), data is scoped to principal.force, and an officer's reads to their
// team's caseload. Nothing here trusts a request body. docs/security.md is the contract.
#ifndef VIGIL_SERVICES_COMMON_AUTH_H_
#define VIGIL_SERVICES_COMMON_AUTH_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace vigil {

// Stored in audit records by name, never by number.
enum class Role : uint8_t {
  kOfficer = 0,           // offender manager or OCAIT investigator
  kSupervisor = 1,        // sergeant, inspector, superintendent
  kForceAdmin = 2,        // policy, backups, users of one force
  kAuditor = 3,           // reads the access log
  kSystem = 4,            // force systems and vigil's own services acting for one force
  kService = 5,           // vigil's own services following feeds across every force (alerts)
  kNationalAuditor = 6,   // reads the national security log (cross-force probes, bad credentials)
                          // and the national backlog (counts, no personal data)
  kHmicfrsInspector = 7,  // HM Inspectorate of Constabulary: the national backlog (counts, no
                          // personal data); no force's records
};

absl::string_view RoleName(Role role);
// Accepts the names RoleName returns ("officer", "supervisor", "force-admin", "auditor",
// "system", "service", "national-auditor", "hmicfrs-inspector").
std::optional<Role> ParseRole(absl::string_view name);

// Police rank, in order: who may acknowledge an alert at each rung of the escalation ladder.
// Stored in audit records by name, never by number.
enum class Rank : uint8_t {
  kOfficer = 0,  // constable / detective constable
  kSergeant = 1,
  kInspector = 2,
  kSuperintendent = 3,
};

absl::string_view RankName(Rank rank);
// Accepts the names RankName returns ("officer", "sergeant", "inspector", "superintendent").
std::optional<Rank> ParseRank(absl::string_view name);
// The rank a credential without one carries: the lowest its role allows (sergeant for a
// supervisor, officer otherwise).
Rank DefaultRank(Role role);

// A set of roles, for declaring who may call an RPC.
class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role role : roles) bits_ |= Bit(role);
  }
  static constexpr RoleSet All() {
    return {Role::kOfficer, Role::kSupervisor, Role::kForceAdmin,      Role::kAuditor,
            Role::kSystem,  Role::kService,    Role::kNationalAuditor, Role::kHmicfrsInspector};
  }
  constexpr bool contains(Role role) const { return (bits_ & Bit(role)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  // "auditor, force-admin"
  std::string ToString() const;

 private:
  static constexpr uint8_t Bit(Role role) { return uint8_t{1} << static_cast<uint8_t>(role); }
  uint8_t bits_ = 0;
};

// Who is calling. Always complete: an authenticator never returns a partial principal.
struct Principal {
  Principal() = default;
  // Without a rank, the lowest the role allows (DefaultRank).
  Principal(std::string actor_, Role role_, std::string force_, std::string team_ = {},
            std::optional<Rank> rank_ = std::nullopt)
      : actor(std::move(actor_)),
        role(role_),
        force(std::move(force_)),
        team(std::move(team_)),
        rank(rank_.value_or(DefaultRank(role_))) {}

  std::string actor;  // a person's or system's identifier, e.g. collar number "DC 4512"
  Role role = Role::kOfficer;
  std::string force;  // the force whose data the caller may see, e.g. "wessex"
  std::string team;   // the caller's team, e.g. "MOSOVO North"; empty when not in one
  Rank rank = Rank::kOfficer;
  // For a call relayed by one of vigild's own processes for this principal (delegation, see
  // internal_call.h): the service identity that relayed it. Empty for a direct call.
  std::string via;

  friend bool operator==(const Principal&, const Principal&) = default;
};

// The force of vigild's own services where they act for every force (the alerts follower
// reading the owners' feeds, the backlog listing the forces an owner holds) and of vigild's
// store-wide records (the national policy it loads at start-up). No credential of a person or a
// force system may carry it: PrincipalFromClaims refuses it for every role but `service`, so no
// caller can read, as its own force's log, what is filed under it. vigild's work on a force's
// records (alerts raised, escalated, resolved) is filed under that force, as role `system`.
inline constexpr absl::string_view kAllForces = "all";

// Checks the parts of an identity, whatever carried it. Unauthenticated naming the part
// (`source` says what carried it, e.g. "x-vigil-actor" or "token claim preferred_username"):
//   actor: 1-128 printable ASCII characters;  force: 1-64 of [a-z0-9_-];
//   team: at most 64 printable ASCII characters.
absl::Status ValidateActor(absl::string_view actor, absl::string_view source = "x-vigil-actor");
absl::Status ValidateForce(absl::string_view force, absl::string_view source = "x-vigil-force");
absl::Status ValidateTeam(absl::string_view team, absl::string_view source = "x-vigil-team");

// The optional parts of an identity as they arrive (each nullopt when absent), checked and
// assembled into a Principal: role and rank by name, the default rank for the role, and the
// `service` role refused where `allow_service` is false (it belongs to vigild's own processes'
// certificates, never to a token or a person). `sources` names each part in messages.
struct IdentityClaims {
  std::optional<std::string> actor, role, force, team, rank;
};
struct ClaimSources {
  std::string actor = "x-vigil-actor";
  std::string role = "x-vigil-role";
  std::string force = "x-vigil-force";
  std::string team = "x-vigil-team";
  std::string rank = "x-vigil-rank";
};
absl::StatusOr<Principal> PrincipalFromClaims(const IdentityClaims& claims,
                                              const ClaimSources& sources, bool allow_service);

// Turns a call into a Principal. Implementations are thread-safe.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Unauthenticated, saying what is missing or malformed, when the caller is not known.
  virtual absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const = 0;
  // "dev", "mtls", "jwt", "mtls+jwt".
  virtual absl::string_view name() const = 0;
  // For a call Authenticate refused: the subject its credential names, unverified (a token's
  // actor claim), so that the refusal can be recorded against it in the national security log;
  // empty when the call names nobody. Never trusted for anything else. Default: empty.
  virtual std::string ClaimedSubject(const grpc::ServerContextBase& context) const { return {}; }
  // True when this authenticator trusts what the client says about itself, so the server
  // may only listen on loopback.
  virtual bool trusts_client_claims() const = 0;
};

// The development authenticator: believes metadata x-vigil-actor, x-vigil-role and
// x-vigil-force (and x-vigil-team, x-vigil-rank). Only for a server bound to loopback (vigild
// enforces it).
class DevHeaderAuthenticator final : public Authenticator {
 public:
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const override;
  absl::string_view name() const override { return "dev"; }
  bool trusts_client_claims() const override { return true; }
  // x-vigil-actor, when printable.
  std::string ClaimedSubject(const grpc::ServerContextBase& context) const override;
};

// The pure part of DevHeaderAuthenticator, separate so that it can be tested and fuzzed
// without a server: each argument is the header's value, or nullopt when absent.
absl::StatusOr<Principal> ParseDevIdentity(std::optional<absl::string_view> actor,
                                           std::optional<absl::string_view> role,
                                           std::optional<absl::string_view> force,
                                           std::optional<absl::string_view> team = std::nullopt,
                                           std::optional<absl::string_view> rank = std::nullopt);

// The value of client metadata `key` (lower case), or nullopt; the first when repeated.
std::optional<absl::string_view> MetadataValue(const grpc::ServerContextBase& context,
                                               absl::string_view key);

// True when `address` ("127.0.0.1:7420", "[::1]:0", "localhost:7420", "unix:/path") can only
// be reached from this machine.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_AUTH_H_
