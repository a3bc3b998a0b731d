#include "services/rso/keys.h"

#include "absl/strings/str_cat.h"
#include "storage/key_codec.h"

namespace vigil::rso {
namespace {

std::string Time(absl::Time t) {
  std::string out;
  storage::PutOrderedInt64(&out, storage::ToMicros(t));
  return out;
}

}  // namespace

std::string OffenderKey(absl::string_view force, absl::string_view id) {
  return absl::StrCat("rso/o/", storage::LengthPrefixed(force), id);
}

std::string ArmsPrefix(absl::string_view force, absl::string_view offender) {
  return absl::StrCat("rso/a/", storage::LengthPrefixed(force), storage::LengthPrefixed(offender));
}

std::string ArmsKey(absl::string_view force, absl::string_view offender, absl::Time completed,
                    absl::string_view id) {
  return absl::StrCat(ArmsPrefix(force, offender), Time(completed), id);
}

std::string RmpHistoryPrefix(absl::string_view force, absl::string_view offender) {
  return absl::StrCat("rso/p/", storage::LengthPrefixed(force), storage::LengthPrefixed(offender));
}

std::string RmpHistoryKey(absl::string_view force, absl::string_view offender, absl::Time reviewed,
                          absl::string_view id) {
  return absl::StrCat(RmpHistoryPrefix(force, offender), Time(reviewed), id);
}

std::string CurrentRmpKey(absl::string_view force, absl::string_view offender) {
  return absl::StrCat("rso/pc/", storage::LengthPrefixed(force), storage::LengthPrefixed(offender));
}

std::string VisorKey(absl::string_view force, absl::string_view visor_ref) {
  return absl::StrCat("rso/v/", storage::LengthPrefixed(force), storage::LengthPrefixed(visor_ref));
}

std::string VisitPrefix(absl::string_view force, absl::string_view offender) {
  return absl::StrCat("rso/vi/", storage::LengthPrefixed(force), storage::LengthPrefixed(offender));
}

std::string VisitKey(absl::string_view force, absl::string_view offender, absl::Time time,
                     absl::string_view id) {
  std::string key = VisitPrefix(force, offender);
  storage::PutFixed64BE(&key,
                        ~(static_cast<uint64_t>(storage::ToMicros(time)) ^ (uint64_t{1} << 63)));
  key.append(id.data(), id.size());
  return key;
}

std::string FindingPrefix(absl::string_view force) {
  return absl::StrCat("rso/fi/", storage::LengthPrefixed(force));
}

std::string KeyTime(absl::Time time) { return Time(time); }

std::string FindingKey(absl::string_view force, absl::Time found, absl::string_view id) {
  return absl::StrCat(FindingPrefix(force), Time(found), id);
}

std::string StandingFindingPrefix(absl::string_view force) {
  return absl::StrCat("rso/fs/", storage::LengthPrefixed(force));
}

std::string StandingFindingKey(absl::string_view force, absl::string_view team) {
  return absl::StrCat(StandingFindingPrefix(force), storage::LengthPrefixed(team));
}

std::string FindingByTeamPrefix(absl::string_view force, absl::string_view team) {
  return absl::StrCat("rso/ft/", storage::LengthPrefixed(force), storage::LengthPrefixed(team));
}

std::string FindingByTeamKey(absl::string_view force, absl::string_view team, absl::Time found,
                             absl::string_view id) {
  return absl::StrCat(FindingByTeamPrefix(force, team), Time(found), id);
}

std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id) {
  return absl::StrCat("req/rso/", storage::LengthPrefixed(force),
                      storage::LengthPrefixed(request_id));
}

std::string ByForcePrefix(absl::string_view force) {
  return absl::StrCat("rso/f/", storage::LengthPrefixed(force));
}

std::string AllTeamsPrefix(absl::string_view force) {
  return absl::StrCat("rso/t/", storage::LengthPrefixed(force));
}

std::string ByTeamPrefix(absl::string_view force, absl::string_view team) {
  return absl::StrCat(AllTeamsPrefix(force), storage::LengthPrefixed(team));
}

std::string ByOwnerPrefix(absl::string_view force, absl::string_view officer) {
  return absl::StrCat("rso/w/", storage::LengthPrefixed(force), storage::LengthPrefixed(officer));
}

std::string ByStatusPrefix(absl::string_view force, v1::OffenderStatus status) {
  std::string key = absl::StrCat("rso/s/", storage::LengthPrefixed(force));
  key.push_back(static_cast<char>(status));
  return key;
}

std::string NotAssessedPrefix(absl::string_view force) {
  return absl::StrCat("rso/n/", storage::LengthPrefixed(force));
}

std::vector<std::string> IndexKeys(const v1::Offender& o) {
  std::vector<std::string> keys = {
      ByForcePrefix(o.force()) + o.id(),
      ByTeamPrefix(o.force(), o.team()) + o.id(),
      ByOwnerPrefix(o.force(), o.owner_officer()) + o.id(),
      ByStatusPrefix(o.force(), o.status()) + o.id(),
  };
  if (o.risk_level() == v1::RISK_LEVEL_UNSPECIFIED)
    keys.push_back(NotAssessedPrefix(o.force()) + o.id());
  return keys;
}

}  // namespace vigil::rso
