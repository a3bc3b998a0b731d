// vigil.v1.ObligationFeed for the owning contexts hosted by this vigild (rso, ocait): overdue
// summaries, pages and workloads from each context's OverdueIndex, or, for an as_of in the
// past (ChooseView), from the context's history of obligation versions (ledger.h): what was
// open then, with the due times it had. The backlog service (and
// any force system) calls it through the API, in-process or across machines alike.
#ifndef VIGIL_SERVICES_OBLIGATIONS_OBLIGATION_FEED_SERVICE_H_
#define VIGIL_SERVICES_OBLIGATIONS_OBLIGATION_FEED_SERVICE_H_

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "services/common/feed_stream.h"
#include "services/common/rpc.h"
#include "services/obligations/overdue_index.h"
#include "services/obligations/record_store.h"
#include "storage/store.h"
#include "vigil/v1/obligations.grpc.pb.h"

namespace vigil {

// What the feed serves of one owning context it hosts; none owned.
struct FeedContext {
  const OverdueIndex* index = nullptr;
  // Names the subjects of ListOverdue pages (subject_names); null: pages name no one.
  const SubjectNamer* names = nullptr;
};

class ObligationFeedImpl final : public v1::ObligationFeed::CallbackService {
 public:
  // `contexts` maps a context name to what is served of it; none owned.
  ObligationFeedImpl(RpcRuntime& runtime, storage::Store& store, FeedNotifier& notifier,
                     std::map<std::string, FeedContext> contexts)
      : runtime_(runtime), store_(store), notifier_(notifier), contexts_(std::move(contexts)) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* SummarizeOverdue(grpc::CallbackServerContext* context,
                                             const v1::SummarizeOverdueRequest* request,
                                             v1::OverdueSummary* response) override;
  grpc::ServerUnaryReactor* ListOverdue(grpc::CallbackServerContext* context,
                                        const v1::ListOverdueRequest* request,
                                        v1::ListOverdueResponse* response) override;
  grpc::ServerUnaryReactor* GetWorkload(grpc::CallbackServerContext* context,
                                        const v1::WorkloadRequest* request,
                                        v1::WorkloadResponse* response) override;
  grpc::ServerUnaryReactor* ListForces(grpc::CallbackServerContext* context,
                                       const v1::ListForcesRequest* request,
                                       v1::ListForcesResponse* response) override;

  grpc::ServerWriteReactor<v1::ObligationEvent>* WatchObligations(
      grpc::CallbackServerContext* context, const v1::WatchObligationsRequest* request) override;

  // The domain of each RPC, callable without gRPC (tests). Summarize and List commit the audit
  // record of what they disclose.
  absl::StatusOr<v1::OverdueSummary> Summarize(const CallContext& call,
                                               const v1::SummarizeOverdueRequest& request);
  absl::StatusOr<v1::ListOverdueResponse> List(const CallContext& call,
                                               const v1::ListOverdueRequest& request);
  absl::StatusOr<v1::WorkloadResponse> Workload(const CallContext& call,
                                                const v1::WorkloadRequest& request);

  // Whether this feed serves `context` ("rso", "ocait").
  bool Serves(absl::string_view context) const;
  // SummarizeOverdue, ListOverdue and GetWorkload as the backlog asks them when co-hosted
  // (backlog::FeedClients::SetLocal), with no gRPC hop: for `caller` with `purpose`, admitted as
  // the relayed RPC would be (RpcRuntime::AdmitInProcess), an answer per request in order, and
  // what they disclose audited in ONE commit, a record per context as the RPCs would write.
  // The first error fails the whole answer; nothing is then audited, as nothing is disclosed.
  absl::StatusOr<std::vector<v1::OverdueSummary>> SummarizeHere(
      const CallContext& caller, absl::string_view purpose,
      std::span<const v1::SummarizeOverdueRequest> requests);
  // ListHere's answers make one merged page: the caller shows only the first page_size of them
  // all in the order asked (risk rank when risk-first, due time, id, context: the backlog's
  // page). Each answer holds only its obligations among those (and at least its first, which
  // carries the page token when more are to come), its page token continuing after the last of
  // them; the others are neither read nor disclosed. The requests share one order and one page
  // size (InvalidArgument otherwise).
  absl::StatusOr<std::vector<v1::ListOverdueResponse>> ListHere(
      const CallContext& caller, absl::string_view purpose,
      std::span<const v1::ListOverdueRequest> requests);
  absl::StatusOr<std::vector<v1::WorkloadResponse>> WorkloadHere(
      const CallContext& caller, absl::string_view purpose,
      std::span<const v1::WorkloadRequest> requests);

 private:
  // Summarize, adding the audit record of what it discloses (if anything) to `audits` rather
  // than committing it.
  absl::StatusOr<v1::OverdueSummary> Summarize(const CallContext& call,
                                               const v1::SummarizeOverdueRequest& request,
                                               storage::Change& audits);
  // Runs `answer(audits) -> absl::StatusOr<T>` and, when it succeeds, commits the audit records
  // it added (if any) before the answer is returned: nothing is disclosed unaudited.
  template <typename Answer>
  auto Audited(Answer answer) -> decltype(answer(std::declval<storage::Change&>()));
  // The body of SummarizeHere and WorkloadHere: admits `caller` to `spec` and answers each
  // request with `answer(call, request, audits)`, Audited.
  template <typename Response, typename Request, typename Answer>
  absl::StatusOr<std::vector<Response>> AnswerHere(const CallContext& caller,
                                                   absl::string_view purpose, const RpcSpec& spec,
                                                   std::span<const Request> requests,
                                                   Answer answer);

  // The obligations of `force` open at `as_of` by the context's history (ledger.h), indexed
  // as the OverdueIndex indexes today's, and each version by id.
  struct History {
    std::unique_ptr<OverdueIndex> index;
    absl::flat_hash_map<std::string, v1::Obligation> by_id;
    std::optional<absl::Time> history_begins;
  };
  absl::StatusOr<History> HistoryAt(absl::string_view context, const OverdueIndex& current,
                                    absl::string_view force, absl::Time as_of) const;

  // A ListOverdue request checked, and the page's entries chosen from the index (or the
  // history) without reading an obligation: what List does before it reads and discloses.
  struct ListPlan {
    std::string context;
    const OverdueIndex* index = nullptr;  // today's, which Read reads through
    std::string force;
    absl::Time as_of;
    v1::AsOfView view = v1::AS_OF_VIEW_UNSPECIFIED;
    v1::BacklogOrder order = v1::BACKLOG_ORDER_OLDEST_FIRST;
    int page_size = 0;
    std::string query;  // what the page token is bound to
    History history;    // for AS_OF_VIEW_HISTORY
    std::vector<OverdueIndex::Entry> entries;
    bool more = false;  // entries after the last of `entries`
  };
  absl::StatusOr<ListPlan> PlanList(const CallContext& call,
                                    const v1::ListOverdueRequest& request) const;
  // Reads and names the plan's obligations, and adds the record of their disclosure to `audits`.
  absl::StatusOr<v1::ListOverdueResponse> AnswerList(const CallContext& call, const ListPlan& plan,
                                                     storage::Change& audits);
  // Trims `plans` (one order, one page size) to the entries among the first page_size of them
  // all merged, but never below one entry (ListHere).
  static void KeepMergedPage(std::vector<ListPlan>& plans);

  absl::StatusOr<const OverdueIndex*> Index(absl::string_view context) const;
  // The obligations of `entries` as `view` holds them, in the entries' order (one batched
  // read); nullopt for one closed since.
  absl::StatusOr<std::vector<std::optional<v1::Obligation>>> Read(
      const storage::ReadView& view, const OverdueIndex& index, absl::string_view force,
      std::span<const OverdueIndex::Entry> entries) const;

  RpcRuntime& runtime_;
  storage::Store& store_;
  FeedNotifier& notifier_;
  const std::map<std::string, FeedContext> contexts_;
};

// Checks a scope request: an officer may only ask about their own obligations; as_of defaults
// to call.now and may not be before 1900; kinds must be known. Shared with the backlog service.
absl::StatusOr<OverdueIndex::Scope> ScopeOf(const CallContext& call, absl::string_view team,
                                            absl::string_view officer,
                                            const google::protobuf::RepeatedField<int>& kinds);
// Adds a listing's risk-level and age-band filters (ListOverdue, ListBacklogItems) to `scope`.
// InvalidArgument naming risk_levels or age_bands for a value this server does not know.
absl::Status AddListFilters(const google::protobuf::RepeatedField<int>& risk_levels,
                            const google::protobuf::RepeatedField<int>& age_bands,
                            OverdueIndex::Scope& scope);
// The kinds, risk levels and age bands of `scope` as text, for the query a page token is bound
// to: a token is refused by a listing with other filters.
std::string FiltersKey(const OverdueIndex::Scope& scope);
// Flattens one feed entry (an ObligationEventBatch committed under `sequence`) into the events
// WatchObligations sends: clock transitions, then notices, each with the sequence, the last
// marked last_of_sequence. Only events of `force` unless it is empty. DataLoss if unreadable.
absl::Status FlattenFeedEntry(uint64_t sequence, absl::string_view payload, absl::string_view force,
                              std::vector<v1::ObligationEvent>& out);

absl::StatusOr<absl::Time> AsOf(const CallContext& call, bool present,
                                const google::protobuf::Timestamp& as_of);

// How far before now an as_of the caller set may be and still be answered from today's open
// obligations (AS_OF_VIEW_CURRENT): a client that sends its own "now" keeps the fast path.
inline constexpr absl::Duration kHistoryTolerance = absl::Minutes(5);

// The view that answers `as_of`: `asked` unless it is AS_OF_VIEW_UNSPECIFIED; otherwise
// HISTORY when the caller set as_of (`present`) more than kHistoryTolerance before call.now,
// CURRENT when it is now or later (a work list's horizon). InvalidArgument naming `view` for a
// value this server does not know.
absl::StatusOr<v1::AsOfView> ChooseView(const CallContext& call, bool present, absl::Time as_of,
                                        int asked);

}  // namespace vigil

#endif  // VIGIL_SERVICES_OBLIGATIONS_OBLIGATION_FEED_SERVICE_H_
