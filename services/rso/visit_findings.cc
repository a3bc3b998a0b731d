// The compliance findings of home visits over a team: flat diarising (visits.h), the
// findings listing, and the team check that raises them.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/btree_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/obligations/ledger.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"
#include "services/rso/visits.h"

namespace vigil::rso {
namespace {

using storage::Family;

// A team's running visit clocks: how many at each interval, by risk level.
struct VisitTiers {
  absl::btree_map<int, absl::btree_map<int, int>> by_interval;  // interval -> risk -> count
  int scheduled = 0;

  void Add(const v1::Offender& record) {
    for (const v1::Obligation& o : record.obligations()) {
      if (o.kind() != v1::OBLIGATION_KIND_HOME_VISIT) continue;
      ++by_interval[record.visit_interval_days()][record.risk_level()];
      ++scheduled;
    }
  }
};

// The visit tiers of `team` of `force`, or of every team with offenders when `team` is empty:
// then in one pass over the force's records (a point read each, through the team index, would
// cost a restart at national size seconds of CPU in the daily check).
absl::StatusOr<std::map<std::string, VisitTiers>> TeamTiers(const OffenderStore& offenders,
                                                            const storage::ReadView& view,
                                                            absl::string_view force,
                                                            absl::string_view team) {
  std::map<std::string, VisitTiers> tiers;
  if (team.empty()) {
    VIGIL_RETURN_IF_ERROR(offenders.ForEach(view, force, [&](const v1::Offender& record) {
      tiers[record.team()].Add(record);
      return true;
    }));
    return tiers;
  }
  VisitTiers& of_team = tiers[std::string(team)];
  const std::string prefix = ByTeamPrefix(force, team);
  absl::Status read_status;
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
        absl::StatusOr<std::optional<v1::Offender>> record =
            offenders.Load(view, force, key.substr(prefix.size()));
        if (!record.ok()) {
          read_status = record.status();
          return false;
        }
        if (record->has_value()) of_team.Add(**record);
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(read_status);
  return tiers;
}

// The flat-diarising finding of `team`, if its intervals do not vary by risk.
std::optional<v1::ComplianceFinding> FlatDiarising(const v1::Policy& policy, absl::string_view team,
                                                   const VisitTiers& tiers, absl::Time now) {
  if (tiers.scheduled < policy.flat_diarising_min_offenders()) return std::nullopt;
  for (const auto& [interval, risks] : tiers.by_interval) {
    int count = 0;
    for (const auto& [risk, n] : risks) count += n;
    if (risks.size() < 2 || 100 * count < policy.flat_diarising_share_percent() * tiers.scheduled)
      continue;
    std::vector<std::string> tiers_named;
    for (const auto& [risk, n] : risks) {
      tiers_named.push_back(
          absl::StrCat(policy::RiskName(static_cast<v1::RiskLevel>(risk)), " ", n));
    }
    v1::ComplianceFinding finding;
    finding.set_id(absl::StrCat("flat-diarising/", team));
    finding.set_rule(v1::COMPLIANCE_RULE_FLAT_DIARISING);
    finding.set_team(std::string(team));
    *finding.mutable_found_time() = ToProtoTime(now);
    const v1::RiskDays& days = policy.visit_interval_days();
    finding.set_evidence(absl::StrCat(
        count, " of the team's ", tiers.scheduled, " scheduled visits are ", interval,
        " days after the last visit whatever the risk (", absl::StrJoin(tiers_named, ", "),
        "); policy ", policy.version(), " sets low ", days.low(), ", medium ", days.medium(),
        ", high ", days.high(), ", very high ", days.very_high(), " days"));
    return finding;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<v1::ListComplianceFindingsResponse> Visits::ListFindings(
    const CallContext& call, const v1::ListComplianceFindingsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  VIGIL_ASSIGN_OR_RETURN(std::optional<absl::Time> since,
                         OptionalProtoTime(request.has_since(), request.since(), "since"));
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const std::string& force = call.principal.force;
  const std::string query = absl::StrCat("findings|", force, "|", request.team(), "|",
                                         since ? FormatUtcTime(*since) : "");
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));
  const storage::ReadView view = offenders_.store().Snapshot();
  const bool by_team = !request.team().empty();
  const std::string prefix =
      by_team ? FindingByTeamPrefix(force, request.team()) : FindingPrefix(force);
  std::string start = cursor.empty() ? absl::StrCat(prefix, since ? KeyTime(*since) : "")
                                     : absl::StrCat(prefix, cursor, std::string(1, '\0'));
  v1::ListComplianceFindingsResponse response;
  std::string last;
  bool more = false;
  absl::Status read_status;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      by_team ? Family::kIndex : Family::kEntities, prefix, start,
      [&](absl::string_view key, absl::string_view value) {
        if (response.findings_size() == page_size) {
          more = true;
          return false;
        }
        const absl::string_view suffix = key.substr(prefix.size());
        std::string raw(value);
        if (by_team) {
          // The team index points at the finding: same time and id under the force prefix.
          absl::StatusOr<std::optional<std::string>> found =
              view.Get(Family::kEntities, absl::StrCat(FindingPrefix(force), suffix));
          if (!found.ok() || !found->has_value()) {
            read_status = found.ok() ? absl::DataLossError("a finding index entry has no finding")
                                     : found.status();
            return false;
          }
          raw = **found;
        }
        if (!response.add_findings()->ParseFromString(raw)) {
          read_status = absl::DataLossError("a finding is unreadable");
          return false;
        }
        last = std::string(suffix);
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(read_status);
  if (more) {
    response.set_next_page_token(EncodePageToken(query, last));
  }
  if (cursor.empty()) {
    // Team findings are computed now, for the team asked about or every team of the force.
    VIGIL_ASSIGN_OR_RETURN(const auto tiers, TeamTiers(offenders_, view, force, request.team()));
    const std::shared_ptr<const v1::Policy> policy = offenders_.policy(force);
    for (const auto& [team, of_team] : tiers) {
      std::optional<v1::ComplianceFinding> flat = FlatDiarising(*policy, team, of_team, call.now);
      if (flat.has_value()) *response.add_findings() = *std::move(flat);
    }
  }
  std::vector<std::string> subjects;
  for (const v1::ComplianceFinding& f : response.findings()) {
    if (!f.offender_id().empty()) subjects.push_back(f.offender_id());
  }
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, std::move(subjects)));
  return response;
}

absl::StatusOr<v1::CheckTeamFindingsResponse> Visits::CheckTeamFindings(
    const CallContext& call, const v1::CheckTeamFindingsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  const std::string& force = call.principal.force;
  absl::MutexLock lock(&check_mu_);
  const storage::ReadView view = offenders_.store().Snapshot();
  // The teams with offenders, and those with a standing finding (which may have none left).
  VIGIL_ASSIGN_OR_RETURN(const auto tiers, TeamTiers(offenders_, view, force, request.team()));
  std::set<std::string> teams;
  for (const auto& [team, of_team] : tiers) teams.insert(team);
  if (request.team().empty()) {
    const std::string standing_prefix = StandingFindingPrefix(force);
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        Family::kEntities, standing_prefix, {}, [&](absl::string_view key, absl::string_view) {
          absl::string_view rest = key.substr(standing_prefix.size());
          absl::string_view team;
          if (storage::GetLengthPrefixed(&rest, &team)) teams.emplace(team);
          return true;
        }));
  }
  v1::CheckTeamFindingsResponse response;
  storage::Change change;
  v1::ObligationEventBatch notices;
  notices.set_cause(call.method);
  std::vector<std::string> subjects;
  const std::string day = absl::FormatCivilTime(policy::LocalDay(call.now, offenders_.zone()));
  const std::shared_ptr<const v1::Policy> policy = offenders_.policy(force);
  for (const std::string& team : teams) {
    auto of_team = tiers.find(team);
    std::optional<v1::ComplianceFinding> holds = FlatDiarising(
        *policy, team, of_team == tiers.end() ? VisitTiers() : of_team->second, call.now);
    const std::string key = StandingFindingKey(force, team);
    VIGIL_ASSIGN_OR_RETURN(std::optional<std::string> standing, view.Get(Family::kEntities, key));
    if (holds.has_value()) {
      if (!standing.has_value()) {
        // Found today: its id names the day, so a finding that stands down and returns alerts
        // again.
        holds->set_id(absl::StrCat("flat-diarising/", team, "/", day));
        change.Put(Family::kEntities, key, holds->SerializeAsString());
        v1::ObligationNotice& notice = *notices.add_notices();
        notice.set_id(holds->id());
        notice.set_kind(v1::NOTICE_KIND_TEAM_FINDING);
        notice.mutable_obligation()->set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
        notice.mutable_obligation()->set_team(team);
        notice.mutable_obligation()->set_force(force);
        notice.set_summary(
            absl::StrCat("team ", team, " diarises its visits flat: ", holds->evidence()));
        *notice.mutable_time() = ToProtoTime(call.now);
        response.add_alerted_teams(team);
        subjects.push_back(holds->id());
      }
      *response.add_findings() = *std::move(holds);
    } else if (standing.has_value()) {
      v1::ComplianceFinding stood_down;
      if (!stood_down.ParseFromString(*standing)) {
        return absl::DataLossError(
            absl::StrCat("the standing finding of team ", team, " is unreadable"));
      }
      change.Delete(Family::kEntities, key);
      response.add_stood_down_teams(team);
      subjects.push_back(stood_down.id());
    }
  }
  if (notices.notices_size() > 0) change.AddEvent("rso", notices.SerializeAsString());
  // The check read the teams' records to count their visit intervals: audited, with what it
  // raised or stood down, in the commit that changes them.
  change.SetAudit(
      call.Audit(subjects.empty() ? v1::AUDIT_ACTION_CONSULTATION : v1::AUDIT_ACTION_ALTERATION,
                 std::move(subjects)));
  VIGIL_RETURN_IF_ERROR(offenders_.store().Commit(change).status());
  return response;
}

}  // namespace vigil::rso
