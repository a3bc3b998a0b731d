#include "services/national/shards.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::national {

absl::StatusOr<std::vector<ShardAddress>> ParseShards(absl::string_view flag) {
  std::vector<ShardAddress> shards;
  for (absl::string_view entry : absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == entry.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--shards: '", entry, "' is not FORCE=ADDRESS (e.g. wessex=vigild-wessex:7420)"));
    }
    ShardAddress shard{std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1))};
    if (absl::Status s = ValidateForce(shard.force, "--shards"); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shards: force '", shard.force, "': ", s.message()));
    }
    for (const ShardAddress& other : shards) {
      if (other.force == shard.force) {
        return absl::InvalidArgumentError(
            absl::StrCat("--shards: force '", shard.force, "' is given twice"));
      }
    }
    shards.push_back(std::move(shard));
  }
  if (shards.empty()) {
    return absl::InvalidArgumentError(
        "--shards: name at least one FORCE=ADDRESS (e.g. wessex=vigild-wessex:7420)");
  }
  std::sort(shards.begin(), shards.end(),
            [](const ShardAddress& a, const ShardAddress& b) { return a.force < b.force; });
  return shards;
}

Principal DelegateTo(const Principal& caller, absl::string_view force) {
  std::string actor =
      absl::StrCat(caller.actor, " (", RoleName(caller.role), ", national backlog)");
  if (actor.size() > 128) actor.resize(128);
  return Principal(std::move(actor), Role::kSystem, std::string(force));
}

ShardSet::ShardSet(std::vector<Shard> shards, absl::Duration deadline) : deadline_(deadline) {
  std::sort(shards.begin(), shards.end(),
            [](const Shard& a, const Shard& b) { return a.force < b.force; });
  for (Shard& shard : shards) {
    shards_.push_back(
        Entry{std::move(shard.force), v1::BacklogService::NewStub(shard.channel), shard.hop});
  }
}

std::vector<std::string> ShardSet::forces() const {
  std::vector<std::string> names;
  for (const Entry& shard : shards_) names.push_back(shard.force);
  return names;
}

absl::Status ShardSet::FromShard(absl::string_view force, const grpc::Status& status) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(absl::StrCat(
          force, ": no answer within the shard deadline of ", absl::FormatDuration(deadline_)));
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(
          absl::StrCat(force, ": unreachable (", status.error_message(), ")"));
    default:
      return absl::Status(code, absl::StrCat(force, ": ", status.error_message()));
  }
}

}  // namespace vigil::national
