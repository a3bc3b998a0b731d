#include "services/backlog/backlog.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/obligations/ledger.h"
#include "services/obligations/obligation_feed_service.h"
#include "services/obligations/overdue_index.h"
#include "services/policy/calendar.h"
#include "storage/key_codec.h"

namespace vigil::backlog {
namespace {

using storage::Family;

// An officer who names no officer asks about their own obligations (the only ones they may
// see); anyone else's scope is as asked.
template <typename Request>
Request OwnByDefault(const CallContext& call, const Request& request) {
  Request own = request;
  if (call.principal.role == Role::kOfficer && own.officer().empty()) {
    own.set_officer(call.principal.actor);
  }
  return own;
}

std::string SnapshotPrefix(absl::string_view force, absl::string_view team) {
  return absl::StrCat("backlog/snap/", storage::LengthPrefixed(force),
                      storage::LengthPrefixed(team));
}

double KindWeight(const v1::WorkloadWeights& w, int kind) {
  switch (kind) {
    case v1::OBLIGATION_KIND_ARMS_ASSESSMENT:
      return w.arms_assessment();
    case v1::OBLIGATION_KIND_RMP_REVIEW:
      return w.rmp_review();
    case v1::OBLIGATION_KIND_HOME_VISIT:
      return w.home_visit();
    case v1::OBLIGATION_KIND_NOTIFICATION:
    case v1::OBLIGATION_KIND_NOTIFICATION_REVIEW:  // weighed as a notification
      return w.notification();
    case v1::OBLIGATION_KIND_REFERRAL_ACTION:
      return w.referral_action();
    case v1::OBLIGATION_KIND_INTEL_REFRESH:
      return w.intel_refresh();
    case v1::OBLIGATION_KIND_CSC_CHECK:
      return w.csc_check();
    case v1::OBLIGATION_KIND_RMP_SIGN_OFF:
      return w.rmp_sign_off();
    default:
      return 0;
  }
}

double RiskMultiplier(const v1::WorkloadWeights& w, int risk) {
  switch (risk) {
    case v1::RISK_LEVEL_LOW:
      return w.low_multiplier();
    case v1::RISK_LEVEL_MEDIUM:
      return w.medium_multiplier();
    case v1::RISK_LEVEL_HIGH:
      return w.high_multiplier();
    case v1::RISK_LEVEL_VERY_HIGH:
      return w.very_high_multiplier();
    default:
      return w.not_assessed_multiplier();
  }
}

// Parses a date flag given as a timestamp into the local day it falls on.
absl::CivilDay DayOf(const google::protobuf::Timestamp& ts, absl::TimeZone zone) {
  return policy::LocalDay(TimeOf(ts), zone);
}

}  // namespace

absl::StatusOr<v1::BacklogSummary> Backlog::Merge(const CallContext& call,
                                                  const v1::GetBacklogSummaryRequest& request,
                                                  absl::Time as_of, bool check_as_of) {
  BacklogTally tally;
  v1::BacklogSummary summary;
  VIGIL_ASSIGN_OR_RETURN(const v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, v1::AS_OF_VIEW_UNSPECIFIED));
  summary.set_view(view);
  std::optional<absl::Time> history_begins;
  v1::SummarizeOverdueRequest ask;
  *ask.mutable_as_of() = ToProtoTime(as_of);
  ask.set_view(view);
  ask.set_team(request.team());
  ask.set_officer(request.officer());
  *ask.mutable_kinds() = request.kinds();
  VIGIL_ASSIGN_OR_RETURN(auto parts, feeds_.Summarize(call, [&](const std::string&) {
    return std::optional<v1::SummarizeOverdueRequest>(ask);
  }));
  for (const auto& [context, part] : parts) {
    tally.Add(part.rows(), part.due_soon());
    summary.set_total(summary.total() + part.total_overdue());
    summary.set_total_open(summary.total_open() + part.total_open());
    if (part.has_oldest() && (!summary.has_oldest() || TimeOf(part.oldest().due_time()) <
                                                           TimeOf(summary.oldest().due_time()))) {
      *summary.mutable_oldest() = part.oldest();
    }
    if (part.has_history_begins() &&
        (!history_begins || TimeOf(part.history_begins()) < *history_begins)) {
      history_begins = TimeOf(part.history_begins());
    }
  }
  // Nothing is known of an instant before every context's history: say so rather than answer
  // an empty backlog an inspector could take for a clear one.
  if (check_as_of && history_begins.has_value() && summary.total_open() == 0) {
    return FieldError("as_of", absl::StrCat(FormatUtcDate(as_of),
                                            " is before the earliest data: the history of "
                                            "obligations begins on ",
                                            FormatUtcDate(*history_begins)));
  }
  tally.WriteTo(*summary.mutable_rows(), *summary.mutable_due_soon());
  *summary.mutable_as_of() = ToProtoTime(as_of);
  summary.set_force(call.principal.force);
  summary.set_team(request.team());
  summary.set_officer(request.officer());
  return summary;
}

absl::StatusOr<v1::BacklogSummary> Backlog::Summary(const CallContext& call,
                                                    const v1::GetBacklogSummaryRequest& asked) {
  const v1::GetBacklogSummaryRequest request = OwnByDefault(call, asked);
  VIGIL_RETURN_IF_ERROR(ScopeOf(call, request.team(), request.officer(), request.kinds()).status());
  VIGIL_ASSIGN_OR_RETURN(const absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  // Only an as_of the caller chose can be "before the data"; now never is, even when nothing
  // in scope has fallen due yet.
  return Merge(call, request, as_of, /*check_as_of=*/request.has_as_of());
}

absl::StatusOr<v1::ListBacklogItemsResponse> Backlog::Items(
    const CallContext& call, const v1::ListBacklogItemsRequest& asked) {
  const v1::ListBacklogItemsRequest request = OwnByDefault(call, asked);
  VIGIL_ASSIGN_OR_RETURN(OverdueIndex::Scope scope,
                         ScopeOf(call, request.team(), request.officer(), request.kinds()));
  VIGIL_RETURN_IF_ERROR(AddListFilters(request.risk_levels(), request.age_bands(), scope));
  VIGIL_ASSIGN_OR_RETURN(absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  if (!v1::BacklogOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const bool by_risk = request.order() == v1::BACKLOG_ORDER_RISK_THEN_AGE;
  // An as_of left to the server is fixed by the first page and carried in the token.
  const std::string query = absl::StrCat(
      "backlog-items|", call.principal.force, "|", storage::LengthPrefixed(request.team()),
      storage::LengthPrefixed(request.officer()), "|", FiltersKey(scope), "|",
      request.has_as_of() ? absl::StrCat(storage::ToMicros(as_of)) : "now", "|", by_risk);
  VIGIL_ASSIGN_OR_RETURN(const std::string token,
                         DecodePageToken(request.page().page_token(), query));
  v1::BacklogItemsCursor state;
  if (!token.empty() && !state.ParseFromString(token)) {
    return FieldError("page_token", "is not a token this server issued");
  }
  if (!token.empty() && !request.has_as_of()) as_of = storage::FromMicros(state.as_of_micros());
  // Later pages keep the view the first chose, however much later they are asked for.
  VIGIL_ASSIGN_OR_RETURN(const v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, state.view()));

  struct Candidate {
    std::tuple<int, int64_t, std::string, std::string> key;  // rank, due, id, context
    v1::Obligation obligation;
    std::string subject_name;
  };
  std::vector<Candidate> candidates;
  std::map<std::string, bool> more;
  std::map<std::string, const v1::BacklogItemsCursor::Context*> prior;
  for (const auto& c : state.contexts()) prior[c.context()] = &c;
  VIGIL_ASSIGN_OR_RETURN(
      auto pages,
      feeds_.List(call, [&](const std::string& context) -> std::optional<v1::ListOverdueRequest> {
        auto p = prior.find(context);
        if (p != prior.end() && p->second->exhausted()) return std::nullopt;
        v1::ListOverdueRequest ask;
        *ask.mutable_as_of() = ToProtoTime(as_of);
        ask.set_team(request.team());
        ask.set_officer(request.officer());
        *ask.mutable_kinds() = request.kinds();
        *ask.mutable_risk_levels() = request.risk_levels();
        *ask.mutable_age_bands() = request.age_bands();
        ask.set_order(by_risk ? v1::BACKLOG_ORDER_RISK_THEN_AGE : v1::BACKLOG_ORDER_OLDEST_FIRST);
        ask.set_view(view);
        ask.mutable_page()->set_page_size(page_size);
        if (p != prior.end() && p->second->has_after()) *ask.mutable_after() = p->second->after();
        return ask;
      }));
  for (auto& [context, page] : pages) {
    more[context] = !page.next_page_token().empty();
    for (v1::Obligation& o : *page.mutable_obligations()) {
      const int rank = by_risk ? RiskRank(o.risk_level()) : 0;
      auto name = page.subject_names().find(o.subject_id());
      std::string subject_name = name == page.subject_names().end() ? "" : name->second;
      candidates.push_back(
          Candidate{{rank, storage::ToMicros(TimeOf(o.due_time())), o.id(), context},
                    std::move(o),
                    std::move(subject_name)});
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.key < b.key; });

  v1::ListBacklogItemsResponse response;
  response.set_view(view);
  std::map<std::string, const Candidate*> last_taken;
  size_t taken = 0;
  for (; taken < candidates.size() && response.items_size() < page_size; ++taken) {
    const Candidate& c = candidates[taken];
    v1::BacklogItem* item = response.add_items();
    *item->mutable_obligation() = c.obligation;
    const absl::Duration overdue = as_of - TimeOf(c.obligation.due_time());
    item->set_days_overdue(DaysOverdue(overdue));
    item->set_age_band(AgeBandOf(overdue));
    item->set_subject_display_name(c.subject_name);
    last_taken[std::get<3>(c.key)] = &c;
  }
  // The next page continues each context after the last item taken from it.
  v1::BacklogItemsCursor next;
  next.set_as_of_micros(storage::ToMicros(as_of));
  next.set_view(view);
  bool any_left = false;
  for (const std::string& context : feeds_.contexts()) {
    v1::BacklogItemsCursor::Context* c = next.add_contexts();
    c->set_context(context);
    auto p = prior.find(context);
    if (p != prior.end() && p->second->exhausted()) {
      c->set_exhausted(true);
      continue;
    }
    if (p != prior.end() && p->second->has_after()) *c->mutable_after() = p->second->after();
    if (auto t = last_taken.find(context); t != last_taken.end()) {
      c->mutable_after()->set_risk_rank(std::get<0>(t->second->key));
      *c->mutable_after()->mutable_due_time() = t->second->obligation.due_time();
      c->mutable_after()->set_obligation_id(t->second->obligation.id());
    }
    bool untaken = false;
    for (size_t i = taken; i < candidates.size(); ++i)
      untaken = untaken || std::get<3>(candidates[i].key) == context;
    c->set_exhausted(!untaken && !more[context]);
    any_left = any_left || !c->exhausted();
  }
  if (any_left) response.set_next_page_token(EncodePageToken(query, next.SerializeAsString()));
  return response;
}

absl::StatusOr<v1::ListMyWorkResponse> Backlog::MyWork(const CallContext& call,
                                                       const v1::ListMyWorkRequest& request) {
  constexpr int kDefaultHorizonDays = 7;
  constexpr int kMaxHorizonDays = 28;
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  VIGIL_RETURN_IF_ERROR(ValidateText("officer", request.officer(), 128, false));
  if (request.horizon_days() < 0 || request.horizon_days() > kMaxHorizonDays) {
    return FieldError("horizon_days",
                      absl::StrCat("must be 0 (today only) to ", kMaxHorizonDays,
                                   " local days after today; unset: ", kDefaultHorizonDays));
  }
  const int horizon_days =
      request.has_horizon_days() ? request.horizon_days() : kDefaultHorizonDays;
  // Whose work: an officer's own; a supervisor's team unless they name a team or an officer.
  std::string officer = request.officer();
  std::string team = request.team();
  if (call.principal.role == Role::kOfficer) {
    if (!officer.empty() && officer != call.principal.actor) {
      return absl::PermissionDeniedError(
          absl::StrCat("an officer's work list is their own: leave officer empty or set it to '",
                       call.principal.actor, "'"));
    }
    officer = call.principal.actor;
  } else if (officer.empty() && team.empty()) {
    if (call.principal.team.empty()) {
      return FieldError("team",
                        "is required: your credential names no team; set team, or "
                        "officer for one officer's work");
    }
    team = call.principal.team;
  }
  VIGIL_ASSIGN_OR_RETURN(absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  std::string kinds;
  for (int k : request.kinds()) absl::StrAppend(&kinds, k, ",");
  const std::string query =
      absl::StrCat("my-work|", call.principal.force, "|", storage::LengthPrefixed(team),
                   storage::LengthPrefixed(officer), "|", kinds, "|", horizon_days, "|",
                   request.has_as_of() ? absl::StrCat(storage::ToMicros(as_of)) : "now");
  VIGIL_ASSIGN_OR_RETURN(const std::string token,
                         DecodePageToken(request.page().page_token(), query));
  v1::WorkListCursor cursor;
  if (!token.empty()) {
    if (!cursor.ParseFromString(token)) {
      return FieldError("page_token", "is not a token this server issued");
    }
    if (!request.has_as_of()) as_of = storage::FromMicros(cursor.as_of_micros());
  }
  // A duty due on a local day falls due at the first instant of the next (policy/calendar.h):
  // the list reaches every duty due on or before the horizon's last day.
  const absl::CivilDay today = policy::LocalDay(as_of, zone_);
  const absl::Time horizon_end = policy::EndOfLocalDay(today + horizon_days, zone_);

  v1::ListBacklogItemsRequest ask;
  *ask.mutable_as_of() = ToProtoTime(horizon_end + absl::Microseconds(1));
  ask.set_team(team);
  ask.set_officer(officer);
  *ask.mutable_kinds() = request.kinds();
  ask.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  ask.mutable_page()->set_page_size(request.page().page_size());
  ask.mutable_page()->set_page_token(cursor.items_page_token());
  VIGIL_ASSIGN_OR_RETURN(v1::ListBacklogItemsResponse page, Items(call, ask));

  v1::ListMyWorkResponse response;
  *response.mutable_as_of() = ToProtoTime(as_of);
  *response.mutable_horizon_end() = ToProtoTime(horizon_end);
  response.set_officer(officer);
  response.set_team(officer.empty() ? team : "");
  for (v1::BacklogItem& listed : *page.mutable_items()) {
    v1::WorkItem* item = response.add_items();
    const absl::Time due = TimeOf(listed.obligation().due_time());
    if (due < as_of) {
      item->set_bucket(v1::WORK_BUCKET_OVERDUE);
      item->set_days_overdue(DaysOverdue(as_of - due));
    } else {
      const absl::CivilDay due_day = policy::LocalDay(due - absl::Microseconds(1), zone_);
      const bool today_or_earlier = due_day <= today;
      item->set_bucket(today_or_earlier ? v1::WORK_BUCKET_DUE_TODAY : v1::WORK_BUCKET_DUE_SOON);
      item->set_days_until_due(today_or_earlier ? 0 : static_cast<int32_t>(due_day - today));
    }
    item->set_subject_display_name(std::move(*listed.mutable_subject_display_name()));
    *item->mutable_obligation() = std::move(*listed.mutable_obligation());
  }
  if (!page.next_page_token().empty()) {
    v1::WorkListCursor next;
    next.set_as_of_micros(storage::ToMicros(as_of));
    next.set_items_page_token(page.next_page_token());
    response.set_next_page_token(EncodePageToken(query, next.SerializeAsString()));
  }
  return response;
}

absl::StatusOr<v1::GetWorkloadResponse> Backlog::Workload(const CallContext& call,
                                                          const v1::GetWorkloadRequest& asked) {
  const v1::GetWorkloadRequest request = OwnByDefault(call, asked);
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  VIGIL_RETURN_IF_ERROR(ValidateText("officer", request.officer(), 128, false));
  if (call.principal.role == Role::kOfficer && request.officer() != call.principal.actor) {
    return absl::PermissionDeniedError(
        absl::StrCat("only a supervisor may see other officers' workload; ask for officer '",
                     call.principal.actor, "'"));
  }
  VIGIL_ASSIGN_OR_RETURN(const absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  VIGIL_ASSIGN_OR_RETURN(const v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, v1::AS_OF_VIEW_UNSPECIFIED));
  const std::shared_ptr<const v1::Policy> policy = policies_.Current(call.principal.force);
  const v1::WorkloadWeights& weights = policy->workload();
  std::map<std::pair<std::string, std::string>, v1::OfficerWorkload> loads;
  v1::WorkloadRequest ask;
  ask.set_team(request.team());
  ask.set_officer(request.officer());
  *ask.mutable_as_of() = ToProtoTime(as_of);
  ask.set_view(view);
  VIGIL_ASSIGN_OR_RETURN(auto parts, feeds_.Workload(call, [&](const std::string&) {
    return std::optional<v1::WorkloadRequest>(ask);
  }));
  for (const auto& [context, part] : parts) {
    for (const v1::OfficerLoad& load : part.officers()) {
      const bool queue = load.officer().empty() || load.officer() == kUnallocatedOwner;
      v1::OfficerWorkload& w = loads[{load.team(), queue ? "" : load.officer()}];
      w.set_officer(queue ? "" : load.officer());
      w.set_unallocated_queue(queue);
      w.set_team(load.team());
      w.mutable_open_by_risk()->Resize(5, 0);
      w.mutable_overdue_by_risk()->Resize(5, 0);
      w.set_open(w.open() + load.open());
      w.set_overdue(w.overdue() + load.overdue());
      for (int r = 0; r < 5 && r < load.open_by_risk_size(); ++r) {
        w.set_open_by_risk(r, w.open_by_risk(r) + load.open_by_risk(r));
        w.set_overdue_by_risk(r, w.overdue_by_risk(r) + load.overdue_by_risk(r));
      }
      for (const v1::BacklogRow& cell : load.open_cells()) {
        w.set_weighted_load(w.weighted_load() + static_cast<double>(cell.count()) *
                                                    KindWeight(weights, cell.kind()) *
                                                    RiskMultiplier(weights, cell.risk_level()));
      }
    }
  }
  // Officers share their team's load; a queue has neither capacity nor a share.
  std::map<std::string, double> team_total;
  for (const auto& [key, w] : loads) {
    if (!w.unallocated_queue()) team_total[key.first] += w.weighted_load();
  }
  v1::GetWorkloadResponse response;
  response.set_policy_version(policy->version());
  response.set_view(view);
  for (auto& [key, w] : loads) {
    if (w.unallocated_queue()) {
      *response.add_officers() = std::move(w);
      continue;
    }
    w.set_capacity_used_percent(100.0 * w.weighted_load() / weights.officer_capacity());
    const double total = team_total[key.first];
    w.set_team_share_percent(total > 0 ? 100.0 * w.weighted_load() / total : 0);
    *response.add_officers() = std::move(w);
  }
  return response;
}

absl::StatusOr<v1::TakeBacklogSnapshotResponse> Backlog::TakeSnapshot(
    const CallContext& call, const v1::TakeBacklogSnapshotRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(const absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  const std::string date =
      absl::FormatCivilTime(policy::LocalDay(as_of - absl::Microseconds(1), zone_));
  // The force, and every team with obligations open at as_of.
  v1::GetWorkloadRequest teams_then;
  if (request.has_as_of()) *teams_then.mutable_as_of() = request.as_of();
  VIGIL_ASSIGN_OR_RETURN(v1::GetWorkloadResponse workload, Workload(call, teams_then));
  std::vector<std::string> teams = {""};
  for (const v1::OfficerWorkload& w : workload.officers()) {
    if (std::find(teams.begin(), teams.end(), w.team()) == teams.end()) teams.push_back(w.team());
  }
  v1::TakeBacklogSnapshotResponse response;
  storage::Change change;
  for (const std::string& team : teams) {
    v1::GetBacklogSummaryRequest ask;
    ask.set_team(team);
    if (request.has_as_of()) *ask.mutable_as_of() = request.as_of();
    VIGIL_ASSIGN_OR_RETURN(v1::BacklogSummary summary,
                           Merge(call, ask, as_of, /*check_as_of=*/false));
    v1::BacklogSnapshot* snapshot = response.add_snapshots();
    snapshot->set_date(date);
    snapshot->set_force(call.principal.force);
    snapshot->set_team(team);
    *snapshot->mutable_rows() = summary.rows();
    snapshot->set_total_overdue(summary.total());
    snapshot->set_total_open(summary.total_open());
    *snapshot->mutable_taken_time() = ToProtoTime(call.now);
    change.Put(Family::kEntities, absl::StrCat(SnapshotPrefix(call.principal.force, team), date),
               snapshot->SerializeAsString());
  }
  VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
  return response;
}

absl::StatusOr<v1::GetBacklogTrendResponse> Backlog::Trend(
    const CallContext& call, const v1::GetBacklogTrendRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  const absl::CivilDay today = policy::LocalDay(call.now, zone_);
  absl::CivilDay to = today;
  if (request.has_to()) {
    VIGIL_RETURN_IF_ERROR(FromProtoTime(request.to(), "to").status());
    to = DayOf(request.to(), zone_);
  }
  absl::CivilDay from = to - 27;
  if (request.has_from()) {
    VIGIL_RETURN_IF_ERROR(FromProtoTime(request.from(), "from").status());
    from = DayOf(request.from(), zone_);
  }
  if (to < from) return FieldError("to", "is before from");
  if (to - from > 3660) return FieldError("from", "the range is longer than ten years");
  const std::string prefix = SnapshotPrefix(call.principal.force, request.team());
  const storage::ReadView view = store_.Snapshot();
  std::vector<v1::BacklogSnapshot> snapshots;
  std::optional<std::string> first_date;
  absl::Status parse;
  VIGIL_RETURN_IF_ERROR(view.ScanPrefix(
      Family::kEntities, prefix, {}, [&](absl::string_view key, absl::string_view value) {
        const std::string date(key.substr(prefix.size()));
        if (!first_date) first_date = date;
        if (date < absl::FormatCivilTime(from)) return true;
        if (date > absl::FormatCivilTime(to)) return false;
        v1::BacklogSnapshot snapshot;
        if (!snapshot.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = absl::DataLossError("a backlog snapshot is unreadable");
          return false;
        }
        snapshots.push_back(std::move(snapshot));
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(parse);
  if (request.has_from() && first_date && absl::FormatCivilTime(from) < *first_date) {
    return FieldError("from", absl::StrCat(absl::FormatCivilTime(from),
                                           " is before the first snapshot (", *first_date, ")"));
  }
  v1::GetBacklogTrendResponse response;
  std::vector<std::array<int64_t, kObligationKindSlots>> by_kind;
  std::vector<absl::CivilDay> days;
  for (const v1::BacklogSnapshot& s : snapshots) {
    v1::TrendPoint* point = response.add_points();
    point->set_date(s.date());
    point->set_total_overdue(s.total_overdue());
    point->set_total_open(s.total_open());
    std::array<int64_t, kObligationKindSlots> kinds{};
    for (const v1::BacklogRow& row : s.rows()) {
      if (row.kind() >= 0 && row.kind() < kObligationKindSlots) kinds[row.kind()] += row.count();
    }
    for (int64_t k : kinds) point->add_overdue_by_kind(k);
    by_kind.push_back(kinds);
    absl::CivilDay day;
    (void)absl::ParseCivilTime(s.date(), &day);
    days.push_back(day);
  }
  if (snapshots.empty()) return response;
  const size_t last = snapshots.size() - 1;
  // The latest point at or before `last - n` days, or the first point.
  auto back = [&](int n) {
    size_t best = 0;
    for (size_t i = 0; i < days.size(); ++i) {
      if (days[i] <= days[last] - n) best = i;
    }
    return best;
  };
  response.set_change_7_days(snapshots[last].total_overdue() - snapshots[back(7)].total_overdue());
  response.set_change_28_days(snapshots[last].total_overdue() -
                              snapshots[back(28)].total_overdue());
  size_t base = 0;
  for (size_t i = 0; i < days.size(); ++i) {
    if (days[i] >= days[last] - 28) {
      base = i;
      break;
    }
  }
  const int64_t span = days[last] - days[base];
  for (int k = 1; k < kObligationKindSlots; ++k) {
    if (by_kind[last][k] == 0 && by_kind[base][k] == 0) continue;
    v1::KindForecast* f = response.add_forecasts();
    f->set_kind(static_cast<v1::ObligationKind>(k));
    f->set_overdue_now(by_kind[last][k]);
    const double rate = span > 0 ? static_cast<double>(by_kind[base][k] - by_kind[last][k]) /
                                       static_cast<double>(span)
                                 : 0;
    f->set_cleared_per_day(rate);
    if (rate > 0) {
      f->set_days_to_clear(std::ceil(static_cast<double>(by_kind[last][k]) / rate));
    } else {
      f->set_growing(rate < 0);
    }
  }
  return response;
}

absl::StatusOr<int> Backlog::SnapshotAllForces(absl::Time day_end) {
  std::vector<std::string> forces;
  for (const std::string& context : feeds_.contexts()) {
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::string> some, feeds_.Forces(context));
    for (std::string& f : some) {
      if (std::find(forces.begin(), forces.end(), f) == forces.end())
        forces.push_back(std::move(f));
    }
  }
  for (const std::string& force : forces) {
    CallContext call;
    call.principal = Principal{"backlog snapshot", Role::kSystem, force};
    call.purpose = "daily backlog snapshot";
    call.method = "backlog/snapshot";
    call.now = clock_.Now();
    v1::TakeBacklogSnapshotRequest request;
    *request.mutable_as_of() = ToProtoTime(day_end);
    VIGIL_RETURN_IF_ERROR(TakeSnapshot(call, request).status());
  }
  return static_cast<int>(forces.size());
}

void Backlog::StartSnapshots() {
  absl::MutexLock lock(&mu_);
  if (snapshots_ == nullptr) {
    snapshots_ = std::make_unique<ScheduledTask>(
        clock_,
        [this](absl::Time now) {
          return policy::EndOfLocalDay(policy::LocalDay(now, zone_), zone_);
        },
        [this](absl::Time midnight) {
          absl::StatusOr<int> taken = SnapshotAllForces(midnight);
          if (taken.ok()) {
            VIGIL_LOG(INFO) << "backlog: daily snapshot of " << *taken << " forces";
          } else {
            VIGIL_LOG(WARNING) << "backlog: daily snapshot failed: " << taken.status().message();
          }
        });
  }
  snapshots_->Start();
}

void Backlog::StopSnapshots() {
  absl::MutexLock lock(&mu_);
  if (snapshots_ != nullptr) snapshots_->Stop();
}

}  // namespace vigil::backlog
