// How long N simultaneous deadlines take to become alerts, and how long from a due time to a
// subscriber holding the event. A real store on disk, the real AlertEngine and AlertScanner on
// the system clock, and a gRPC subscriber to the AlertService (in-process channel, so the
// figure is vigil's and not the loopback's).
//
// N obligations are followed (as the feed follower would apply them, in batches of 512) with
// one due time a few seconds ahead; then the scanner wakes at that time and works through them
// in batches of 500 while a second client keeps calling ListAlerts, to show what the scan does
// to other RPCs.
//
//   build/bench/alerts_bench [--deadlines=100000] [--dir=/path/on/the/data/disk] [--batches]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/logging.h"
#include "base/proto_time.h"
#include "grpcpp/client_context.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_service.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/metrics.h"
#include "services/common/server.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "vigil/v1/alerts.grpc.pb.h"

ABSL_FLAG(int, deadlines, 100'000, "Obligations falling due at the same moment");
ABSL_FLAG(std::string, dir, "", "Where the store goes (default: a fresh directory under /tmp)");
ABSL_FLAG(bool, batches, false,
          "The subscriber takes AlertService.SubscribeBatches (several events to a message) "
          "instead of Subscribe");

namespace vigil {
namespace {

constexpr int kApplyBatch = 512;  // as FeedFollower commits

void Identify(grpc::ClientContext& context) {
  context.AddMetadata("x-vigil-actor", "Supt Rowe");
  context.AddMetadata("x-vigil-role", "supervisor");
  context.AddMetadata("x-vigil-force", "wessex");
  context.AddMetadata("x-vigil-purpose", "alerts benchmark");
}

v1::ObligationEvent Opened(int i, absl::Time due) {
  static constexpr v1::RiskLevel kRisks[] = {v1::RISK_LEVEL_LOW,    v1::RISK_LEVEL_LOW,
                                             v1::RISK_LEVEL_MEDIUM, v1::RISK_LEVEL_MEDIUM,
                                             v1::RISK_LEVEL_HIGH,   v1::RISK_LEVEL_VERY_HIGH};
  v1::ObligationEvent event;
  event.set_type(v1::OBLIGATION_EVENT_TYPE_OPENED);
  event.set_last_of_sequence(true);
  v1::Obligation* o = event.mutable_obligation();
  o->set_id(absl::StrCat("R", i, "/action"));
  o->set_kind(v1::OBLIGATION_KIND_REFERRAL_ACTION);
  o->set_subject_id(absl::StrCat("R", i));
  o->set_risk_level(kRisks[i % 6]);
  *o->mutable_due_time() = ToProtoTime(due);
  o->set_owner_officer(absl::StrCat("DC ", i % 400));
  o->set_team(absl::StrCat("team-", i % 20));
  o->set_force("wessex");
  o->set_policy_version("1");
  o->set_reason("high grade: action within 7 days of receipt");
  return event;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// CPU this process has used so far, every thread, user and system.
absl::Duration ProcessCpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

std::string Percentiles(std::vector<absl::Duration> v) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return Ms(v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]);
  };
  return absl::StrFormat("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (%d samples)",
                         at(0.50), at(0.95), at(0.99), Ms(v.back()), v.size());
}

int Run() {
  const int n = absl::GetFlag(FLAGS_deadlines);
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) dir = absl::StrCat("/tmp/vigil-alerts-bench-", getpid());
  std::filesystem::remove_all(dir);

  SystemClock clock;
  storage::StoreOptions options;
  options.path = dir;
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "opening %s: %s\n", dir.c_str(), store.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<policy::PolicyRegistry>> policies =
      policy::PolicyRegistry::Open(**store, clock, policy::DefaultPolicy(), "bench");
  if (!policies.ok()) return 1;
  alerts::AlertEngine engine(**store, **policies, clock, absl::UTCTimeZone());
  alerts::AlertScanner scanner(engine, clock);
  engine.SetDeadlineListener([&scanner](absl::Time due) { scanner.WakeFor(due); });

  FeedNotifier notifier;
  notifier.Attach(**store);
  DevHeaderAuthenticator auth;
  Executor executor(2, 1000);
  RpcRuntime runtime(auth, executor, clock);
  alerts::AlertServiceImpl service(runtime, engine, notifier);
  ServerOptions server;
  server.listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<ServerHost>> host =
      ServerHost::Start(server, {{v1::AlertService::service_full_name(), &service}});
  if (!host.ok()) return 1;
  auto stub = v1::AlertService::NewStub((*host)->InProcessChannel());

  // The subscriber, live from the head (fixed once its initial metadata arrives, before any
  // alert can be raised), notes when each RAISED event arrives. Bounded: a lost event fails
  // the run instead of hanging it.
  grpc::ClientContext subscribe_context;
  Identify(subscribe_context);
  subscribe_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(120) + absl::Milliseconds(n)));
  v1::SubscribeRequest subscribe;
  subscribe.set_start_at_head(true);
  const bool batches = absl::GetFlag(FLAGS_batches);
  std::unique_ptr<grpc::ClientReader<v1::AlertEvent>> reader;
  std::unique_ptr<grpc::ClientReader<v1::AlertEventBatch>> batch_reader;
  if (batches) {
    v1::SubscribeBatchesRequest batches_request;
    batches_request.set_start_at_head(true);
    batch_reader = stub->SubscribeBatches(&subscribe_context, batches_request);
    batch_reader->WaitForInitialMetadata();
  } else {
    reader = stub->Subscribe(&subscribe_context, subscribe);
    reader->WaitForInitialMetadata();
  }

  // Follow N obligations, all due at the same moment, far enough ahead for the setup.
  const absl::Duration setup_allowance = absl::Seconds(2) + absl::Milliseconds(n / 40);
  const absl::Time due = absl::Now() + setup_allowance;
  const absl::Time apply_started = absl::Now();
  std::vector<alerts::FeedEntry> batch;
  for (int i = 0; i < n; ++i) {
    batch.push_back(alerts::FeedEntry{static_cast<uint64_t>(i + 1), {Opened(i, due)}});
    if (batch.size() == kApplyBatch || i + 1 == n) {
      if (absl::Status s = engine.Apply("ocait", batch); !s.ok()) {
        std::fprintf(stderr, "apply: %s\n", s.ToString().c_str());
        return 1;
      }
      batch.clear();
    }
  }
  const absl::Duration apply_time = absl::Now() - apply_started;
  if (absl::Now() >= due) {
    std::fprintf(stderr, "alerts_bench: setup overran the due time; raise the allowance\n");
    return 1;
  }
  scanner.Start();

  std::vector<absl::Duration> latencies;
  latencies.reserve(n);
  absl::Time last_received;
  absl::Duration cpu_at_last;
  std::thread subscriber([&] {
    auto received = [&](const v1::AlertEvent& event) {
      if (event.type() != v1::ALERT_EVENT_TYPE_RAISED) return;
      last_received = absl::Now();
      latencies.push_back(last_received - TimeOf(event.alert().trigger_time()));
    };
    v1::AlertEvent event;
    v1::AlertEventBatch events;
    while (static_cast<int>(latencies.size()) < n) {
      if (batches) {
        if (!batch_reader->Read(&events)) break;
        for (const v1::AlertEvent& e : events.events()) received(e);
      } else {
        if (!reader->Read(&event)) break;
        received(event);
      }
    }
    cpu_at_last = ProcessCpu();
    subscribe_context.TryCancel();
    const grpc::Status ended = batches ? batch_reader->Finish() : reader->Finish();
    if (static_cast<int>(latencies.size()) < n) {
      std::fprintf(stderr, "alerts_bench: the subscriber saw %zu of %d alerts: %s\n",
                   latencies.size(), n, ended.error_message().c_str());
    }
  });

  // When the scanner has committed the last alert: the rest of the latency is delivery.
  absl::Time all_committed = absl::InfiniteFuture();
  absl::Duration cpu_at_due;
  std::thread committed_watch([&] {
    absl::SleepFor(due - absl::Now());
    cpu_at_due = ProcessCpu();
    const Metric& raised = Metrics::Default().Get("alerts_raised_total", "");
    while (raised.value() < n && absl::Now() < due + absl::Seconds(120)) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    all_committed = absl::Now();
  });

  // Another client lists alerts throughout, before and during the scan.
  std::atomic<bool> done{false};
  std::vector<absl::Duration> quiet_rpc, scan_rpc;
  std::thread lister([&] {
    v1::ListAlertsRequest request;
    request.mutable_page()->set_page_size(20);
    while (!done.load()) {
      grpc::ClientContext context;
      Identify(context);
      v1::ListAlertsResponse response;
      const absl::Time start = absl::Now();
      const grpc::Status status = stub->ListAlerts(&context, request, &response);
      const absl::Time end = absl::Now();
      if (!status.ok()) std::fprintf(stderr, "ListAlerts: %s\n", status.error_message().c_str());
      (end < due ? quiet_rpc : scan_rpc).push_back(end - start);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  subscriber.join();
  committed_watch.join();
  done.store(true);
  lister.join();
  scanner.Stop();
  const absl::Duration all_alerted = last_received - due;

  std::printf("alerts_bench: %d simultaneous deadlines, store %s, subscriber on %s\n", n,
              dir.c_str(), batches ? "SubscribeBatches" : "Subscribe");
  std::printf("  follow %d obligations (feed batches of %d):  %.0f ms (%.0f obligations/s)\n", n,
              kApplyBatch, Ms(apply_time), n / absl::ToDoubleSeconds(apply_time));
  std::printf("  due -> last RAISED event at the subscriber:   %.0f ms (%.0f alerts/s)\n",
              Ms(all_alerted), n / absl::ToDoubleSeconds(all_alerted));
  std::printf("  due -> last alert committed by the scanner:     %.0f ms (%.0f alerts/s)\n",
              Ms(all_committed - due), n / absl::ToDoubleSeconds(all_committed - due));
  // The scan, delivery and the lister together, on however many cores: the figure that a
  // loaded machine's wall times scatter around.
  const absl::Duration cpu = cpu_at_last - cpu_at_due;
  std::printf("  CPU from due to the last event (all threads):  %.0f ms (%.1f us per alert)\n",
              Ms(cpu), absl::ToDoubleMicroseconds(cpu) / n);
  std::printf("  due -> each RAISED event at the subscriber:    %s\n",
              Percentiles(latencies).c_str());
  std::printf("  ListAlerts before the deadlines passed:        %s\n",
              Percentiles(quiet_rpc).c_str());
  std::printf("  ListAlerts while they were being alerted:      %s\n",
              Percentiles(scan_rpc).c_str());

  (*host)->Shutdown(absl::ZeroDuration());
  executor.Shutdown();
  store->reset();
  std::filesystem::remove_all(dir);
  return latencies.size() == static_cast<size_t>(n) ? 0 : 1;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  vigil::SetLogThreshold(vigil::LogLevel::kWarning);  // the scanner's progress lines are noise here
  return vigil::Run();
}
