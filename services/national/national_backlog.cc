#include "services/national/national_backlog.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_join.h"
#include "base/field_error.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/page_token.h"
#include "services/obligations/overdue_index.h"
#include "storage/key_codec.h"

namespace vigil::national {
namespace {

// OK when at least one shard answered. Otherwise the refusal every shard gave the request
// itself (InvalidArgument: the request is wrong everywhere), else Unavailable naming each.
template <typename Response>
absl::Status SomeAnswered(const std::vector<ShardAnswer<Response>>& answers) {
  std::vector<std::string> reasons;
  const absl::Status* refusal = nullptr;
  for (const ShardAnswer<Response>& a : answers) {
    if (a.answer.ok()) return absl::OkStatus();
    reasons.emplace_back(a.answer.status().message());
    if (refusal == nullptr && absl::IsInvalidArgument(a.answer.status())) {
      refusal = &a.answer.status();
    }
  }
  if (refusal != nullptr) return *refusal;
  return absl::UnavailableError(absl::StrCat(
      "no shard answered: ", reasons.empty() ? "none is configured" : absl::StrJoin(reasons, "; "),
      "; retry shortly"));
}

template <typename Response>
std::vector<std::string> Missing(const std::vector<ShardAnswer<Response>>& answers) {
  std::vector<std::string> missing;
  for (const ShardAnswer<Response>& a : answers) {
    if (!a.answer.ok()) missing.push_back(a.force);
  }
  return missing;
}

template <typename Message>
void MarkMissing(const std::vector<std::string>& missing, Message& message) {
  for (const std::string& force : missing) message.add_missing_forces(force);
  message.set_partial(!missing.empty());
}

// The change in total overdue between the last point and the latest point at least `n` days
// before it (or the first point).
int64_t ChangeOver(const std::vector<const v1::TrendPoint*>& points, int n) {
  if (points.empty()) return 0;
  std::vector<absl::CivilDay> days;
  for (const v1::TrendPoint* p : points) {
    absl::CivilDay day;
    (void)absl::ParseCivilTime(p->date(), &day);  // shards write "YYYY-MM-DD"
    days.push_back(day);
  }
  size_t base = 0;
  for (size_t i = 0; i < days.size(); ++i) {
    if (days[i] <= days.back() - n) base = i;
  }
  return points.back()->total_overdue() - points[base]->total_overdue();
}

}  // namespace

void StripPersonalData(v1::Obligation& obligation) {
  // A copy of the fields that may leave a shard, not a list of those that may not: a field
  // added to Obligation later stays at home until someone decides otherwise.
  v1::Obligation national;
  national.set_kind(obligation.kind());
  national.set_risk_level(obligation.risk_level());
  *national.mutable_due_time() = obligation.due_time();
  national.set_team(obligation.team());
  national.set_force(obligation.force());
  national.set_policy_version(obligation.policy_version());
  obligation = std::move(national);
}

void StripPersonalData(v1::BacklogItem& item) {
  v1::BacklogItem national;
  *national.mutable_obligation() = std::move(*item.mutable_obligation());
  StripPersonalData(*national.mutable_obligation());
  national.set_days_overdue(item.days_overdue());
  national.set_age_band(item.age_band());
  item = std::move(national);
}

// Each part is changed and moved out: `answers` is taken by value (clang-tidy does not see the
// changes through the structured bindings).
absl::StatusOr<v1::BacklogSummary> MergeSummaries(
    // NOLINTNEXTLINE(performance-unnecessary-value-param)
    std::vector<ShardAnswer<v1::BacklogSummary>> answers, const v1::GetBacklogSummaryRequest& ask) {
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  BacklogTally tally;
  v1::BacklogSummary national;
  for (auto& [force, answer] : answers) {
    if (!answer.ok()) continue;
    v1::BacklogSummary& part = *answer;
    part.set_force(force);
    part.clear_by_force();
    part.clear_missing_forces();
    if (part.has_oldest()) StripPersonalData(*part.mutable_oldest());
    tally.Add(part.rows(), part.due_soon());
    national.set_total(national.total() + part.total());
    national.set_total_open(national.total_open() + part.total_open());
    if (part.has_oldest() && (!national.has_oldest() || TimeOf(part.oldest().due_time()) <
                                                            TimeOf(national.oldest().due_time()))) {
      *national.mutable_oldest() = part.oldest();
    }
    if (!national.has_as_of() && part.has_as_of()) *national.mutable_as_of() = part.as_of();
    *national.add_by_force() = std::move(part);
  }
  tally.WriteTo(*national.mutable_rows(), *national.mutable_due_soon());
  if (ask.has_as_of()) *national.mutable_as_of() = ask.as_of();
  national.set_team(ask.team());
  national.set_officer(ask.officer());
  MarkMissing(Missing(answers), national);
  return national;
}

absl::StatusOr<v1::GetWorkloadResponse> MergeWorkloads(
    const std::vector<ShardAnswer<v1::GetWorkloadResponse>>& answers) {
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  struct Team {
    v1::OfficerWorkload load;
    double capacity_used_sum = 0;
    int officers = 0;
  };
  std::map<std::pair<std::string, std::string>, Team> teams;  // by force, team
  std::map<std::string, double> force_total;
  for (const auto& [force, answer] : answers) {
    if (!answer.ok()) continue;
    for (const v1::OfficerWorkload& w : answer->officers()) {
      Team& team = teams[{force, w.team()}];
      v1::OfficerWorkload& t = team.load;
      t.set_force(force);
      t.set_team(w.team());
      t.mutable_open_by_risk()->Resize(5, 0);
      t.mutable_overdue_by_risk()->Resize(5, 0);
      t.set_open(t.open() + w.open());
      t.set_overdue(t.overdue() + w.overdue());
      for (int r = 0; r < 5 && r < w.open_by_risk_size(); ++r)
        t.set_open_by_risk(r, t.open_by_risk(r) + w.open_by_risk(r));
      for (int r = 0; r < 5 && r < w.overdue_by_risk_size(); ++r)
        t.set_overdue_by_risk(r, t.overdue_by_risk(r) + w.overdue_by_risk(r));
      t.set_weighted_load(t.weighted_load() + w.weighted_load());
      force_total[force] += w.weighted_load();
      if (w.unallocated_queue()) continue;  // a queue has no capacity to average
      team.capacity_used_sum += w.capacity_used_percent();
      ++team.officers;
    }
  }
  v1::GetWorkloadResponse national;
  for (auto& [key, team] : teams) {
    v1::OfficerWorkload& t = team.load;
    // A team's figure is its officers' average use of capacity, and its share of its force.
    t.set_capacity_used_percent(team.officers > 0 ? team.capacity_used_sum / team.officers : 0);
    const double total = force_total[key.first];
    t.set_team_share_percent(total > 0 ? 100.0 * t.weighted_load() / total : 0);
    *national.add_officers() = std::move(t);
  }
  MarkMissing(Missing(answers), national);
  return national;
}

absl::StatusOr<v1::GetBacklogTrendResponse> MergeTrends(
    const std::vector<ShardAnswer<v1::GetBacklogTrendResponse>>& answers) {
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  std::map<std::string, v1::TrendPoint> by_date;
  struct Forecast {
    int64_t overdue_now = 0;
    double cleared_per_day = 0;
  };
  std::map<int, Forecast> forecasts;
  v1::GetBacklogTrendResponse national;
  for (const auto& [force, answer] : answers) {
    if (!answer.ok()) continue;
    v1::ForceTrend* own = national.add_by_force();
    own->set_force(force);
    *own->mutable_points() = answer->points();
    for (const v1::TrendPoint& p : answer->points()) {
      v1::TrendPoint& n = by_date[p.date()];
      n.set_date(p.date());
      n.set_total_overdue(n.total_overdue() + p.total_overdue());
      n.set_total_open(n.total_open() + p.total_open());
      if (n.overdue_by_kind_size() < p.overdue_by_kind_size())
        n.mutable_overdue_by_kind()->Resize(p.overdue_by_kind_size(), 0);
      for (int k = 0; k < p.overdue_by_kind_size(); ++k)
        n.set_overdue_by_kind(k, n.overdue_by_kind(k) + p.overdue_by_kind(k));
    }
    for (const v1::KindForecast& f : answer->forecasts()) {
      Forecast& sum = forecasts[f.kind()];
      sum.overdue_now += f.overdue_now();
      sum.cleared_per_day += f.cleared_per_day();
    }
  }
  std::vector<const v1::TrendPoint*> points;
  for (auto& [date, point] : by_date) {
    *national.add_points() = point;
    points.push_back(&point);
  }
  national.set_change_7_days(ChangeOver(points, 7));
  national.set_change_28_days(ChangeOver(points, 28));
  for (const auto& [kind, sum] : forecasts) {
    v1::KindForecast* f = national.add_forecasts();
    f->set_kind(static_cast<v1::ObligationKind>(kind));
    f->set_overdue_now(sum.overdue_now);
    f->set_cleared_per_day(sum.cleared_per_day);
    if (sum.cleared_per_day > 0) {
      f->set_days_to_clear(std::ceil(static_cast<double>(sum.overdue_now) / sum.cleared_per_day));
    } else {
      f->set_growing(sum.cleared_per_day < 0);
    }
  }
  MarkMissing(Missing(answers), national);
  return national;
}

template <typename Response>
absl::Status NationalBacklog::AuditAnswers(const CallContext& call,
                                           const std::vector<ShardAnswer<Response>>& answers) {
  std::vector<std::string> answered;
  for (const ShardAnswer<Response>& a : answers) {
    if (a.answer.ok()) answered.push_back(a.force);
  }
  return Audit(call, answered, Missing(answers));
}

absl::Status NationalBacklog::Audit(const CallContext& call,
                                    const std::vector<std::string>& answered,
                                    const std::vector<std::string>& missing) {
  if (!missing.empty()) {
    VIGIL_LOG(WARNING) << call.method << " for " << call.principal.actor
                       << ": partial answer, no answer from " << absl::StrJoin(missing, ", ");
  }
  if (answered.empty()) return absl::OkStatus();  // nothing was disclosed
  std::vector<std::string> subjects;
  subjects.reserve(answered.size());
  for (const std::string& force : answered) subjects.push_back(absl::StrCat("force:", force));
  storage::Change change;
  change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subjects)));
  return store_.Commit(change).status();
}

absl::StatusOr<v1::BacklogSummary> NationalBacklog::Summary(
    const CallContext& call, const v1::GetBacklogSummaryRequest& request) {
  std::vector<ShardAnswer<v1::BacklogSummary>> answers =
      shards_.FanOut<v1::GetBacklogSummaryRequest, v1::BacklogSummary>(
          call, [&](const std::string&) { return std::optional(request); },
          [](auto* stub, auto* context, auto* ask, auto* response, auto done) {
            stub->GetBacklogSummary(context, ask, response, std::move(done));
          });
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  VIGIL_RETURN_IF_ERROR(AuditAnswers(call, answers));
  return MergeSummaries(std::move(answers), request);
}

absl::StatusOr<v1::GetWorkloadResponse> NationalBacklog::Workload(
    const CallContext& call, const v1::GetWorkloadRequest& request) {
  std::vector<ShardAnswer<v1::GetWorkloadResponse>> answers =
      shards_.FanOut<v1::GetWorkloadRequest, v1::GetWorkloadResponse>(
          call, [&](const std::string&) { return std::optional(request); },
          [](auto* stub, auto* context, auto* ask, auto* response, auto done) {
            stub->GetWorkload(context, ask, response, std::move(done));
          });
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  VIGIL_RETURN_IF_ERROR(AuditAnswers(call, answers));
  return MergeWorkloads(answers);
}

absl::StatusOr<v1::GetBacklogTrendResponse> NationalBacklog::Trend(
    const CallContext& call, const v1::GetBacklogTrendRequest& request) {
  std::vector<ShardAnswer<v1::GetBacklogTrendResponse>> answers =
      shards_.FanOut<v1::GetBacklogTrendRequest, v1::GetBacklogTrendResponse>(
          call, [&](const std::string&) { return std::optional(request); },
          [](auto* stub, auto* context, auto* ask, auto* response, auto done) {
            stub->GetBacklogTrend(context, ask, response, std::move(done));
          });
  VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));
  VIGIL_RETURN_IF_ERROR(AuditAnswers(call, answers));
  return MergeTrends(answers);
}

absl::StatusOr<v1::ListBacklogItemsResponse> NationalBacklog::Items(
    const CallContext& call, const v1::ListBacklogItemsRequest& request) {
  if (!v1::BacklogOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  constexpr int kMaxShardPage = 1000;
  const bool by_risk = request.order() == v1::BACKLOG_ORDER_RISK_THEN_AGE;
  absl::Time as_of = call.now;
  if (request.has_as_of()) {
    VIGIL_ASSIGN_OR_RETURN(as_of, FromProtoTime(request.as_of(), "as_of"));
  }
  std::string kinds;
  for (int k : request.kinds()) absl::StrAppend(&kinds, k, ",");
  absl::StrAppend(&kinds, "|r");
  for (int r : request.risk_levels()) absl::StrAppend(&kinds, r, ",");
  absl::StrAppend(&kinds, "|b");
  for (int b : request.age_bands()) absl::StrAppend(&kinds, b, ",");
  // An as_of left to the server is fixed by the first page and carried in the token.
  const std::string query = absl::StrCat(
      "national-items|", storage::LengthPrefixed(request.team()),
      storage::LengthPrefixed(request.officer()), "|", kinds, "|",
      request.has_as_of() ? absl::StrCat(storage::ToMicros(as_of)) : "now", "|", by_risk);
  VIGIL_ASSIGN_OR_RETURN(const std::string token,
                         DecodePageToken(request.page().page_token(), query));
  v1::NationalItemsCursor state;
  if (!token.empty() && !state.ParseFromString(token)) {
    return FieldError("page_token", "is not a token this server issued");
  }
  if (!token.empty() && !request.has_as_of()) as_of = storage::FromMicros(state.as_of_micros());
  std::map<std::string, v1::NationalItemsCursor::Shard> places;
  for (const v1::NationalItemsCursor::Shard& place : state.shards()) {
    places[place.force()] = place;
  }
  for (const std::string& force : shards_.forces()) places[force].set_force(force);

  // Each shard is asked again from the page its next item is on, for as many items as this
  // page could take from it after those already given out.
  std::vector<ShardAnswer<v1::ListBacklogItemsResponse>> answers =
      shards_.FanOut<v1::ListBacklogItemsRequest, v1::ListBacklogItemsResponse>(
          call,
          [&](const std::string& force) -> std::optional<v1::ListBacklogItemsRequest> {
            const v1::NationalItemsCursor::Shard& place = places[force];
            if (place.exhausted()) return std::nullopt;
            v1::ListBacklogItemsRequest ask = request;
            *ask.mutable_as_of() = ToProtoTime(as_of);
            ask.mutable_page()->set_page_token(place.page_token());
            ask.mutable_page()->set_page_size(std::min(kMaxShardPage, page_size + place.taken()));
            return ask;
          },
          [](auto* stub, auto* context, auto* ask, auto* response, auto done) {
            stub->ListBacklogItems(context, ask, response, std::move(done));
          });
  if (!answers.empty()) VIGIL_RETURN_IF_ERROR(SomeAnswered(answers));

  struct Candidate {
    std::tuple<int, int64_t, std::string, std::string> key;  // rank, due, force, id
    v1::BacklogItem* item;
  };
  std::vector<Candidate> candidates;
  std::map<std::string, int> window;  // items each shard offered this page
  std::map<std::string, const v1::ListBacklogItemsResponse*> pages;
  for (auto& [force, answer] : answers) {
    if (!answer.ok()) continue;
    pages[force] = &*answer;
    const int skip = places[force].taken();
    auto* items = answer->mutable_items();
    window[force] = std::max(0, items->size() - skip);
    for (int i = skip; i < items->size(); ++i) {
      v1::BacklogItem* item = items->Mutable(i);
      const v1::Obligation& o = item->obligation();
      candidates.push_back(Candidate{{by_risk ? RiskRank(o.risk_level()) : 0,
                                      storage::ToMicros(TimeOf(o.due_time())), force, o.id()},
                                     item});
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.key < b.key; });

  v1::ListBacklogItemsResponse response;
  std::map<std::string, int> taken_now;
  for (const Candidate& c : candidates) {
    if (response.items_size() >= page_size) break;
    const std::string& force = std::get<2>(c.key);
    StripPersonalData(*c.item);
    *response.add_items() = std::move(*c.item);
    // A shard whose offer is used up but which has more may hold items that sort before the
    // next candidate: the page ends here rather than skip them.
    if (++taken_now[force] == window[force] && !pages[force]->next_page_token().empty()) break;
  }

  std::set<std::string> missing_now;
  for (const std::string& force : Missing(answers)) missing_now.insert(force);
  v1::NationalItemsCursor next;
  next.set_as_of_micros(storage::ToMicros(as_of));
  bool any_left = false;
  for (const std::string& force : shards_.forces()) {
    v1::NationalItemsCursor::Shard place = places[force];
    if (missing_now.count(force) > 0) {
      place.set_exhausted(true);
      place.set_missing(true);
    } else if (auto page = pages.find(force); page != pages.end()) {
      if (taken_now[force] < window[force]) {
        place.set_taken(place.taken() + taken_now[force]);
      } else {
        place.set_page_token(page->second->next_page_token());
        place.set_taken(0);
        place.set_exhausted(page->second->next_page_token().empty());
      }
    }
    any_left = any_left || !place.exhausted();
    *next.add_shards() = std::move(place);
  }
  if (any_left) response.set_next_page_token(EncodePageToken(query, next.SerializeAsString()));
  VIGIL_RETURN_IF_ERROR(AuditAnswers(call, answers));
  std::vector<std::string> missing;
  for (const v1::NationalItemsCursor::Shard& place : next.shards()) {
    if (place.missing()) missing.push_back(place.force());
  }
  MarkMissing(missing, response);
  return response;
}

}  // namespace vigil::national
