#include "services/common/auth.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace vigil {
namespace {

constexpr absl::string_view kRoleNames[] = {"officer",          "supervisor",       "force-admin",
                                            "auditor",          "system",           "service",
                                            "national-auditor", "hmicfrs-inspector"};
constexpr absl::string_view kRankNames[] = {"officer", "sergeant", "inspector", "superintendent"};

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(std::string(what));
}

}  // namespace

absl::string_view RoleName(Role role) {
  const auto index = static_cast<size_t>(role);
  return index < std::size(kRoleNames) ? kRoleNames[index] : "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (size_t i = 0; i < std::size(kRoleNames); ++i) {
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  }
  return std::nullopt;
}

absl::string_view RankName(Rank rank) {
  const auto index = static_cast<size_t>(rank);
  return index < std::size(kRankNames) ? kRankNames[index] : "unknown";
}

std::optional<Rank> ParseRank(absl::string_view name) {
  for (size_t i = 0; i < std::size(kRankNames); ++i) {
    if (kRankNames[i] == name) return static_cast<Rank>(i);
  }
  return std::nullopt;
}

Rank DefaultRank(Role role) { return role == Role::kSupervisor ? Rank::kSergeant : Rank::kOfficer; }

std::string RoleSet::ToString() const {
  std::vector<absl::string_view> names;
  for (size_t i = 0; i < std::size(kRoleNames); ++i) {
    if (contains(static_cast<Role>(i))) names.push_back(kRoleNames[i]);
  }
  return names.empty() ? "nobody" : absl::StrJoin(names, ", ");
}

namespace {

bool Printable(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateActor(absl::string_view actor, absl::string_view source) {
  if (actor.empty() || actor.size() > 128) {
    return Unauthenticated(absl::StrCat(source, ": must be 1-128 characters"));
  }
  if (!Printable(actor)) return Unauthenticated(absl::StrCat(source, ": must be printable ASCII"));
  return absl::OkStatus();
}

absl::Status ValidateForce(absl::string_view force, absl::string_view source) {
  if (force.empty() || force.size() > 64) {
    return Unauthenticated(absl::StrCat(source, ": must be 1-64 characters"));
  }
  for (char c : force) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return Unauthenticated(absl::StrCat(source, ": may only hold a-z, 0-9, '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTeam(absl::string_view team, absl::string_view source) {
  if (team.size() > 64 || !Printable(team)) {
    return Unauthenticated(absl::StrCat(source, ": must be at most 64 printable characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Principal> PrincipalFromClaims(const IdentityClaims& claims,
                                              const ClaimSources& sources, bool allow_service) {
  if (!claims.actor.has_value()) return Unauthenticated(absl::StrCat("missing ", sources.actor));
  if (!claims.role.has_value()) return Unauthenticated(absl::StrCat("missing ", sources.role));
  if (!claims.force.has_value()) return Unauthenticated(absl::StrCat("missing ", sources.force));
  VIGIL_RETURN_IF_ERROR(ValidateActor(*claims.actor, sources.actor));
  const std::optional<Role> role = ParseRole(*claims.role);
  if (!role.has_value()) {
    return Unauthenticated(absl::StrCat(sources.role, ": '", claims.role->substr(0, 64),
                                        "' is not a role (", absl::StrJoin(kRoleNames, ", "), ")"));
  }
  if (*role == Role::kService && !allow_service) {
    return Unauthenticated(
        absl::StrCat(sources.role,
                     ": 'service' belongs to vigild's own processes and is granted only by "
                     "their service certificate"));
  }
  VIGIL_RETURN_IF_ERROR(ValidateForce(*claims.force, sources.force));
  if (*claims.force == kAllForces && *role != Role::kService) {
    return Unauthenticated(absl::StrCat(sources.force, ": '", kAllForces,
                                        "' is reserved to vigild's own services; name your force"));
  }
  Principal principal{*claims.actor, *role, *claims.force, "", DefaultRank(*role)};
  if (claims.team.has_value()) {
    VIGIL_RETURN_IF_ERROR(ValidateTeam(*claims.team, sources.team));
    principal.team = *claims.team;
  }
  if (claims.rank.has_value() && !claims.rank->empty()) {
    const std::optional<Rank> rank = ParseRank(*claims.rank);
    if (!rank.has_value()) {
      return Unauthenticated(absl::StrCat(sources.rank, ": '", claims.rank->substr(0, 64),
                                          "' is not a rank (", absl::StrJoin(kRankNames, ", "),
                                          ")"));
    }
    principal.rank = *rank;
  }
  return principal;
}

absl::StatusOr<Principal> ParseDevIdentity(std::optional<absl::string_view> actor,
                                           std::optional<absl::string_view> role,
                                           std::optional<absl::string_view> force,
                                           std::optional<absl::string_view> team,
                                           std::optional<absl::string_view> rank) {
  auto text = [](std::optional<absl::string_view> v) -> std::optional<std::string> {
    if (!v.has_value()) return std::nullopt;
    return std::string(*v);
  };
  IdentityClaims claims{text(actor), text(role), text(force), text(team), text(rank)};
  ClaimSources sources;
  sources.actor = "x-vigil-actor metadata";
  sources.role = "x-vigil-role metadata";
  sources.force = "x-vigil-force metadata";
  sources.team = "x-vigil-team metadata";
  sources.rank = "x-vigil-rank metadata";
  return PrincipalFromClaims(claims, sources, /*allow_service=*/true);
}

std::optional<absl::string_view> MetadataValue(const grpc::ServerContextBase& context,
                                               absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<Principal> DevHeaderAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  return ParseDevIdentity(
      MetadataValue(context, "x-vigil-actor"), MetadataValue(context, "x-vigil-role"),
      MetadataValue(context, "x-vigil-force"), MetadataValue(context, "x-vigil-team"),
      MetadataValue(context, "x-vigil-rank"));
}

std::string DevHeaderAuthenticator::ClaimedSubject(const grpc::ServerContextBase& context) const {
  std::optional<absl::string_view> actor = MetadataValue(context, "x-vigil-actor");
  if (!actor.has_value() || !ValidateActor(*actor).ok()) return {};
  return std::string(*actor);
}

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  absl::string_view host = address;
  absl::ConsumePrefix(&host, "ipv4:");
  absl::ConsumePrefix(&host, "ipv6:");
  if (absl::StartsWith(host, "[")) {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) != 0;
  }
  return false;
}

}  // namespace vigil
