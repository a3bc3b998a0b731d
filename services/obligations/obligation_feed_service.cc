#include "services/obligations/obligation_feed_service.h"

#include <algorithm>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/obligations/ledger.h"
#include "storage/key_codec.h"

namespace vigil {
namespace {

constexpr RoleSet kReaders{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RpcSpec kSummarizeOverdue{"vigil.v1.ObligationFeed/SummarizeOverdue", kReaders, true};
constexpr RpcSpec kListOverdue{"vigil.v1.ObligationFeed/ListOverdue", kReaders, true};
constexpr RpcSpec kGetWorkload{"vigil.v1.ObligationFeed/GetWorkload", kReaders, true};
constexpr RpcSpec kListForces{
    "vigil.v1.ObligationFeed/ListForces", {Role::kSystem, Role::kService}, false};
constexpr RpcSpec kWatchObligations{
    "vigil.v1.ObligationFeed/WatchObligations", {Role::kSystem, Role::kService}, true};
constexpr RpcSpec kSpecs[] = {kSummarizeOverdue, kListOverdue, kGetWorkload, kListForces,
                              kWatchObligations};

// Feed entries read per fetch of a watch.
constexpr size_t kWatchPage = 256;

}  // namespace

std::span<const RpcSpec> ObligationFeedImpl::Specs() { return kSpecs; }

absl::StatusOr<OverdueIndex::Scope> ScopeOf(const CallContext& call, absl::string_view team,
                                            absl::string_view officer,
                                            const google::protobuf::RepeatedField<int>& kinds) {
  VIGIL_RETURN_IF_ERROR(ValidateText("team", team, 64, false));
  VIGIL_RETURN_IF_ERROR(ValidateText("officer", officer, 128, false));
  OverdueIndex::Scope scope;
  scope.force = call.principal.force;
  scope.team = std::string(team);
  scope.officer = std::string(officer);
  if (call.principal.role == Role::kOfficer && scope.officer != call.principal.actor) {
    return absl::PermissionDeniedError(
        absl::StrCat("an officer may see only their own obligations: set officer to '",
                     call.principal.actor, "'"));
  }
  for (int kind : kinds) {
    if (!v1::ObligationKind_IsValid(kind) || kind == v1::OBLIGATION_KIND_UNSPECIFIED) {
      return FieldError("kinds", absl::StrCat("unknown obligation kind ", kind));
    }
    scope.kinds.push_back(static_cast<v1::ObligationKind>(kind));
  }
  return scope;
}

absl::Status AddListFilters(const google::protobuf::RepeatedField<int>& risk_levels,
                            const google::protobuf::RepeatedField<int>& age_bands,
                            OverdueIndex::Scope& scope) {
  for (int risk : risk_levels) {
    if (!v1::RiskLevel_IsValid(risk)) {
      return FieldError("risk_levels", absl::StrCat("unknown risk level ", risk));
    }
    scope.risks.push_back(static_cast<v1::RiskLevel>(risk));
  }
  for (int band : age_bands) {
    if (!v1::AgeBand_IsValid(band) || band == v1::AGE_BAND_UNSPECIFIED) {
      return FieldError("age_bands", absl::StrCat("unknown age band ", band));
    }
    scope.age_bands.push_back(static_cast<v1::AgeBand>(band));
  }
  return absl::OkStatus();
}

std::string FiltersKey(const OverdueIndex::Scope& scope) {
  std::string key = "k";
  for (auto k : scope.kinds) absl::StrAppend(&key, ",", k);
  absl::StrAppend(&key, "|r");
  for (auto r : scope.risks) absl::StrAppend(&key, ",", r);
  absl::StrAppend(&key, "|b");
  for (auto b : scope.age_bands) absl::StrAppend(&key, ",", b);
  return key;
}

absl::StatusOr<absl::Time> AsOf(const CallContext& call, bool present,
                                const google::protobuf::Timestamp& as_of) {
  if (!present) return call.now;
  VIGIL_ASSIGN_OR_RETURN(const absl::Time t, FromProtoTime(as_of, "as_of"));
  if (t < absl::FromCivil(absl::CivilSecond(1900, 1, 1), absl::UTCTimeZone())) {
    return FieldError("as_of", "is before 1900, earlier than any record");
  }
  return t;
}

absl::StatusOr<v1::AsOfView> ChooseView(const CallContext& call, bool present, absl::Time as_of,
                                        int asked) {
  if (!v1::AsOfView_IsValid(asked)) return FieldError("view", "unknown value");
  if (asked != v1::AS_OF_VIEW_UNSPECIFIED) return static_cast<v1::AsOfView>(asked);
  return present && as_of < call.now - kHistoryTolerance ? v1::AS_OF_VIEW_HISTORY
                                                         : v1::AS_OF_VIEW_CURRENT;
}

absl::StatusOr<ObligationFeedImpl::History> ObligationFeedImpl::HistoryAt(
    absl::string_view context, const OverdueIndex& current, absl::string_view force,
    absl::Time as_of) const {
  const ObligationLedger ledger(context, current.space());
  VIGIL_ASSIGN_OR_RETURN(ObligationLedger::PointInTime then,
                         ledger.OpenAt(store_.Snapshot(), force, as_of));
  History history;
  history.index = std::make_unique<OverdueIndex>(current.space());
  history.history_begins = then.history_begins;
  history.index->InsertAll(then.open);
  history.by_id.reserve(then.open.size());
  for (v1::Obligation& o : then.open) {
    std::string id = o.id();
    history.by_id.emplace(std::move(id), std::move(o));
  }
  return history;
}

absl::StatusOr<const OverdueIndex*> ObligationFeedImpl::Index(absl::string_view context) const {
  auto it = contexts_.find(std::string(context));
  if (it == contexts_.end()) {
    std::vector<std::string> hosted;
    for (const auto& [name, served] : contexts_) hosted.push_back(name);
    return FieldError("context", absl::StrCat("'", context, "' is not hosted here (hosted: ",
                                              absl::StrJoin(hosted, ", "), ")"));
  }
  return it->second.index;
}

absl::StatusOr<std::vector<std::optional<v1::Obligation>>> ObligationFeedImpl::Read(
    const storage::ReadView& view, const OverdueIndex& index, absl::string_view force,
    std::span<const OverdueIndex::Entry> entries) const {
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const OverdueIndex::Entry& entry : entries) keys.push_back(index.DeadlineKey(force, entry));
  VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> raw,
                         view.MultiGet(storage::Family::kDeadlines, keys));
  std::vector<std::optional<v1::Obligation>> obligations(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!raw[i].has_value()) continue;  // closed since
    if (!obligations[i].emplace().ParseFromString(*raw[i])) {
      return absl::DataLossError("an obligation is unreadable");
    }
  }
  return obligations;
}

template <typename Answer>
auto ObligationFeedImpl::Audited(Answer answer)
    -> decltype(answer(std::declval<storage::Change&>())) {
  storage::Change audits;
  auto answered = answer(audits);
  if (answered.ok() && !audits.audits().empty()) {
    if (absl::Status committed = store_.Commit(audits).status(); !committed.ok()) {
      return committed;
    }
  }
  return answered;
}

absl::StatusOr<v1::OverdueSummary> ObligationFeedImpl::Summarize(
    const CallContext& call, const v1::SummarizeOverdueRequest& request) {
  return Audited([&](storage::Change& audits) { return Summarize(call, request, audits); });
}

absl::StatusOr<v1::OverdueSummary> ObligationFeedImpl::Summarize(
    const CallContext& call, const v1::SummarizeOverdueRequest& request, storage::Change& audits) {
  VIGIL_ASSIGN_OR_RETURN(const OverdueIndex* index, Index(request.context()));
  VIGIL_ASSIGN_OR_RETURN(OverdueIndex::Scope scope,
                         ScopeOf(call, request.team(), request.officer(), request.kinds()));
  VIGIL_ASSIGN_OR_RETURN(const absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  VIGIL_ASSIGN_OR_RETURN(const v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, request.view()));
  History history;
  if (view == v1::AS_OF_VIEW_HISTORY) {
    VIGIL_ASSIGN_OR_RETURN(history, HistoryAt(request.context(), *index, scope.force, as_of));
    index = history.index.get();
  }
  const OverdueIndex::Summary summary = index->Summarize(scope, as_of);
  v1::OverdueSummary response;
  *response.mutable_as_of() = ToProtoTime(as_of);
  response.set_view(view);
  if (history.history_begins.has_value()) {
    *response.mutable_history_begins() = ToProtoTime(*history.history_begins);
  }
  response.set_total_open(summary.total_open);
  if (summary.earliest_due_micros) {
    *response.mutable_earliest_due() =
        ToProtoTime(storage::FromMicros(*summary.earliest_due_micros));
  }
  response.set_total_overdue(summary.total_overdue);
  for (int k = 1; k < kObligationKindSlots; ++k) {
    for (int r = 0; r < 5; ++r) {
      for (int b = 1; b < 7; ++b) {
        if (summary.counts[k][r][b] == 0) continue;
        v1::BacklogRow* row = response.add_rows();
        row->set_kind(static_cast<v1::ObligationKind>(k));
        row->set_risk_level(static_cast<v1::RiskLevel>(r));
        row->set_age_band(static_cast<v1::AgeBand>(b));
        row->set_count(summary.counts[k][r][b]);
      }
      if (summary.due_within_28[k][r] > 0) {
        v1::DueSoonRow* soon = response.add_due_soon();
        soon->set_kind(static_cast<v1::ObligationKind>(k));
        soon->set_risk_level(static_cast<v1::RiskLevel>(r));
        soon->set_within_7_days(summary.due_within_7[k][r]);
        soon->set_within_28_days(summary.due_within_28[k][r]);
      }
    }
  }
  if (summary.oldest.has_value()) {
    std::optional<v1::Obligation> oldest;
    if (view == v1::AS_OF_VIEW_HISTORY) {
      oldest = history.by_id.at(summary.oldest->id);
    } else {
      VIGIL_ASSIGN_OR_RETURN(
          auto read, Read(store_.Snapshot(), *index, scope.force, std::span(&*summary.oldest, 1)));
      oldest = std::move(read.front());
    }
    if (oldest.has_value()) {
      // The oldest item names a person: the summary is then a consultation of them.
      audits.AddAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {oldest->subject_id()}));
      *response.mutable_oldest() = *std::move(oldest);
    }
  }
  return response;
}

absl::StatusOr<v1::ListOverdueResponse> ObligationFeedImpl::List(
    const CallContext& call, const v1::ListOverdueRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(const ListPlan plan, PlanList(call, request));
  return Audited([&](storage::Change& audits) { return AnswerList(call, plan, audits); });
}

absl::StatusOr<ObligationFeedImpl::ListPlan> ObligationFeedImpl::PlanList(
    const CallContext& call, const v1::ListOverdueRequest& request) const {
  VIGIL_ASSIGN_OR_RETURN(const OverdueIndex* index, Index(request.context()));
  VIGIL_ASSIGN_OR_RETURN(OverdueIndex::Scope scope,
                         ScopeOf(call, request.team(), request.officer(), request.kinds()));
  VIGIL_RETURN_IF_ERROR(AddListFilters(request.risk_levels(), request.age_bands(), scope));
  VIGIL_ASSIGN_OR_RETURN(absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  if (!v1::BacklogOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  // An as_of left to the server is fixed by the first page and carried in the token.
  const std::string query = absl::StrCat(
      "overdue|", request.context(), "|", scope.force, "|", storage::LengthPrefixed(scope.team),
      storage::LengthPrefixed(scope.officer), "|", FiltersKey(scope), "|",
      request.has_as_of() ? absl::StrCat(storage::ToMicros(as_of)) : "now", "|", request.order());
  VIGIL_ASSIGN_OR_RETURN(const std::string token,
                         DecodePageToken(request.page().page_token(), query));
  VIGIL_ASSIGN_OR_RETURN(v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, request.view()));
  OverdueIndex::Cursor cursor;
  if (request.has_after()) {
    cursor.rank = request.after().risk_rank();
    cursor.due_micros = storage::ToMicros(TimeOf(request.after().due_time()));
    cursor.id = request.after().obligation_id();
    if (cursor.id.empty()) return FieldError("after.obligation_id", "required with after");
  } else if (!token.empty()) {
    // token := as_of:int64-ordered | rank:fixed64 | due:int64-ordered | view:uint8 | id
    // (the view the first page chose: later pages keep it, whatever the time is now).
    if (token.size() < 26 || !v1::AsOfView_IsValid(static_cast<uint8_t>(token[24]))) {
      return FieldError("page_token", "is not a token this server issued");
    }
    if (!request.has_as_of())
      as_of = storage::FromMicros(storage::DecodeOrderedInt64(token.data()));
    cursor.rank = static_cast<int>(storage::DecodeFixed64BE(token.data() + 8));
    cursor.due_micros = storage::DecodeOrderedInt64(token.data() + 16);
    view = static_cast<v1::AsOfView>(static_cast<uint8_t>(token[24]));
    cursor.id = token.substr(25);
  }
  if (request.order() == v1::BACKLOG_ORDER_RISK_THEN_AGE && !cursor.empty() &&
      (cursor.rank < 0 || cursor.rank > 4)) {
    return request.has_after()
               ? FieldError("after.risk_rank", "must be 0 (very high) to 4 (not assessed)")
               : FieldError("page_token", "is not a token this server issued");
  }
  ListPlan plan;
  plan.context = request.context();
  plan.index = index;
  plan.force = scope.force;
  plan.as_of = as_of;
  plan.view = view;
  plan.order = request.order() == v1::BACKLOG_ORDER_RISK_THEN_AGE ? v1::BACKLOG_ORDER_RISK_THEN_AGE
                                                                  : v1::BACKLOG_ORDER_OLDEST_FIRST;
  plan.page_size = page_size;
  plan.query = query;
  const OverdueIndex* source = index;
  if (view == v1::AS_OF_VIEW_HISTORY) {
    VIGIL_ASSIGN_OR_RETURN(plan.history, HistoryAt(request.context(), *index, scope.force, as_of));
    source = plan.history.index.get();
  }
  plan.entries =
      source->List(scope, as_of, plan.order, cursor, static_cast<size_t>(page_size), &plan.more);
  return plan;
}

absl::StatusOr<v1::ListOverdueResponse> ObligationFeedImpl::AnswerList(const CallContext& call,
                                                                       const ListPlan& plan,
                                                                       storage::Change& audits) {
  const std::vector<OverdueIndex::Entry>& entries = plan.entries;
  const v1::BacklogOrder order = plan.order;
  const bool more = plan.more;
  const storage::ReadView snapshot = store_.Snapshot();
  std::vector<std::optional<v1::Obligation>> obligations;
  if (plan.view == v1::AS_OF_VIEW_HISTORY) {
    for (const OverdueIndex::Entry& entry : entries) {
      obligations.emplace_back(plan.history.by_id.at(entry.id));
    }
  } else {
    VIGIL_ASSIGN_OR_RETURN(obligations, Read(snapshot, *plan.index, plan.force, entries));
  }
  v1::ListOverdueResponse response;
  response.set_view(plan.view);
  std::vector<std::string> subjects;
  for (std::optional<v1::Obligation>& obligation : obligations) {
    if (!obligation.has_value()) continue;
    subjects.push_back(obligation->subject_id());
    *response.add_obligations() = *std::move(obligation);
  }
  if (!entries.empty()) {
    const OverdueIndex::Cursor last = OverdueIndex::CursorAfter(entries.back(), order);
    response.mutable_last()->set_risk_rank(last.rank);
    *response.mutable_last()->mutable_due_time() =
        ToProtoTime(storage::FromMicros(last.due_micros));
    response.mutable_last()->set_obligation_id(last.id);
  }
  if (more && !entries.empty()) {
    const OverdueIndex::Cursor next = OverdueIndex::CursorAfter(entries.back(), order);
    std::string encoded;
    storage::PutOrderedInt64(&encoded, storage::ToMicros(plan.as_of));
    storage::PutFixed64BE(&encoded, static_cast<uint64_t>(next.rank));
    storage::PutOrderedInt64(&encoded, next.due_micros);
    encoded.push_back(static_cast<char>(plan.view));
    encoded.append(next.id);
    response.set_next_page_token(EncodePageToken(plan.query, encoded));
  }
  // Names for the people who read the page; a subject whose record went since is left out.
  if (const SubjectNamer* names = contexts_.at(plan.context).names; names != nullptr) {
    std::vector<std::string> distinct = subjects;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    VIGIL_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> found,
                           names->DisplayNames(snapshot, plan.force, distinct));
    auto& out = *response.mutable_subject_names();
    for (size_t i = 0; i < distinct.size(); ++i) {
      if (found[i].has_value()) out[distinct[i]] = *std::move(found[i]);
    }
  }
  if (!subjects.empty()) {
    audits.AddAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, std::move(subjects)));
  }
  return response;
}

absl::StatusOr<v1::WorkloadResponse> ObligationFeedImpl::Workload(
    const CallContext& call, const v1::WorkloadRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(const OverdueIndex* index, Index(request.context()));
  VIGIL_ASSIGN_OR_RETURN(OverdueIndex::Scope scope,
                         ScopeOf(call, request.team(), request.officer(), {}));
  VIGIL_ASSIGN_OR_RETURN(const absl::Time as_of, AsOf(call, request.has_as_of(), request.as_of()));
  VIGIL_ASSIGN_OR_RETURN(const v1::AsOfView view,
                         ChooseView(call, request.has_as_of(), as_of, request.view()));
  History history;
  if (view == v1::AS_OF_VIEW_HISTORY) {
    VIGIL_ASSIGN_OR_RETURN(history, HistoryAt(request.context(), *index, scope.force, as_of));
    index = history.index.get();
  }
  v1::WorkloadResponse response;
  response.set_view(view);
  for (const OverdueIndex::OfficerCounts& counts : index->Workload(scope, as_of)) {
    v1::OfficerLoad* load = response.add_officers();
    load->set_officer(counts.officer);
    load->set_team(counts.team);
    load->mutable_open_by_risk()->Resize(5, 0);
    load->mutable_overdue_by_risk()->Resize(5, 0);
    for (int k = 0; k < kObligationKindSlots; ++k) {
      for (int r = 0; r < 5; ++r) {
        if (counts.open[k][r] == 0) continue;
        load->set_open_by_risk(r, load->open_by_risk(r) + counts.open[k][r]);
        load->set_overdue_by_risk(r, load->overdue_by_risk(r) + counts.overdue[k][r]);
        load->set_open(load->open() + counts.open[k][r]);
        load->set_overdue(load->overdue() + counts.overdue[k][r]);
        v1::BacklogRow* cell = load->add_open_cells();
        cell->set_kind(static_cast<v1::ObligationKind>(k));
        cell->set_risk_level(static_cast<v1::RiskLevel>(r));
        cell->set_count(counts.open[k][r]);
      }
    }
  }
  return response;
}

bool ObligationFeedImpl::Serves(absl::string_view context) const {
  return contexts_.find(std::string(context)) != contexts_.end();
}

template <typename Response, typename Request, typename Answer>
absl::StatusOr<std::vector<Response>> ObligationFeedImpl::AnswerHere(
    const CallContext& caller, absl::string_view purpose, const RpcSpec& spec,
    std::span<const Request> requests, Answer answer) {
  VIGIL_ASSIGN_OR_RETURN(const CallContext call, runtime_.AdmitInProcess(caller, spec, purpose));
  return Audited([&](storage::Change& audits) -> absl::StatusOr<std::vector<Response>> {
    std::vector<Response> answers;
    answers.reserve(requests.size());
    for (const Request& request : requests) {
      VIGIL_ASSIGN_OR_RETURN(Response response, answer(call, request, audits));
      answers.push_back(std::move(response));
    }
    return answers;
  });
}

absl::StatusOr<std::vector<v1::OverdueSummary>> ObligationFeedImpl::SummarizeHere(
    const CallContext& caller, absl::string_view purpose,
    std::span<const v1::SummarizeOverdueRequest> requests) {
  return AnswerHere<v1::OverdueSummary>(
      caller, purpose, kSummarizeOverdue, requests,
      [this](const CallContext& call, const v1::SummarizeOverdueRequest& request,
             storage::Change& audits) { return Summarize(call, request, audits); });
}

absl::StatusOr<std::vector<v1::ListOverdueResponse>> ObligationFeedImpl::ListHere(
    const CallContext& caller, absl::string_view purpose,
    std::span<const v1::ListOverdueRequest> requests) {
  VIGIL_ASSIGN_OR_RETURN(const CallContext call,
                         runtime_.AdmitInProcess(caller, kListOverdue, purpose));
  std::vector<ListPlan> plans;
  plans.reserve(requests.size());
  for (const v1::ListOverdueRequest& request : requests) {
    VIGIL_ASSIGN_OR_RETURN(ListPlan plan, PlanList(call, request));
    if (!plans.empty() &&
        (plan.order != plans.front().order || plan.page_size != plans.front().page_size)) {
      return absl::InvalidArgumentError("pages to merge need one order and one page size");
    }
    plans.push_back(std::move(plan));
  }
  KeepMergedPage(plans);
  return Audited(
      [&](storage::Change& audits) -> absl::StatusOr<std::vector<v1::ListOverdueResponse>> {
        std::vector<v1::ListOverdueResponse> answers;
        answers.reserve(plans.size());
        for (const ListPlan& plan : plans) {
          VIGIL_ASSIGN_OR_RETURN(v1::ListOverdueResponse answer, AnswerList(call, plan, audits));
          answers.push_back(std::move(answer));
        }
        return answers;
      });
}

void ObligationFeedImpl::KeepMergedPage(std::vector<ListPlan>& plans) {
  if (plans.empty()) return;
  // An entry's place in the merged order: (rank, due, id, context), as the backlog sorts.
  using Key = std::tuple<int, int64_t, std::string, absl::string_view>;
  auto key_of = [](const ListPlan& plan, const OverdueIndex::Entry& entry) {
    OverdueIndex::Cursor at = OverdueIndex::CursorAfter(entry, plan.order);
    return Key{at.rank, at.due_micros, std::move(at.id), plan.context};
  };
  std::vector<Key> keys;
  for (const ListPlan& plan : plans) {
    for (const OverdueIndex::Entry& entry : plan.entries) keys.push_back(key_of(plan, entry));
  }
  const size_t page_size = static_cast<size_t>(plans.front().page_size);
  if (keys.size() <= page_size) return;
  std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(page_size - 1),
                   keys.end());
  const Key last = std::move(keys[page_size - 1]);
  // Each plan's entries are in that order already: keep the prefix up to `last`, and at least
  // one entry, so that an answer with more to come carries its page token (the only sign of it).
  for (ListPlan& plan : plans) {
    size_t keep = std::min<size_t>(1, plan.entries.size());
    while (keep < plan.entries.size() && key_of(plan, plan.entries[keep]) <= last) ++keep;
    if (keep < plan.entries.size()) {
      plan.entries.resize(keep);
      plan.more = true;
    }
  }
}

absl::StatusOr<std::vector<v1::WorkloadResponse>> ObligationFeedImpl::WorkloadHere(
    const CallContext& caller, absl::string_view purpose,
    std::span<const v1::WorkloadRequest> requests) {
  return AnswerHere<v1::WorkloadResponse>(
      caller, purpose, kGetWorkload, requests,
      [this](const CallContext& call, const v1::WorkloadRequest& request, storage::Change&) {
        return Workload(call, request);
      });
}

grpc::ServerUnaryReactor* ObligationFeedImpl::SummarizeOverdue(
    grpc::CallbackServerContext* context, const v1::SummarizeOverdueRequest* request,
    v1::OverdueSummary* response) {
  return runtime_.Reply(context, kSummarizeOverdue, response,
                        [=, this](const CallContext& call) { return Summarize(call, *request); });
}

grpc::ServerUnaryReactor* ObligationFeedImpl::ListOverdue(grpc::CallbackServerContext* context,
                                                          const v1::ListOverdueRequest* request,
                                                          v1::ListOverdueResponse* response) {
  return runtime_.Reply(context, kListOverdue, response,
                        [=, this](const CallContext& call) { return List(call, *request); });
}

grpc::ServerUnaryReactor* ObligationFeedImpl::GetWorkload(grpc::CallbackServerContext* context,
                                                          const v1::WorkloadRequest* request,
                                                          v1::WorkloadResponse* response) {
  return runtime_.Reply(context, kGetWorkload, response,
                        [=, this](const CallContext& call) { return Workload(call, *request); });
}

grpc::ServerUnaryReactor* ObligationFeedImpl::ListForces(grpc::CallbackServerContext* context,
                                                         const v1::ListForcesRequest* request,
                                                         v1::ListForcesResponse* response) {
  return runtime_.Reply(context, kListForces, response,
                        [=, this](const CallContext&) -> absl::StatusOr<v1::ListForcesResponse> {
                          VIGIL_ASSIGN_OR_RETURN(const OverdueIndex* index,
                                                 Index(request->context()));
                          v1::ListForcesResponse forces;
                          for (std::string& force : index->Forces())
                            forces.add_forces(std::move(force));
                          return forces;
                        });
}

}  // namespace vigil

namespace vigil {

absl::Status FlattenFeedEntry(uint64_t sequence, absl::string_view payload, absl::string_view force,
                              std::vector<v1::ObligationEvent>& out) {
  v1::ObligationEventBatch batch;
  if (!batch.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(absl::StrCat("feed entry ", sequence, " is unreadable"));
  }
  const size_t first = out.size();
  for (v1::ObligationEvent& event : *batch.mutable_events()) {
    if (!force.empty() && event.obligation().force() != force) continue;
    event.set_sequence(sequence);
    out.push_back(std::move(event));
  }
  for (v1::ObligationNotice& notice : *batch.mutable_notices()) {
    if (!force.empty() && notice.obligation().force() != force) continue;
    v1::ObligationEvent& event = out.emplace_back();
    event.set_sequence(sequence);
    event.set_type(v1::OBLIGATION_EVENT_TYPE_NOTICE);
    *event.mutable_event_time() = notice.time();
    *event.mutable_notice() = std::move(notice);
  }
  if (out.size() > first) out.back().set_last_of_sequence(true);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::ObligationEvent>* ObligationFeedImpl::WatchObligations(
    grpc::CallbackServerContext* context, const v1::WatchObligationsRequest* request) {
  auto admission = runtime_.AdmitStream<v1::ObligationEvent>(*context, kWatchObligations);
  if (auto* refused = std::get_if<grpc::ServerWriteReactor<v1::ObligationEvent>*>(&admission)) {
    return *refused;
  }
  CallContext* admitted = &std::get<CallContext>(admission);
  if (absl::StatusOr<const OverdueIndex*> index = Index(request->context()); !index.ok()) {
    return RefuseStream<v1::ObligationEvent>(index.status());
  }
  const std::string& feed = request->context();
  const uint64_t head = store_.EventHead(feed);
  if (request->after_sequence() > head) {
    return RefuseStream<v1::ObligationEvent>(absl::OutOfRangeError(
        absl::StrCat("after_sequence: ", request->after_sequence(), " is beyond the head of the ",
                     feed, " feed (", head, ")")));
  }
  // vigil's own services follow every force; a force system only its own.
  const std::string force =
      admitted->principal.role == Role::kService ? std::string() : admitted->principal.force;
  auto audited = std::make_shared<bool>(false);
  FeedStream<v1::ObligationEvent>::Options options;
  options.feed_context = feed;
  options.cursor = request->after_sequence();
  options.fetch = [this, call = std::move(*admitted), feed, force, audited](
                      uint64_t after) -> absl::StatusOr<FeedStream<v1::ObligationEvent>::Page> {
    if (!*audited) {
      // The watch itself, before anything is streamed. A force system's pages are then each
      // recorded with the subjects they disclose (below); vigil's own services record what they
      // take from the feed in their own commits, under each force it concerns.
      storage::Change change;
      change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {absl::StrCat("feed:", feed)}));
      VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
      *audited = true;
    }
    VIGIL_ASSIGN_OR_RETURN(std::vector<storage::FeedEvent> entries,
                           store_.Snapshot().ReadEvents(feed, after, kWatchPage));
    FeedStream<v1::ObligationEvent>::Page page;
    page.cursor = after;
    page.more = entries.size() == kWatchPage;
    for (const storage::FeedEvent& entry : entries) {
      VIGIL_RETURN_IF_ERROR(FlattenFeedEntry(entry.sequence, entry.payload, force, page.messages));
      page.cursor = entry.sequence;
    }
    if (!force.empty() && !page.messages.empty()) {
      std::set<std::string> subjects;
      for (const v1::ObligationEvent& event : page.messages) {
        const v1::Obligation& obligation =
            event.has_notice() ? event.notice().obligation() : event.obligation();
        if (!obligation.subject_id().empty()) subjects.insert(obligation.subject_id());
      }
      // Not charged to the read limit: a force system following its feed would otherwise be
      // refused its ordinary calls whenever its force is busy.
      CallContext delivery = call;
      delivery.read_limiter = nullptr;
      storage::Change change;
      change.SetAudit(delivery.Audit(v1::AUDIT_ACTION_CONSULTATION,
                                     std::vector<std::string>(subjects.begin(), subjects.end())));
      VIGIL_RETURN_IF_ERROR(store_.Commit(change).status());
    }
    return page;
  };
  return FeedStream<v1::ObligationEvent>::Start(context, runtime_.executor(), notifier_,
                                                std::move(options));
}

}  // namespace vigil
