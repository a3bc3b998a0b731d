// vigil_load: loads a synthetic force into a running vigild and drives a mixed workload at it
// from C concurrent clients, each a closed loop of gRPC callback-API calls (one call in flight
// per client), for a fixed time or number of calls. Prints the load phase's rate and, per RPC,
// throughput and latency percentiles.
//
//   vigil_load --server 127.0.0.1:7420 --offenders 25000 --referrals 5000 --load_only
//   vigil_load --server 127.0.0.1:7420 --offenders 25000 --clients 64 --seconds 20
//              --mix record-visit=1,record-arms=1,create-referral=1      (one line)
//   vigil_load --server 127.0.0.1:7420 --clients 1 --calls 2000 --mix backlog-summary=1
//   vigil_load --server 127.0.0.1:7420 --offenders 25000 --clients 16 --rate 1000 --seconds 30
//              --mix record-visit=1            (a background load for another driver's figures)
//
// The synthetic force is clients/cli/demo_data's generator (seeded, deterministic): loading
// it twice adds nothing, so the workload can find its offenders again by generating the same
// rows. Exit status: 0 when every call succeeded, 1 when any failed, 2 on bad usage.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/cli/demo_data.h"
#include "clients/cli/format.h"
#include "clients/common/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7420", "vigild address");
ABSL_FLAG(std::string, force, "wessex", "The force to load and act as");
ABSL_FLAG(std::string, tls_ca, "", "Speak TLS, trusting this CA (docs/security.md)");
ABSL_FLAG(std::string, cert, "", "Client certificate for mutual TLS (its identity is used)");
ABSL_FLAG(std::string, key, "", "Private key of --cert");
ABSL_FLAG(std::string, server_name, "", "The name in the server's certificate, if not --server's");
ABSL_FLAG(std::string, token, "", "Bearer token to send with every call (its identity is used)");
ABSL_FLAG(int, offenders, 0, "Synthetic offenders to load (and to act on); 0: none");
ABSL_FLAG(int, referrals, 0, "Synthetic referrals to load");
ABSL_FLAG(int, teams, 8, "Teams the offenders are spread over");
ABSL_FLAG(int, act_on, 0,
          "Act on this many of the offenders in the community, chosen with --seed (0: all of "
          "them). Sizes compare alike only when each call meets an offender in the same state: "
          "a force of 10,000 obligations has ~2,300 in the community, each met again within "
          "seconds, while at 1M almost every call meets one for the first time");
ABSL_FLAG(int, officers_per_team, 20, "Officers per team");
ABSL_FLAG(uint64_t, seed, 20261123, "Generator seed (the same seed finds the same offenders)");
ABSL_FLAG(bool, load_only, false, "Load the synthetic force, report the rate, and stop");
ABSL_FLAG(int, clients, 64, "Concurrent clients, each with one call in flight");
ABSL_FLAG(int, connections, 8,
          "HTTP/2 connections the clients are spread over, as that many client processes would "
          "open (one connection serialises its calls' frames on one server thread)");
ABSL_FLAG(double, seconds, 10, "How long to drive the workload");
ABSL_FLAG(int64_t, calls, 0, "Stop after this many calls in all instead (0: use --seconds)");
ABSL_FLAG(double, rate, 0,
          "Start calls on a schedule of this many per second in all, each on an idle client "
          "(open loop: a late call waits for a client, and the report shows the rate reached); "
          "0: every client calls again as soon as its call returns");
ABSL_FLAG(std::string, visit_times, "spread",
          "When record-visit's visits took place: 'spread' (any minute of the last week, as "
          "officers are told to vary days and times; the office-hours compliance rule then "
          "rarely fires) or 'recent' (5 minutes ago: during office hours every visit after an "
          "offender's fourth raises a finding and its alert, so the cost depends on the hour)");
ABSL_FLAG(std::string, mix,
          "record-visit=2,record-arms=1,create-referral=1,backlog-summary=2,backlog-items=2,list-"
          "alerts=1",
          "Weighted RPCs: record-visit, record-arms, create-referral, get-offender, "
          "backlog-summary, backlog-items, list-alerts");

namespace vigil::load {
namespace {

enum Op {
  kRecordVisit,
  kRecordArms,
  kCreateReferral,
  kGetOffender,
  kBacklogSummary,
  kBacklogItems,
  kListAlerts,
  kOpCount
};
constexpr const char* kOpNames[kOpCount] = {"record-visit", "record-arms",     "create-referral",
                                            "get-offender", "backlog-summary", "backlog-items",
                                            "list-alerts"};
constexpr const char* kRpcNames[kOpCount] = {
    "VisitService/RecordVisit",         "AssessmentService/RecordArmsAssessment",
    "ReferralService/CreateReferral",   "OffenderService/GetOffender",
    "BacklogService/GetBacklogSummary", "BacklogService/ListBacklogItems",
    "AlertService/ListAlerts"};

// With a certificate or token the credential names the caller; without one (a development
// server) the identity headers do.
void Identify(grpc::ClientContext& context, const std::string& force) {
  static const std::string token = absl::GetFlag(FLAGS_token);
  static const bool credential = !token.empty() || !absl::GetFlag(FLAGS_cert).empty();
  client::AddBearerToken(context, token);
  if (!credential) {
    context.AddMetadata("x-vigil-actor", "Load Driver");
    context.AddMetadata("x-vigil-role", "supervisor");
    context.AddMetadata("x-vigil-force", force);
  }
  context.AddMetadata("x-vigil-purpose", "load test");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

// The stubs of one connection.
struct Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& channel)
      : offenders(v1::OffenderService::NewStub(channel)),
        assessments(v1::AssessmentService::NewStub(channel)),
        visits(v1::VisitService::NewStub(channel)),
        referrals(v1::ReferralService::NewStub(channel)),
        backlog(v1::BacklogService::NewStub(channel)),
        alerts(v1::AlertService::NewStub(channel)) {}
  std::unique_ptr<v1::OffenderService::Stub> offenders;
  std::unique_ptr<v1::AssessmentService::Stub> assessments;
  std::unique_ptr<v1::VisitService::Stub> visits;
  std::unique_ptr<v1::ReferralService::Stub> referrals;
  std::unique_ptr<v1::BacklogService::Stub> backlog;
  std::unique_ptr<v1::AlertService::Stub> alerts;
};

class Client;

// What the clients share: connections, the offenders they act on, and the stop rule.
struct Shared {
  std::string force;
  std::vector<Stubs> connections;       // client i calls through connections[i % size]
  std::vector<std::string> active_ids;  // in the community: visits and ARMS are accepted
  // Per active_ids entry: the earliest instant a visit may be dated (a day after registration,
  // or after the notification requirement started when not registered).
  std::vector<absl::Time> visitable_since;
  std::vector<double> weights;
  absl::Time stop_at;
  int64_t call_budget = 0;  // 0: time-bound
  std::atomic<int64_t> issued{0};

  double rate = 0;            // --rate: calls started per second by the pacer (0: closed loops)
  bool spread_visits = true;  // --visit_times=spread

  absl::Mutex mu;
  absl::CondVar done_cv;  // with mu: running reached 0
  int running ABSL_GUARDED_BY(mu) = 0;
  std::vector<Client*> idle ABSL_GUARDED_BY(mu);  // paced: clients with no call in flight
  std::map<std::string, int> error_samples ABSL_GUARDED_BY(mu);  // "RPC: code message" -> count
};

// One closed loop: issues a call, and from its completion issues the next.
class Client {
 public:
  Client(Shared& shared, int index)
      : shared_(shared),
        stubs_(shared.connections[static_cast<size_t>(index) % shared.connections.size()]),
        rng_(1000 + index),
        pick_(shared.weights.begin(), shared.weights.end()) {}

  void Start() { Next(); }

  // Issues one call of the mix (paced: the pacer's call, on a client it took from idle).
  void IssueOne() {
    const Op op = static_cast<Op>(pick_(rng_));
    const absl::Time now = absl::Now();
    switch (op) {
      case kRecordVisit: {
        v1::RecordVisitRequest r;
        const size_t offender = rng_() % shared_.active_ids.size();
        r.set_offender_id(shared_.active_ids[offender]);
        absl::Time visited = now - absl::Minutes(5);
        if (shared_.spread_visits) {
          const absl::Time spread = visited - absl::Minutes(rng_() % (7 * 24 * 60));
          if (spread >= shared_.visitable_since[offender]) visited = spread;
        }
        *r.mutable_visit_time() = cli::ToTimestamp(visited);
        r.add_officers("DC Load");
        r.add_officers("PC Load");
        r.set_announced(rng_() % 2 == 0);
        r.set_outcome(v1::VISIT_OUTCOME_SEEN);
        return Issue<v1::Visit>(op, std::move(r),
                                [this](auto... a) { stubs_.visits->async()->RecordVisit(a...); });
      }
      case kRecordArms: {
        v1::RecordArmsAssessmentRequest r;
        r.set_offender_id(SomeOffender());
        *r.mutable_completed_time() = cli::ToTimestamp(now - absl::Minutes(5));
        r.set_assessor("DS Load");
        r.set_risk_level(static_cast<v1::RiskLevel>(1 + rng_() % 4));
        return Issue<v1::ArmsAssessment>(op, std::move(r), [this](auto... a) {
          stubs_.assessments->async()->RecordArmsAssessment(a...);
        });
      }
      case kCreateReferral: {
        v1::CreateReferralRequest r;
        v1::Referral* referral = r.mutable_referral();
        referral->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
        *referral->mutable_received_time() =
            cli::ToTimestamp(now - absl::Hours(static_cast<int64_t>(rng_() % 2000)));
        referral->set_subject_display_name("Load Subject");
        v1::SubjectIdentifier* email = referral->add_identifiers();
        email->set_type(v1::IDENTIFIER_TYPE_EMAIL);
        email->set_value(absl::StrFormat("load%d@example.net", static_cast<int>(rng_() % 1000000)));
        return Issue<v1::Referral>(op, std::move(r), [this](auto... a) {
          stubs_.referrals->async()->CreateReferral(a...);
        });
      }
      case kGetOffender: {
        v1::GetOffenderRequest r;
        r.set_id(SomeOffender());
        return Issue<v1::Offender>(
            op, std::move(r), [this](auto... a) { stubs_.offenders->async()->GetOffender(a...); });
      }
      case kBacklogSummary:
        return Issue<v1::BacklogSummary>(op, v1::GetBacklogSummaryRequest(), [this](auto... a) {
          stubs_.backlog->async()->GetBacklogSummary(a...);
        });
      case kBacklogItems: {
        v1::ListBacklogItemsRequest r;
        r.mutable_page()->set_page_size(50);
        return Issue<v1::ListBacklogItemsResponse>(op, std::move(r), [this](auto... a) {
          stubs_.backlog->async()->ListBacklogItems(a...);
        });
      }
      case kListAlerts: {
        v1::ListAlertsRequest r;
        r.mutable_page()->set_page_size(50);
        return Issue<v1::ListAlertsResponse>(
            op, std::move(r), [this](auto... a) { stubs_.alerts->async()->ListAlerts(a...); });
      }
      case kOpCount:
        break;
    }
  }

  std::vector<int32_t> latencies_us[kOpCount];
  int64_t errors[kOpCount] = {};

 private:
  template <typename Request, typename Response>
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
  };

  bool MayIssue() {
    if (shared_.call_budget > 0) return shared_.issued.fetch_add(1) < shared_.call_budget;
    return absl::Now() < shared_.stop_at;
  }

  void Finish() {
    absl::MutexLock lock(&shared_.mu);
    if (--shared_.running == 0) shared_.done_cv.SignalAll();
  }

  void Done(Op op, absl::Time start, const grpc::Status& status) {
    latencies_us[op].push_back(static_cast<int32_t>(
        std::min<int64_t>(INT32_MAX, absl::ToInt64Microseconds(absl::Now() - start))));
    if (!status.ok()) {
      ++errors[op];
      absl::MutexLock lock(&shared_.mu);
      ++shared_.error_samples[absl::StrCat(kRpcNames[op], ": ", status.error_code(), " ",
                                           status.error_message().substr(0, 120))];
    }
    Next();
  }

  // Issues `request` through `method` (a stub's async() member), then continues.
  template <typename Response, typename Request, typename Method>
  void Issue(Op op, Request request, Method method) {
    auto call = std::make_shared<Call<Request, Response>>();
    Identify(call->context, shared_.force);
    call->request = std::move(request);
    const absl::Time start = absl::Now();
    method(&call->context, &call->request, &call->response,
           [this, call, op, start](const grpc::Status& status) { Done(op, start, status); });
  }

  const std::string& SomeOffender() {
    return shared_.active_ids[rng_() % shared_.active_ids.size()];
  }

  // After a call (or at the start): the next call, if the run goes on; paced, back to idle.
  void Next() {
    if (shared_.rate > 0) {
      absl::MutexLock lock(&shared_.mu);
      shared_.idle.push_back(this);
      return;
    }
    if (!MayIssue()) return Finish();
    IssueOne();
  }

  Shared& shared_;
  const Stubs& stubs_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
};

double Ms(int32_t us) { return us / 1000.0; }

struct Imported {
  int64_t imported = 0;  // written now
  int64_t present = 0;   // there already (an earlier load with the same seed)
  int64_t refused = 0;
  absl::Duration took;
};

// Imports `rows` in batches of 500 from up to 8 threads through `send` (a stub's
// ImportOffenders or ImportReferrals).
template <typename Request, typename Response, typename Row, typename Send>
Imported ImportAll(const std::vector<Row>& rows, int clients, const std::string& force, Send send,
                   const char* what) {
  const absl::Time started = absl::Now();
  std::atomic<size_t> next{0};
  std::atomic<int64_t> imported{0}, present{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, std::min(clients, 8)); ++t) {
    threads.emplace_back([&] {
      while (true) {
        const size_t start = next.fetch_add(500);
        if (start >= rows.size()) return;
        const size_t end = std::min(rows.size(), start + 500);
        Request request;
        for (size_t i = start; i < end; ++i) *request.add_rows() = rows[i];
        grpc::ClientContext context;
        Identify(context, force);
        Response response;
        const grpc::Status status = send(&context, request, &response);
        if (!status.ok()) {
          std::fprintf(stderr, "vigil_load: importing %s: %s\n", what,
                       status.error_message().c_str());
          refused += static_cast<int64_t>(end - start);
          continue;
        }
        imported += response.imported();
        present += response.already_present();
        refused += response.errors_size();
        std::fprintf(
            stderr, "\r%s: %lld of %zu", what,
            static_cast<long long>(imported.load()) + static_cast<long long>(present.load()),
            rows.size());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::fprintf(stderr, "\n");
  return Imported{imported.load(), present.load(), refused.load(), absl::Now() - started};
}

absl::StatusOr<std::vector<double>> ParseMix(const std::string& text) {
  std::vector<double> weights(kOpCount, 0);
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    const auto* name = std::find_if(std::begin(kOpNames), std::end(kOpNames),
                                    [&](const char* n) { return kv.first == n; });
    double weight = 1;
    if (name == std::end(kOpNames) ||
        (!kv.second.empty() && !absl::SimpleAtod(kv.second, &weight)) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--mix: '", part,
                                                     "' is not NAME=WEIGHT with NAME one of ",
                                                     absl::StrJoin(kOpNames, ", ")));
    }
    weights[name - std::begin(kOpNames)] = weight;
  }
  if (std::all_of(weights.begin(), weights.end(), [](double w) { return w == 0; })) {
    return absl::InvalidArgumentError("--mix: give at least one RPC a positive weight");
  }
  return weights;
}

int Main() {
  Shared shared;
  shared.force = absl::GetFlag(FLAGS_force);
  const int clients = absl::GetFlag(FLAGS_clients);
  if (clients < 1 || clients > 4096) {
    std::fprintf(stderr, "vigil_load: --clients must be 1-4096\n");
    return 2;
  }
  if (const double rate = absl::GetFlag(FLAGS_rate); rate != 0 && !(rate >= 0.01 && rate <= 1e6)) {
    std::fprintf(stderr,
                 "vigil_load: --rate must be 0 (as fast as the clients go) or 0.01 to 1000000 "
                 "calls/s\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_act_on) < 0) {
    std::fprintf(stderr, "vigil_load: --act_on must be 0 (every offender found) or more\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_calls) < 0) {
    std::fprintf(stderr, "vigil_load: --calls must be 0 (use --seconds) or more\n");
    return 2;
  }
  const std::string visit_times = absl::GetFlag(FLAGS_visit_times);
  if (visit_times != "spread" && visit_times != "recent") {
    std::fprintf(stderr, "vigil_load: --visit_times must be spread or recent (got '%s')\n",
                 visit_times.c_str());
    return 2;
  }
  shared.spread_visits = visit_times == "spread";
  absl::StatusOr<std::vector<double>> weights = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!weights.ok()) {
    std::fprintf(stderr, "vigil_load: %s\n", std::string(weights.status().message()).c_str());
    return 2;
  }
  shared.weights = *weights;

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  // Several connections, as several client processes would open, so HTTP/2 stream limits and
  // one connection's serialisation do not bound the server.
  const client::TransportOptions transport{absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_cert),
                                           absl::GetFlag(FLAGS_key),
                                           absl::GetFlag(FLAGS_server_name)};
  const int connections = absl::GetFlag(FLAGS_connections);
  if (connections < 1 || connections > 256) {
    std::fprintf(stderr, "vigil_load: --connections must be 1-256\n");
    return 2;
  }
  shared.connections.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments a = args;
    a.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::Connect(absl::GetFlag(FLAGS_server), transport, a);
    if (!channel.ok()) {
      std::fprintf(stderr, "vigil_load: %s\n", std::string(channel.status().message()).c_str());
      return 2;
    }
    shared.connections.emplace_back(*channel);
  }
  Stubs& first = shared.connections.front();

  // The synthetic force.
  cli::DemoOptions demo;
  demo.offenders = absl::GetFlag(FLAGS_offenders);
  demo.referrals = absl::GetFlag(FLAGS_referrals);
  demo.teams = absl::GetFlag(FLAGS_teams);
  demo.officers_per_team = absl::GetFlag(FLAGS_officers_per_team);
  demo.seed = absl::GetFlag(FLAGS_seed);
  demo.prefix = "LOAD";
  const cli::DemoData data = cli::GenerateDemo(demo);
  if (!data.offenders.empty() || !data.referrals.empty()) {
    const Imported offenders = ImportAll<v1::ImportOffendersRequest, v1::ImportOffendersResponse>(
        data.offenders, clients, shared.force,
        [&](const auto&... a) { return first.offenders->ImportOffenders(a...); }, "offenders");
    const Imported referrals = ImportAll<v1::ImportReferralsRequest, v1::ImportReferralsResponse>(
        data.referrals, clients, shared.force,
        [&](const auto&... a) { return first.referrals->ImportReferrals(a...); }, "referrals");
    for (const auto& [what, r] :
         {std::pair{"offenders", offenders}, std::pair{"referrals", referrals}}) {
      std::printf(
          "load: %s: %lld imported in %.1f s (%.0f/s), %lld already present, %lld refused\n", what,
          static_cast<long long>(r.imported), absl::ToDoubleSeconds(r.took),
          r.imported / std::max(1e-9, absl::ToDoubleSeconds(r.took)),
          static_cast<long long>(r.present), static_cast<long long>(r.refused));
    }
    std::fflush(stdout);
    if (offenders.refused > 0 || referrals.refused > 0) return 1;
  }
  if (absl::GetFlag(FLAGS_load_only)) return 0;

  const bool needs_offenders = shared.weights[kRecordVisit] > 0 ||
                               shared.weights[kRecordArms] > 0 || shared.weights[kGetOffender] > 0;
  // The offenders in the community, as the server has them (only when the mix acts on
  // offenders: a server such as the national backlog may host no offender register): a record
  // past its notification period is stored EXPIRED (no visits or assessments accepted) whatever
  // status it was loaded with.
  if (needs_offenders) {
    v1::ListOffendersRequest active;
    active.set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
    active.mutable_page()->set_page_size(1000);
    do {
      grpc::ClientContext context;
      Identify(context, shared.force);
      v1::ListOffendersResponse page;
      const grpc::Status status = first.offenders->ListOffenders(&context, active, &page);
      if (!status.ok()) {
        std::fprintf(stderr, "vigil_load: listing the offenders in the community: %s\n",
                     status.error_message().c_str());
        return 1;
      }
      for (const v1::Offender& o : page.offenders()) {
        if (!absl::StartsWith(o.id(), demo.prefix.substr(0, 1))) continue;
        shared.active_ids.push_back(o.id());
        const google::protobuf::Timestamp& since =
            o.has_registered_time() ? o.registered_time() : o.requirement_start_time();
        shared.visitable_since.push_back(absl::FromUnixSeconds(since.seconds()) + absl::Hours(24));
      }
      active.mutable_page()->set_page_token(page.next_page_token());
    } while (!active.page().page_token().empty());
  }
  if (const int act_on = absl::GetFlag(FLAGS_act_on);
      act_on > 0 && static_cast<size_t>(act_on) < shared.active_ids.size()) {
    // A partial Fisher-Yates shuffle of both lists at once: the first act_on, chosen at random.
    std::mt19937_64 rng(demo.seed);
    for (size_t i = 0; i < static_cast<size_t>(act_on); ++i) {
      const size_t j = i + rng() % (shared.active_ids.size() - i);
      std::swap(shared.active_ids[i], shared.active_ids[j]);
      std::swap(shared.visitable_since[i], shared.visitable_since[j]);
    }
    std::fprintf(stderr, "vigil_load: acting on %d of the %zu offenders in the community\n", act_on,
                 shared.active_ids.size());
    shared.active_ids.resize(static_cast<size_t>(act_on));
    shared.visitable_since.resize(static_cast<size_t>(act_on));
  }
  if (needs_offenders && shared.active_ids.empty()) {
    std::fprintf(stderr,
                 "vigil_load: the mix acts on offenders: give --offenders N (loaded, or found "
                 "again with the same --seed)\n");
    return 2;
  }

  // The workload.
  std::vector<std::unique_ptr<Client>> loop;
  loop.reserve(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) loop.push_back(std::make_unique<Client>(shared, i));
  shared.call_budget = absl::GetFlag(FLAGS_calls);
  shared.rate = absl::GetFlag(FLAGS_rate);
  const absl::Time started = absl::Now();
  shared.stop_at = started + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  {
    absl::MutexLock lock(&shared.mu);
    shared.running = clients;
  }
  // On stderr (stdout is the report): a script running this as a background load waits for it.
  std::fprintf(stderr, "vigil_load: driving %d clients\n", clients);
  for (auto& c : loop) c->Start();
  int64_t skipped = 0;  // paced: slots passed with every client busy
  if (shared.rate > 0) {
    // The pacer: slot n starts at started + n / rate, on a client with no call in flight. A
    // slot missed while every client was busy is skipped, not made up in a burst.
    int64_t issued = 0;
    for (int64_t slot = 0; shared.call_budget == 0 || issued < shared.call_budget; ++slot) {
      const absl::Time due = started + absl::Seconds(static_cast<double>(slot) / shared.rate);
      if (shared.call_budget == 0 && due >= shared.stop_at) break;
      absl::SleepFor(due - absl::Now());
      Client* client = nullptr;
      {
        absl::MutexLock lock(&shared.mu);
        shared.mu.Await(absl::Condition(
            +[](Shared* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return !s->idle.empty(); },
            &shared));
        client = shared.idle.back();
        shared.idle.pop_back();
      }
      const absl::Time now = absl::Now();
      if (shared.call_budget == 0 && now >= shared.stop_at) {
        // The run ended while every client was busy: this slot, and any other due before the
        // end, is skipped too (made plus skipped is the schedule, exactly).
        for (; started + absl::Seconds(static_cast<double>(slot) / shared.rate) < shared.stop_at;
             ++slot) {
          ++skipped;
        }
        absl::MutexLock lock(&shared.mu);
        shared.idle.push_back(client);
        break;
      }
      const auto behind = static_cast<int64_t>(absl::ToDoubleSeconds(now - started) * shared.rate);
      if (behind > slot + 1) {
        skipped += behind - slot - 1;
        slot = behind - 1;
      }
      client->IssueOne();
      ++issued;
    }
    // Then every call's end: all clients idle again.
    std::pair<Shared*, size_t> all_idle{&shared, loop.size()};
    absl::MutexLock lock(&shared.mu);
    shared.mu.Await(absl::Condition(
        +[](std::pair<Shared*, size_t>* s)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->first->idle.size() == s->second; },
        &all_idle));
    shared.running = 0;
  }
  {
    absl::MutexLock lock(&shared.mu);
    while (shared.running != 0) shared.done_cv.Wait(&shared.mu);
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);

  std::printf("%d clients, %.1f s\n", clients, elapsed);
  std::printf("%-40s %9s %7s %9s %8s %8s %8s %8s\n", "RPC", "calls", "errors", "calls/s", "p50 ms",
              "p95 ms", "p99 ms", "max ms");
  int64_t total_calls = 0, total_errors = 0;
  for (int op = 0; op < kOpCount; ++op) {
    std::vector<int32_t> all;
    int64_t errors = 0;
    for (auto& c : loop) {
      all.insert(all.end(), c->latencies_us[op].begin(), c->latencies_us[op].end());
      errors += c->errors[op];
    }
    if (all.empty()) continue;
    std::sort(all.begin(), all.end());
    auto at = [&](double q) {
      return Ms(all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))]);
    };
    std::printf("%-40s %9zu %7lld %9.0f %8.2f %8.2f %8.2f %8.2f\n", kRpcNames[op], all.size(),
                static_cast<long long>(errors), all.size() / elapsed, at(0.50), at(0.95), at(0.99),
                Ms(all.back()));
    total_calls += static_cast<int64_t>(all.size());
    total_errors += errors;
  }
  std::printf("%-40s %9lld %7lld %9.0f\n", "all", static_cast<long long>(total_calls),
              static_cast<long long>(total_errors), total_calls / elapsed);
  if (skipped > 0) {
    std::printf("paced: %lld of the scheduled calls skipped, every client busy (more --clients)\n",
                static_cast<long long>(skipped));
  }
  absl::MutexLock lock(&shared.mu);
  for (const auto& [sample, count] : shared.error_samples) {
    std::printf("  error x%d: %s\n", count, sample.c_str());
  }
  return total_errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace vigil::load

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Loads a synthetic force into a running vigild and drives a mixed gRPC workload at it "
      "(see the header of clients/load/load_driver.cc)");
  absl::ParseCommandLine(argc, argv);
  return vigil::load::Main();
}
