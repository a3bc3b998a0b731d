#include "services/common/auth.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace {

constexpr absl::string_view kRoleNames[] = {"officer", "supervisor", "force-admin",
                                            "auditor", "system",     "service"};

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

std::string RoleSet::ToString() const {
  std::vector<absl::string_view> names;
  for (size_t i = 0; i < std::size(kRoleNames); ++i) {
    if (contains(static_cast<Role>(i))) names.push_back(kRoleNames[i]);
  }
  return names.empty() ? "nobody" : absl::StrJoin(names, ", ");
}

absl::Status ValidateActor(absl::string_view actor) {
  if (actor.empty() || actor.size() > 128) {
    return Unauthenticated("x-vigil-actor: must be 1-128 characters");
  }
  for (char c : actor) {
    if (c < 0x20 || c > 0x7e) {
      return Unauthenticated("x-vigil-actor: must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateForce(absl::string_view force) {
  if (force.empty() || force.size() > 64) {
    return Unauthenticated("x-vigil-force: must be 1-64 characters");
  }
  for (char c : force) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return Unauthenticated("x-vigil-force: may only hold a-z, 0-9, '_' and '-'");
  }
  return absl::OkStatus();
}

absl::StatusOr<Principal> ParseDevIdentity(std::optional<absl::string_view> actor,
                                           std::optional<absl::string_view> role,
                                           std::optional<absl::string_view> force) {
  if (!actor.has_value()) return Unauthenticated("missing x-vigil-actor metadata");
  if (!role.has_value()) return Unauthenticated("missing x-vigil-role metadata");
  if (!force.has_value()) return Unauthenticated("missing x-vigil-force metadata");
  if (absl::Status s = ValidateActor(*actor); !s.ok()) return s;
  const std::optional<Role> parsed = ParseRole(*role);
  if (!parsed.has_value()) {
    return Unauthenticated(absl::StrCat("x-vigil-role: '", role->substr(0, 64), "' is not a role (",
                                        absl::StrJoin(kRoleNames, ", "), ")"));
  }
  if (absl::Status s = ValidateForce(*force); !s.ok()) return s;
  return Principal{std::string(*actor), *parsed, std::string(*force)};
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
  return ParseDevIdentity(MetadataValue(context, "x-vigil-actor"),
                          MetadataValue(context, "x-vigil-role"),
                          MetadataValue(context, "x-vigil-force"));
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
