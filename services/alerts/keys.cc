#include "services/alerts/keys.h"

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "services/obligations/overdue_index.h"

namespace vigil::alerts {
namespace {

using storage::LengthPrefixed;

bool Resolved(const v1::Alert& alert) { return alert.state() == v1::ALERT_STATE_RESOLVED; }

}  // namespace

std::string AlertKey(absl::string_view force, absl::string_view id) {
  return absl::StrCat("alert/a/", LengthPrefixed(force), id);
}

std::string ObligationKey(absl::string_view context, absl::string_view force,
                          absl::string_view obligation_id) {
  return absl::StrCat("alert/o/", LengthPrefixed(context), LengthPrefixed(force),
                      LengthPrefixed(obligation_id));
}

std::string CursorKey(absl::string_view context) { return absl::StrCat("alert/c/", context); }

std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id) {
  return absl::StrCat("req/alert/", LengthPrefixed(force), LengthPrefixed(request_id));
}

std::string ListPrefix(absl::string_view force, bool resolved) {
  return absl::StrCat("alert/l/", LengthPrefixed(force), std::string(1, resolved ? '\1' : '\0'));
}

std::string ListKey(const v1::Alert& alert) {
  std::string key = ListPrefix(alert.force(), Resolved(alert));
  storage::PutOrderedInt64(&key, storage::ToMicros(TimeOf(alert.raised_time())));
  key.append(alert.id());
  return key;
}

std::string ListValue(const v1::Alert& alert) {
  return std::string(1, static_cast<char>('0' + RiskRank(alert.obligation().risk_level())));
}

std::vector<storage::Deadline> DeadlinesOf(const v1::Alert& alert) {
  std::vector<storage::Deadline> deadlines;
  const std::string id = absl::StrCat(LengthPrefixed(alert.force()), alert.id());
  if (alert.state() == v1::ALERT_STATE_OPEN && alert.has_next_escalation_time()) {
    deadlines.push_back(
        {storage::DeadlineSpace::kAlerts, TimeOf(alert.next_escalation_time()), kEscalateKind, id});
  }
  if (alert.state() == v1::ALERT_STATE_ACKNOWLEDGED && alert.acknowledgements_size() > 0) {
    const v1::Acknowledgement& last = *alert.acknowledgements().rbegin();
    if (last.has_expiry_time()) {
      deadlines.push_back(
          {storage::DeadlineSpace::kAlerts, TimeOf(last.expiry_time()), kLapseKind, id});
    }
    if (alert.has_next_reminder_time()) {
      deadlines.push_back(
          {storage::DeadlineSpace::kAlerts, TimeOf(alert.next_reminder_time()), kRemindKind, id});
    }
  }
  return deadlines;
}

std::vector<storage::Deadline> DeadlinesOf(const internal::AlertedObligation& followed) {
  if (!followed.overdue_alert_id().empty()) return {};
  const v1::Obligation& o = followed.obligation();
  const std::string id = absl::StrCat(LengthPrefixed(followed.context()), LengthPrefixed(o.force()),
                                      LengthPrefixed(o.id()));
  std::vector<storage::Deadline> deadlines = {
      {storage::DeadlineSpace::kAlerts, TimeOf(o.due_time()), kDueKind, id}};
  if (followed.has_due_soon_time()) {
    deadlines.push_back(
        {storage::DeadlineSpace::kAlerts, TimeOf(followed.due_soon_time()), kDueSoonKind, id});
  }
  return deadlines;
}

bool ParseObligationDeadline(absl::string_view id, std::string* context, std::string* force,
                             std::string* obligation_id) {
  absl::string_view c, f, o;
  if (!storage::GetLengthPrefixed(&id, &c) || !storage::GetLengthPrefixed(&id, &f) ||
      !storage::GetLengthPrefixed(&id, &o) || !id.empty()) {
    return false;
  }
  *context = std::string(c);
  *force = std::string(f);
  *obligation_id = std::string(o);
  return true;
}

bool ParseAlertDeadline(absl::string_view id, std::string* force, std::string* alert_id) {
  absl::string_view f;
  if (!storage::GetLengthPrefixed(&id, &f) || id.empty()) return false;
  *force = std::string(f);
  *alert_id = std::string(id);
  return true;
}

}  // namespace vigil::alerts
