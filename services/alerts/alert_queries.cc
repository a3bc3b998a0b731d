#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_txn.h"
#include "services/alerts/keys.h"
#include "services/alerts/ladder.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/obligations/overdue_index.h"

namespace vigil::alerts {
namespace {

using storage::Family;

// Index entries one ListAlerts page may examine before it returns what it has found.
constexpr int kMaxListScan = 10000;
// RiskRank's last rank: not assessed / not graded.
constexpr int kMaxRiskRank = 4;

}  // namespace

absl::StatusOr<v1::ListAlertsResponse> AlertEngine::List(const CallContext& call,
                                                         const v1::ListAlertsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateFilter(request.filters(), "filters"));
  if (!v1::AlertOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  v1::AlertFilter filter = request.filters();
  if (call.principal.role == Role::kOfficer) {
    if (!filter.officer().empty() && filter.officer() != call.principal.actor) {
      return absl::PermissionDeniedError(
          absl::StrCat("an officer may see only their own alerts: set filters.officer to '",
                       call.principal.actor, "' or leave it empty"));
    }
    filter.set_officer(call.principal.actor);
  }
  const bool by_risk = request.order() == v1::ALERT_ORDER_RISK;
  const std::string& force = call.principal.force;
  const std::string query =
      absl::StrCat("alerts|", force, "|", filter.SerializeAsString(), by_risk ? "|risk" : "");
  VIGIL_ASSIGN_OR_RETURN(const std::string start,
                         DecodePageToken(request.page().page_token(), query));
  // token := [rank:u8, RISK only] listing key after the prefix (empty: the rank's start)
  int rank = 0;
  std::string after = start;
  if (by_risk && !start.empty()) {
    rank = static_cast<unsigned char>(start[0]);
    after = start.substr(1);
    if (rank > kMaxRiskRank) return FieldError("page_token", "is not a token this server issued");
  }
  const std::string prefix = ListPrefix(force, filter.state() == v1::ALERT_STATE_RESOLVED);
  const storage::ReadView view = store_.Snapshot();
  v1::ListAlertsResponse response;
  std::vector<std::string> subjects;
  int examined = 0;
  absl::Status read;
  // One pass over the listing index for oldest raised first; one per risk rank for RISK.
  for (; rank <= (by_risk ? kMaxRiskRank : 0) && response.next_page_token().empty(); ++rank) {
    std::string last;
    VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
        Family::kIndex, prefix,
        after.empty() ? "" : absl::StrCat(prefix, after, std::string(1, '\0')),
        [&](absl::string_view key, absl::string_view value) {
          if (response.alerts_size() == page_size || examined == kMaxListScan) {
            response.set_next_page_token(EncodePageToken(
                query,
                by_risk ? absl::StrCat(std::string(1, static_cast<char>(rank)), last) : last));
            return false;
          }
          ++examined;
          last = std::string(key.substr(prefix.size()));
          if (last.size() <= 8) return true;
          // The entry's risk rank, when it carries one, spares reading alerts of other ranks.
          if (by_risk && value.size() == 1 && value[0] - '0' != rank) return true;
          absl::StatusOr<std::optional<v1::Alert>> alert =
              Read<v1::Alert>(view, Family::kEntities, AlertKey(force, last.substr(8)));
          if (!alert.ok()) {
            read = alert.status();
            return false;
          }
          if (alert->has_value() && Matches(filter, **alert) &&
              (!by_risk || RiskRank((*alert)->obligation().risk_level()) == rank)) {
            subjects.push_back((*alert)->id());
            subjects.push_back((*alert)->obligation().subject_id());
            *response.add_alerts() = **std::move(alert);
          }
          return true;
        }));
    VIGIL_RETURN_IF_ERROR(read);
    // The next rank's pass starts at the front; should the page be full already, its first key
    // ends the page with a token for the start of that rank.
    after.clear();
  }
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subjects)));
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return response;
}

absl::StatusOr<v1::AlertDigest> AlertEngine::Digest(absl::string_view force,
                                                    const v1::AlertFilter& filter) {
  const storage::ReadView view = store_.Snapshot();
  v1::AlertDigest digest;
  *digest.mutable_as_of() = ToProtoTime(clock_.Now());
  std::vector<int64_t> by_level(5), by_risk(5);
  std::vector<v1::Alert> open;
  const std::string prefix = ListPrefix(force, false);
  absl::Status read;
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
        absl::string_view rest = key.substr(prefix.size());
        if (rest.size() <= 8) return true;
        absl::StatusOr<std::optional<v1::Alert>> alert =
            Read<v1::Alert>(view, Family::kEntities, AlertKey(force, rest.substr(8)));
        if (!alert.ok()) {
          read = alert.status();
          return false;
        }
        if (!alert->has_value() || !Matches(filter, **alert)) return true;
        const v1::Alert& a = **alert;
        if (a.state() == v1::ALERT_STATE_ACKNOWLEDGED) {
          digest.set_acknowledged(digest.acknowledged() + 1);
          return true;
        }
        digest.set_open(digest.open() + 1);
        ++by_level[std::clamp<int>(a.escalation_level(), 0, 4)];
        ++by_risk[std::clamp<int>(a.obligation().risk_level(), 0, 4)];
        open.push_back(a);
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(read);
  for (int64_t n : by_level) digest.add_open_by_level(n);
  for (int64_t n : by_risk) digest.add_open_by_risk(n);
  const auto first = [](const v1::Alert& a, const v1::Alert& b) {
    if (a.escalation_level() != b.escalation_level())
      return a.escalation_level() > b.escalation_level();
    if (a.obligation().risk_level() != b.obligation().risk_level()) {
      return a.obligation().risk_level() > b.obligation().risk_level();
    }
    return TimeOf(a.trigger_time()) < TimeOf(b.trigger_time());
  };
  const size_t top = std::min<size_t>(open.size(), 10);
  std::partial_sort(open.begin(), open.begin() + top, open.end(), first);
  for (size_t i = 0; i < top; ++i) *digest.add_top() = std::move(open[i]);
  return digest;
}

}  // namespace vigil::alerts
