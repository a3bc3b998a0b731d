// Alerts end to end: the real vigild raising alerts for a historic queue imported with the
// vigil CLI, a gRPC subscriber reading them live, kill -9 in the middle of the scan, and the
// `vigil alerts` verbs an officer or supervisor runs.
#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/alerts.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::ReadFile;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

// Every service but alerts: the queue is loaded before anything watches its clocks.
constexpr char kWithoutAlerts[] = "audit,rso,ocait,backlog,admin";

void AddIdentity(grpc::ClientContext& context) {
  testing::AddIdentity(context, {"DS Holt", "supervisor", "wessex", "alerts e2e"});
}

// What a subscriber saw of one event.
struct Seen {
  uint64_t sequence;
  v1::AlertEventType type;
  std::string alert_id;
};

// A subscriber that reads the alert stream from `after`, recording every event, until the
// stream ends (the server went away) or `enough` returns true.
class Subscriber {
 public:
  grpc::Status Follow(const std::shared_ptr<grpc::Channel>& channel, uint64_t after,
                      const std::function<bool()>& enough,
                      absl::Duration timeout = absl::Seconds(300)) {
    grpc::ClientContext context;
    AddIdentity(context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::SubscribeRequest request;
    request.set_resume_after_sequence(after);
    auto reader = v1::AlertService::NewStub(channel)->Subscribe(&context, request);
    v1::AlertEvent event;
    while (reader->Read(&event)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(Seen{event.sequence(), event.type(), event.alert().id()});
      }
      if (event.type() == v1::ALERT_EVENT_TYPE_RAISED) raised_.fetch_add(1);
      if (enough()) {
        context.TryCancel();
        break;
      }
    }
    return reader->Finish();
  }

  int raised() const { return raised_.load(); }
  uint64_t last_sequence() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.empty() ? 0 : seen_.back().sequence;
  }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::atomic<int> raised_{0};
};

class AlertsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { vigild_ = std::make_unique<VigildProcess>(dir_.path()); }

  // A queue of `n` referrals received in 2023 and never triaged: each owes a triage that is
  // long overdue, so each is one alert as soon as something watches.
  std::string WriteQueue(int n) {
    std::string path = dir_.path() + "/queue.csv";
    std::ofstream out(path);
    out << "source_reference,received_date,source,subject,state\n";
    for (int i = 0; i < n; ++i) {
      out << "CEOP-" << i << ",2023-" << (1 + i % 12) << "-" << (1 + i % 28) << ",nca-ceop,Subject "
          << i << ",received\n";
    }
    return path;
  }

  RunResult Vigil(std::vector<std::string> args) {
    return RunVigil(vigild_->address(), std::move(args),
                    {"DS Holt", "supervisor", "wessex", "e2e", "ocait", "superintendent"});
  }

  // vigild's metrics, by name.
  std::map<std::string, int64_t> Metrics() {
    const RunResult metrics = Vigil({"metrics", "-o", "json"});
    v1::GetMetricsResponse figures;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(metrics.output, &figures).ok())
        << metrics.output;
    std::map<std::string, int64_t> value;
    for (const v1::Metric& m : figures.metrics()) value[m.name()] = m.value();
    return value;
  }

  std::vector<v1::Alert> ListAll(v1::AlertState state) {
    std::vector<v1::Alert> alerts;
    auto stub = v1::AlertService::NewStub(vigild_->channel());
    v1::ListAlertsRequest request;
    request.mutable_filters()->set_state(state);
    request.mutable_page()->set_page_size(1000);
    do {
      grpc::ClientContext context;
      AddIdentity(context);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::ListAlertsResponse response;
      const grpc::Status status = stub->ListAlerts(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      alerts.insert(alerts.end(), response.alerts().begin(), response.alerts().end());
      request.mutable_page()->set_page_token(response.next_page_token());
    } while (!request.page().page_token().empty());
    return alerts;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
};

TEST_F(AlertsEndToEndTest, KillDuringTenThousandDeadlinesLosesAndDuplicatesNothing) {
  constexpr int kOverdue = 10'000;
  ASSERT_THAT(vigild_->Start({"--services", kWithoutAlerts}), IsOk());
  const RunResult imported =
      Vigil({"import", "referrals", WriteQueue(kOverdue), "--batch-size", "500"});
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  ASSERT_THAT(imported.output, HasSubstr("10000 imported"));
  ASSERT_THAT(vigild_->Stop(SIGTERM), IsOk());

  // With alerts on, 10,000 clocks have all passed: the follower alerts each as it learns of it
  // from the ocait feed. Kill -9 once the subscriber has seen that under way, at a different
  // point on each run.
  std::random_device random;
  const int kill_after = std::uniform_int_distribution<int>(500, 3000)(random);
  RecordProperty("kill_after_raised", kill_after);
  ASSERT_THAT(vigild_->StartOnSamePort(), IsOk());
  Subscriber subscriber;
  std::thread reader([&] { (void)subscriber.Follow(vigild_->channel(), 0, [] { return false; }); });
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (subscriber.raised() < kill_after && absl::Now() < deadline)
    absl::SleepFor(absl::Microseconds(200));
  vigild_->Kill();
  reader.join();
  const int raised_before_kill = subscriber.raised();
  RecordProperty("raised_before_kill", raised_before_kill);
  ASSERT_GE(raised_before_kill, kill_after);
  EXPECT_LT(raised_before_kill, kOverdue) << "the kill came after the alerts were all raised";

  // Restarted, it finishes; the subscriber resumes after the last event it saw.
  ASSERT_THAT(vigild_->StartOnSamePort(), IsOk());
  const grpc::Status resumed = subscriber.Follow(vigild_->channel(), subscriber.last_sequence(),
                                                 [&] { return subscriber.raised() >= kOverdue; });
  ASSERT_EQ(subscriber.raised(), kOverdue) << resumed.error_message();
  // Nothing more turns up afterwards.
  Subscriber later;
  const grpc::Status quiet = later.Follow(
      vigild_->channel(), subscriber.last_sequence(), [] { return true; }, absl::Seconds(2));
  EXPECT_EQ(quiet.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(later.raised(), 0);

  // The stream, across the crash: every sequence once, in order, no gaps; one RAISED per alert.
  const std::vector<Seen> seen = subscriber.seen();
  std::set<std::string> raised_ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].sequence, i + 1) << "event " << i;
    if (seen[i].type == v1::ALERT_EVENT_TYPE_RAISED) {
      EXPECT_TRUE(raised_ids.insert(seen[i].alert_id).second)
          << "raised twice: " << seen[i].alert_id;
    }
  }
  EXPECT_EQ(raised_ids.size(), static_cast<size_t>(kOverdue));

  // The store: exactly one open alert per overdue obligation, the same ones the stream raised.
  const std::vector<v1::Alert> open = ListAll(v1::ALERT_STATE_OPEN);
  ASSERT_EQ(open.size(), static_cast<size_t>(kOverdue));
  std::set<std::string> obligations, alert_ids;
  for (const v1::Alert& a : open) {
    alert_ids.insert(a.id());
    obligations.insert(a.obligation().id());
    EXPECT_EQ(a.obligation().kind(), v1::OBLIGATION_KIND_REFERRAL_ACTION);
  }
  EXPECT_EQ(obligations.size(), static_cast<size_t>(kOverdue));
  EXPECT_EQ(alert_ids, raised_ids);
  // And the kill did interrupt the work: the restarted vigild raised the rest.
  const int64_t raised_after_restart = Metrics()["alerts_raised_total"];
  RecordProperty("raised_after_restart", static_cast<int>(raised_after_restart));
  EXPECT_GT(raised_after_restart, 0) << "every alert was raised before the kill";
  // (Alerts committed after the subscriber's last read before the kill were raised before it.)
  EXPECT_LE(raised_after_restart, kOverdue - raised_before_kill);
}

TEST_F(AlertsEndToEndTest, OfficerWatchesListsAndAcknowledgesWithTheCli) {
  ASSERT_THAT(vigild_->Start(), IsOk());
  ASSERT_EQ(Vigil({"import", "referrals", WriteQueue(3)}).exit_code, 0);

  // A new watcher replays from the start, and records where it stopped.
  const std::string state = dir_.path() + "/watch.state";
  const RunResult watched = Vigil(
      {"alerts", "watch", "--from-start", "--count", "3", "--state-file", state, "-o", "json"});
  ASSERT_EQ(watched.exit_code, 0) << watched.output;
  std::vector<std::string> ids;
  // Stderr (merged here) says where the watch starts and that it is waiting.
  EXPECT_THAT(watched.output, HasSubstr("vigil: watching alerts after #0; waiting for events"));
  for (absl::string_view line : absl::StrSplit(watched.output, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "vigil: ")) continue;
    v1::AlertEvent event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &event).ok())
        << line;
    EXPECT_EQ(event.type(), v1::ALERT_EVENT_TYPE_RAISED);
    EXPECT_EQ(event.sequence(), ids.size() + 1);
    ids.push_back(event.alert().id());
  }
  ASSERT_EQ(ids.size(), 3u);

  // Operators see the scan and the feeds in the metrics (counted just after each commit).
  std::map<std::string, int64_t> value = Metrics();
  for (int i = 0; i < 500 && value["alerts_raised_total"] < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    value = Metrics();
  }
  EXPECT_EQ(value["alerts_raised_total"], 3);
  // Imported overdue: the follower raised them; the scanner had no deadline to process.
  EXPECT_EQ(value["alerts_scan_deadlines_total"], 0);
  EXPECT_EQ(value["feed_head_alerts"], 3);
  EXPECT_GT(value["feed_head_ocait"], 0);
  EXPECT_EQ(value["alerts_feed_applied_ocait"], value["feed_head_ocait"]);
  EXPECT_THAT(Vigil({"metrics", "alerts_"}).output, HasSubstr("alerts_raised_total"));

  const RunResult listed = Vigil({"alerts", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  for (const std::string& id : ids) EXPECT_THAT(listed.output, HasSubstr(id));
  EXPECT_THAT(listed.output, HasSubstr("referral-action"));
  EXPECT_THAT(listed.output, HasSubstr("overdue"));

  const RunResult acked = Vigil({"alerts", "ack", ids[0], "--note", "triaging today"});
  ASSERT_EQ(acked.exit_code, 0) << acked.output;
  // One alert as a table: its ladder and who acknowledged it ("get" names the same verb).
  for (const char* verb : {"show", "get"}) {
    const RunResult shown = Vigil({"alerts", verb, ids[0]});
    ASSERT_EQ(shown.exit_code, 0) << shown.output;
    EXPECT_THAT(shown.output, ContainsRegex(absl::StrCat("ALERT +", ids[0])));
    EXPECT_THAT(shown.output, HasSubstr("LADDER (policy "));
    EXPECT_THAT(shown.output, HasSubstr("triaging today"));
  }
  EXPECT_THAT(acked.output, HasSubstr("acknowledged " + ids[0]));
  EXPECT_THAT(acked.output, HasSubstr("by DS Holt"));
  EXPECT_THAT(Vigil({"alerts", "list", "--state", "acknowledged"}).output, HasSubstr(ids[0]));
  const RunResult unknown = Vigil({"alerts", "ack", "AL0000", "--note", "x"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("NOT_FOUND"));

  // The watcher resumes from its state file, and across a server restart: it sees the first
  // acknowledgement at once, then the second after reconnecting.
  RunResult resumed;
  std::thread watcher([&] {
    resumed = Vigil({"alerts", "watch", "--count", "2", "--state-file", state});
  });
  // Restart the server only once the watcher has printed #4 (and recorded it).
  const absl::Time wait_until = absl::Now() + absl::Seconds(60);
  while (ReadFile(state) != "4\n" && absl::Now() < wait_until)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(ReadFile(state), "4\n");
  ASSERT_THAT(vigild_->Stop(SIGTERM), IsOk());
  ASSERT_THAT(vigild_->StartOnSamePort(), IsOk());
  EXPECT_EQ(Vigil({"alerts", "ack", ids[1], "--note", "allocated to DC 9"}).exit_code, 0);
  watcher.join();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("#4 "));
  EXPECT_THAT(resumed.output, HasSubstr("acknowledged " + ids[0]));
  EXPECT_THAT(resumed.output, HasSubstr("resuming after #4"));
  EXPECT_THAT(resumed.output, HasSubstr("#5 "));
  EXPECT_THAT(resumed.output, HasSubstr("acknowledged " + ids[1]));
  EXPECT_THAT(resumed.output, HasSubstr("by DS Holt: allocated to DC 9"));
}

}  // namespace
}  // namespace vigil
