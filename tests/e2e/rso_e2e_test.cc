// The offender register end to end: a real vigild, a real gRPC client, and the vigil CLI.
#include <signal.h>

#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/policy.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

google::protobuf::Timestamp DaysAgo(int days) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24) * days));
  return ts;
}

absl::Time At(const google::protobuf::Timestamp& ts) { return absl::FromUnixSeconds(ts.seconds()); }

class RsoEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    ASSERT_THAT(vigild_->Start(), IsOk());
    Connect();
  }

  void Connect() {
    offenders_ = v1::OffenderService::NewStub(vigild_->channel());
    assessments_ = v1::AssessmentService::NewStub(vigild_->channel());
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& force = "wessex",
                                               const std::string& purpose = "e2e test",
                                               const std::string& role = "officer") {
    auto context = std::make_unique<grpc::ClientContext>();
    testing::AddIdentity(*context, {"DC 4512", role, force, purpose});
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  v1::Offender Create(const std::string& id, int registered_days_ago) {
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_id(id);
    request.mutable_offender()->set_display_name("Offender " + id);
    *request.mutable_offender()->mutable_registered_time() = DaysAgo(registered_days_ago);
    request.mutable_offender()->set_owner_officer("DC 4512");
    request.mutable_offender()->set_team("north");
    v1::Offender response;
    const grpc::Status status = offenders_->CreateOffender(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::Offender Get(const std::string& id) {
    v1::GetOffenderRequest request;
    request.set_id(id);
    v1::Offender response;
    const grpc::Status status = offenders_->GetOffender(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Arms(const std::string& id, const google::protobuf::Timestamp& completed,
                    v1::RiskLevel risk) {
    v1::RecordArmsAssessmentRequest request;
    request.set_offender_id(id);
    *request.mutable_completed_time() = completed;
    request.set_assessor("DS Holt");
    request.set_risk_level(risk);
    v1::ArmsAssessment response;
    return assessments_->RecordArmsAssessment(Context().get(), request, &response);
  }

  static const v1::Obligation* Find(const v1::Offender& o, const std::string& suffix) {
    for (const v1::Obligation& ob : o.obligations()) {
      if (ob.id() == o.id() + "/" + suffix) return &ob;
    }
    return nullptr;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
  std::unique_ptr<v1::OffenderService::Stub> offenders_;
  std::unique_ptr<v1::AssessmentService::Stub> assessments_;
};

TEST_F(RsoEndToEndTest, MediumArmsFrom400DaysAgoIsOverdueWithReasonAndPolicyVersion) {
  Create("R1", 900);
  ASSERT_TRUE(Arms("R1", DaysAgo(400), v1::RISK_LEVEL_MEDIUM).ok());
  const v1::Offender o = Get("R1");
  EXPECT_EQ(o.risk_level(), v1::RISK_LEVEL_MEDIUM);
  const v1::Obligation* arms = Find(o, "arms");
  ASSERT_NE(arms, nullptr);
  EXPECT_LT(At(arms->due_time()), absl::Now());
  EXPECT_THAT(arms->reason(), HasSubstr("medium risk: reassess within 365 days of last ARMS on "));
  EXPECT_EQ(arms->policy_version(), "v1");
  EXPECT_EQ(arms->force(), "wessex");
}

TEST_F(RsoEndToEndTest, TriggerOpens28DayClockAndNewAssessmentClosesBoth) {
  Create("R1", 900);
  ASSERT_TRUE(Arms("R1", DaysAgo(400), v1::RISK_LEVEL_MEDIUM).ok());
  v1::RecordTriggerRequest trigger;
  trigger.set_offender_id("R1");
  trigger.set_type(v1::TRIGGER_TYPE_ADDRESS_OR_HOUSEHOLD_CHANGE);
  *trigger.mutable_time() = DaysAgo(1);
  v1::Offender triggered;
  ASSERT_TRUE(offenders_->RecordTrigger(Context().get(), trigger, &triggered).ok());
  const v1::Obligation* clock = Find(triggered, "arms-trigger");
  ASSERT_NE(clock, nullptr);
  EXPECT_THAT(clock->reason(), HasSubstr("reassess within 28 days"));
  const absl::Duration until_due = At(clock->due_time()) - absl::Now();
  EXPECT_GT(until_due, absl::Hours(24 * 25));
  EXPECT_LT(until_due, absl::Hours(24 * 29));
  ASSERT_NE(Find(triggered, "arms"), nullptr);  // the periodic clock stays open

  ASSERT_TRUE(Arms("R1", DaysAgo(0), v1::RISK_LEVEL_HIGH).ok());
  const v1::Offender after = Get("R1");
  EXPECT_EQ(Find(after, "arms-trigger"), nullptr);
  const v1::Obligation* periodic = Find(after, "arms");
  ASSERT_NE(periodic, nullptr);
  EXPECT_GT(At(periodic->due_time()), absl::Now() + absl::Hours(24 * 170));
  EXPECT_THAT(periodic->reason(), HasSubstr("high risk: reassess within 180 days"));
}

TEST_F(RsoEndToEndTest, RegisteredWithoutArmsShowsNotAssessedAndSurvivesRestart) {
  Create("R9", 10);
  v1::ListOffendersRequest request;
  request.set_not_assessed_only(true);
  v1::ListOffendersResponse list;
  ASSERT_TRUE(offenders_->ListOffenders(Context().get(), request, &list).ok());
  ASSERT_EQ(list.offenders_size(), 1);
  EXPECT_EQ(list.offenders(0).risk_level(), v1::RISK_LEVEL_UNSPECIFIED);
  const v1::Obligation* initial = Find(list.offenders(0), "arms");
  ASSERT_NE(initial, nullptr);
  EXPECT_THAT(initial->reason(),
              HasSubstr("not assessed: initial ARMS within 28 days of registration"));

  ASSERT_THAT(vigild_->Restart(), IsOk());
  Connect();
  const v1::Offender after = Get("R9");
  EXPECT_EQ(after.revision(), 1);
  ASSERT_NE(Find(after, "arms"), nullptr);
  EXPECT_EQ(Find(after, "arms")->reason(), initial->reason());
  vigild_->Kill();  // kill -9 keeps acknowledged writes too
  ASSERT_THAT(vigild_->Start(), IsOk());
  Connect();
  ASSERT_TRUE(Arms("R9", DaysAgo(0), v1::RISK_LEVEL_LOW).ok());
  vigild_->Kill();
  ASSERT_THAT(vigild_->Start(), IsOk());
  Connect();
  EXPECT_EQ(Get("R9").risk_level(), v1::RISK_LEVEL_LOW);
}

TEST_F(RsoEndToEndTest, BadInputGetsTheRightStatus) {
  Create("R1", 100);
  EXPECT_EQ(Arms("R1", DaysAgo(-3), v1::RISK_LEVEL_LOW).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Arms("R1", DaysAgo(3), v1::RISK_LEVEL_UNSPECIFIED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Arms("NOBODY", DaysAgo(3), v1::RISK_LEVEL_LOW).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::GetOffenderRequest get;
  get.set_id("R1");
  v1::Offender response;
  EXPECT_EQ(offenders_->GetOffender(Context("mercia").get(), get, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  const grpc::Status no_purpose =
      offenders_->GetOffender(Context("wessex", "").get(), get, &response);
  EXPECT_EQ(no_purpose.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_purpose.error_message(), HasSubstr("x-vigil-purpose"));

  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(7);
  update.mutable_offender()->set_team("south");
  update.mutable_update_mask()->add_paths("team");
  EXPECT_EQ(offenders_->UpdateOffender(Context().get(), update, &response).error_code(),
            grpc::StatusCode::ABORTED);
  update.mutable_update_mask()->set_paths(0, "risk_level");
  EXPECT_EQ(offenders_->UpdateOffender(Context().get(), update, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// The notification lifecycle through the real server: a period that has ended, an indefinite
// requirement's review (refused to an officer, continued, then ended by a force-admin), and the
// alert about the overdue review resolved with the reason its clock closed.
TEST_F(RsoEndToEndTest, NotificationPeriodEndAndIndefiniteReviewCloseClocksWithTheReason) {
  v1::CreateOffenderRequest past;
  past.mutable_offender()->set_id("D00200");
  past.mutable_offender()->set_display_name("Past period");
  *past.mutable_offender()->mutable_registered_time() = DaysAgo(11 * 366);
  past.mutable_offender()->set_notification_period(v1::NOTIFICATION_PERIOD_10_YEARS);
  past.mutable_offender()->set_owner_officer("DC 4512");
  past.mutable_offender()->set_team("north");
  v1::Offender expired;
  ASSERT_TRUE(offenders_->CreateOffender(Context().get(), past, &expired).ok());
  EXPECT_EQ(expired.status(), v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_EQ(expired.obligations_size(), 0);
  EXPECT_THAT(expired.notification_ended_reason(),
              HasSubstr("the 10-year notification period ended on "));

  v1::CreateOffenderRequest indefinite = past;
  indefinite.mutable_offender()->set_id("R-INDEF");
  indefinite.mutable_offender()->set_notification_period(v1::NOTIFICATION_PERIOD_INDEFINITE);
  *indefinite.mutable_offender()->mutable_registered_time() = DaysAgo(16 * 366);
  v1::Offender o;
  ASSERT_TRUE(offenders_->CreateOffender(Context().get(), indefinite, &o).ok());
  ASSERT_EQ(o.status(), v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  const v1::Obligation* review = Find(o, "notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_LT(At(review->due_time()), absl::Now());  // 15 years on: overdue

  v1::RecordNotificationReviewRequest continued;
  continued.set_offender_id("R-INDEF");
  continued.set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED);
  continued.set_reason("risk remains");
  v1::Offender after;
  grpc::Status status = offenders_->RecordNotificationReview(Context().get(), continued, &after);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  status = offenders_->RecordNotificationReview(Context("wessex", "e2e test", "force-admin").get(),
                                                continued, &after);
  ASSERT_TRUE(status.ok()) << status.error_message();
  review = Find(after, "notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_GT(At(review->due_time()), absl::Now() + absl::Hours(24 * 365 * 7));

  // The alert engine raises an alert when a clock is overdue; make one to be resolved: a second
  // indefinite offender whose review is overdue, then end that requirement.
  indefinite.mutable_offender()->set_id("R-ENDED");
  ASSERT_TRUE(offenders_->CreateOffender(Context().get(), indefinite, &o).ok());
  auto alerts = v1::AlertService::NewStub(vigild_->channel());
  auto find_alert = [&](v1::AlertState state) -> std::optional<v1::Alert> {
    v1::ListAlertsRequest list;
    list.mutable_filters()->set_state(state);
    list.mutable_filters()->add_kinds(v1::OBLIGATION_KIND_NOTIFICATION_REVIEW);
    v1::ListAlertsResponse listed;
    auto context = Context("wessex", "e2e test", "supervisor");
    if (!alerts->ListAlerts(context.get(), list, &listed).ok()) return std::nullopt;
    for (const v1::Alert& a : listed.alerts()) {
      if (a.obligation().subject_id() == "R-ENDED") return a;
    }
    return std::nullopt;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!find_alert(v1::ALERT_STATE_OPEN).has_value() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(find_alert(v1::ALERT_STATE_OPEN).has_value()) << "no alert about the overdue review";

  v1::RecordNotificationReviewRequest ended;
  ended.set_offender_id("R-ENDED");
  ended.set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_ENDED);
  ended.set_reason("appeal allowed");
  *ended.mutable_next_review_time() = DaysAgo(-365);
  status = offenders_->RecordNotificationReview(Context("wessex", "e2e test", "force-admin").get(),
                                                ended, &after);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("next_review_time"));
  ended.clear_next_review_time();
  status = offenders_->RecordNotificationReview(Context("wessex", "e2e test", "force-admin").get(),
                                                ended, &after);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(after.status(), v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_EQ(after.obligations_size(), 0);
  std::optional<v1::Alert> resolved;
  while (!(resolved = find_alert(v1::ALERT_STATE_RESOLVED)).has_value() &&
         absl::Now() < deadline + absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(resolved.has_value());
  EXPECT_THAT(resolved->resolution(),
              HasSubstr("the obligation was closed: the indefinite notification requirement was "
                        "ended by the review of "));
  // Survives a restart: still expired, still readable.
  ASSERT_THAT(vigild_->Restart(), IsOk());
  Connect();
  EXPECT_EQ(Get("R-ENDED").status(), v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_EQ(Get("D00200").status(), v1::OFFENDER_STATUS_EXPIRED);
}

TEST_F(RsoEndToEndTest, DuplicateRequestIdReturnsTheFirstResult) {
  v1::CreateOffenderRequest request;
  request.set_request_id("import-42");
  request.mutable_offender()->set_display_name("Once Only");
  *request.mutable_offender()->mutable_registered_time() = DaysAgo(50);
  request.mutable_offender()->set_owner_officer("DC 1");
  request.mutable_offender()->set_team("north");
  v1::Offender first, second, third;
  ASSERT_TRUE(offenders_->CreateOffender(Context().get(), request, &first).ok());
  ASSERT_TRUE(offenders_->CreateOffender(Context().get(), request, &second).ok());
  EXPECT_EQ(second.id(), first.id());
  EXPECT_EQ(second.display_name(), "Once Only");
  // The id with another request is refused rather than answered with the first result.
  request.mutable_offender()->set_display_name("Twice?");
  const grpc::Status refused = offenders_->CreateOffender(Context().get(), request, &third);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("use a new request_id"));
}

TEST_F(RsoEndToEndTest, SigtermLetsACallInFlightFinish) {
  v1::ImportOffendersRequest request;
  for (int i = 0; i < 1000; ++i) {
    v1::OffenderImportRow* row = request.add_rows();
    row->set_line(i + 2);
    row->mutable_offender()->set_id(absl::StrCat("D", i));
    row->mutable_offender()->set_visor_ref(absl::StrCat("VD", i));
    row->mutable_offender()->set_display_name("Drain");
    *row->mutable_offender()->mutable_registered_time() = DaysAgo(30);
    row->mutable_offender()->set_owner_officer("DC 1");
    row->mutable_offender()->set_team("drain");
  }
  v1::ImportOffendersResponse response;
  grpc::Status status;
  std::atomic<bool> done{false};
  std::thread importer([&] {
    auto context = Context("wessex", "e2e test", "supervisor");
    status = offenders_->ImportOffenders(context.get(), request, &response);
    done = true;
  });
  // Once the first row is visible the import is running; then ask vigild to stop.
  v1::GetOffenderRequest first;
  first.set_id("D0");
  bool running = false;
  while (!running && !done) {
    v1::Offender found;
    running =
        offenders_->GetOffender(Context("wessex", "e2e test", "supervisor").get(), first, &found)
            .ok();
  }
  ASSERT_TRUE(running) << "the import finished before it was seen: " << status.error_message();
  absl::StatusOr<int> code = vigild_->Stop(SIGTERM);
  importer.join();
  ASSERT_THAT(code.status(), IsOk());
  EXPECT_EQ(*code, 0);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.imported(), 1000);
  ASSERT_THAT(vigild_->Start(), IsOk());
  Connect();
  v1::ListOffendersRequest list;
  list.set_team("drain");
  list.mutable_page()->set_page_size(1000);
  v1::ListOffendersResponse listed;
  ASSERT_TRUE(
      offenders_->ListOffenders(Context("wessex", "e2e test", "supervisor").get(), list, &listed)
          .ok());
  EXPECT_EQ(listed.offenders_size(), 1000);
}

class RsoCliTest : public RsoEndToEndTest {
 protected:
  RunResult Vigil(std::vector<std::string> args) {
    return RunVigil(vigild_->address(), std::move(args),
                    {"DS Holt", "supervisor", "wessex", "e2e"});
  }
};

TEST_F(RsoCliTest, AnAdminsPolicySurvivesARestart) {
  const RunResult got = Vigil({"policy", "get"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  v1::Policy policy;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(got.output, &policy)) << got.output;
  ASSERT_EQ(policy.version(), "v1");
  policy.clear_version();
  policy.mutable_arms_reassessment_days()->set_medium(182);
  std::string text;
  google::protobuf::TextFormat::PrintToString(policy, &text);
  const std::string file = dir_.Sub("stricter.textproto");
  std::ofstream(file) << text;
  const RunResult set = Vigil({"--role", "force-admin", "policy", "set", file});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("policy v2 is current"));

  // Restarted without --policy, vigild keeps v2: the built-in default only seeds a new store.
  ASSERT_THAT(vigild_->Restart(), IsOk());
  const RunResult after = Vigil({"policy", "get"});
  v1::Policy current;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(after.output, &current))
      << after.output;
  EXPECT_EQ(current.version(), "v2");
  EXPECT_EQ(current.arms_reassessment_days().medium(), 182);
  EXPECT_THAT(Vigil({"policy", "versions"}).output, Not(HasSubstr("v3")));
}

TEST_F(RsoCliTest, ImportReportsProgressBadRowsAndIsRepeatable) {
  const std::string csv = dir_.Sub("register.csv");
  {
    std::ofstream out(csv);
    out << "visor_ref,display_name,registered_date,owner_officer,team,status,last_arms_date,last_"
           "arms_risk\n";
    for (int i = 0; i < 120; ++i) {
      out << "V" << i << ",\"Smith, J " << i << "\",2021-03-0" << (1 + i % 9) << ",DC " << i % 7
          << ",north,active-community,2025-0" << (1 + i % 9) << "-15,"
          << (i % 2 ? "medium" : "high") << "\n";
    }
    out << "V-bad-date,Bad Date,2021-02-30,DC 1,north,,,\n";
    out << "V-future,Future,2099-01-01,DC 1,north,,,\n";
    out << "V-risk,Half,2021-01-01,DC 1,north,,2024-01-01,\n";
  }
  RunResult dry = Vigil({"import", "offenders", csv, "--dry-run", "--batch-size", "50"});
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_THAT(dry.output,
              HasSubstr("dry run: 123 rows, 120 would be imported, 0 already present, 3 refused"));
  RunResult first = Vigil({"import", "offenders", csv, "--batch-size", "50"});
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_THAT(first.output, HasSubstr("123 rows, 120 imported, 0 already present, 3 refused"));
  EXPECT_THAT(first.output, HasSubstr("read 100 rows"));  // the progress line after two batches
  EXPECT_THAT(first.output, HasSubstr("123   offender.registered_time"));
  EXPECT_THAT(first.output,
              HasSubstr("122   registered_date           '2021-02-30' is not a date"));
  EXPECT_THAT(first.output, HasSubstr("124   last_arms_risk_level"));
  RunResult again = Vigil({"import", "offenders", csv});
  EXPECT_THAT(again.output, HasSubstr("0 imported, 120 already present, 3 refused"));

  RunResult list =
      Vigil({"offender", "list", "--team", "north", "--page-size", "1000", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  v1::ListOffendersResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(list.output, &parsed).ok());
  EXPECT_EQ(parsed.offenders_size(), 120);
}

TEST_F(RsoCliTest, OffenderLifecycleThroughTheCli) {
  RunResult created =
      Vigil({"offender", "create", "--id", "C1", "--name", "Carl Doe", "--registered", "2025-01-02",
             "--owner", "DC 7", "--team", "east", "--visor", "99/1"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("NOT ASSESSED"));
  EXPECT_THAT(created.output,
              HasSubstr("not assessed: initial ARMS within 28 days of registration on 2025-01-02"));
  RunResult arms =
      Vigil({"arms", "record", "C1", "--completed", "2026-01-05", "--assessor", "DS Holt", "--risk",
             "very-high", "--risk-factor", "sexual-preoccupation"});
  ASSERT_EQ(arms.exit_code, 0) << arms.output;
  RunResult rmp =
      Vigil({"rmp", "record", "C1", "--reviewed", "2026-01-20", "--author", "DS Holt", "--officers",
             "2", "--visit-interval-days", "14", "--reason", "two visits a month"});
  ASSERT_EQ(rmp.exit_code, 0) << rmp.output;
  RunResult got = Vigil({"offender", "get", "C1"});
  EXPECT_THAT(got.output,
              HasSubstr("very high risk: reassess within 90 days of last ARMS on 2026-01-05"));
  EXPECT_THAT(
      got.output,
      HasSubstr("very high risk: review the RMP within 90 days of the last review on 2026-01-20"));
  RunResult stale = Vigil({"offender", "update", "C1", "--revision", "1", "--team", "west"});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_THAT(stale.output, HasSubstr("ABORTED"));
  RunResult update = Vigil({"offender", "update", "C1", "--revision", "3", "--team", "west"});
  EXPECT_EQ(update.exit_code, 0) << update.output;
  RunResult history = Vigil({"arms", "list", "C1"});
  EXPECT_THAT(history.output, HasSubstr("very-high"));
  RunResult bad = Vigil({"arms", "record", "C1", "--completed", "2026-01-05", "--assessor", "x",
                         "--risk", "extreme"});
  EXPECT_EQ(bad.exit_code, 2) << "a bad flag value is bad usage";
  EXPECT_THAT(bad.output,
              HasSubstr("--risk: 'extreme' is not one of low, medium, high, very-high"));
}

// #17 item 2: RMP history and sign-off through a real vigild, its gRPC API and the CLI.
TEST_F(RsoCliTest, RmpHistoryKeepsEveryPlanAndASergeantSignsOffTheCurrentOne) {
  auto date = [](int days_ago) {
    return absl::FormatTime("%Y-%m-%d", absl::Now() - absl::Hours(24) * days_ago,
                            absl::UTCTimeZone());
  };
  // Imported with a last review 30 days ago that no recorded plan carries.
  v1::ImportOffendersRequest import;
  v1::OffenderImportRow& row = *import.add_rows();
  row.set_line(2);
  row.mutable_offender()->set_id("H1");
  row.mutable_offender()->set_visor_ref("17/2");
  row.mutable_offender()->set_display_name("Harry Doe");
  *row.mutable_offender()->mutable_registered_time() = DaysAgo(900);
  row.mutable_offender()->set_owner_officer("DC 4512");
  row.mutable_offender()->set_team("north");
  *row.mutable_last_arms_time() = DaysAgo(60);
  row.set_last_arms_risk_level(v1::RISK_LEVEL_MEDIUM);
  *row.mutable_last_rmp_review_time() = DaysAgo(30);
  v1::ImportOffendersResponse imported;
  ASSERT_TRUE(
      offenders_
          ->ImportOffenders(Context("wessex", "e2e test", "supervisor").get(), import, &imported)
          .ok());
  ASSERT_EQ(imported.imported(), 1) << imported.DebugString();
  const google::protobuf::Timestamp imported_review = Get("H1").last_rmp_review_time();

  // A plan older than the imported review is kept, and is the current plan.
  RunResult older = Vigil({"rmp", "record", "H1", "--reviewed", date(45), "--author", "DC 4512"});
  ASSERT_EQ(older.exit_code, 0) << older.output;
  RunResult current = Vigil({"rmp", "get", "H1"});
  ASSERT_EQ(current.exit_code, 0) << current.output;
  EXPECT_THAT(current.output, HasSubstr("version           1 (current)"));
  EXPECT_THAT(current.output, HasSubstr("signed off        not yet"));
  v1::Offender o = Get("H1");
  EXPECT_EQ(o.last_rmp_review_time().seconds(), imported_review.seconds())
      << "the review clock follows the later imported review";
  const v1::Obligation* sign_off = Find(o, "rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(sign_off->kind(), v1::OBLIGATION_KIND_RMP_SIGN_OFF);
  EXPECT_THAT(sign_off->reason(), HasSubstr("within 7 days of its recording"));

  RunResult newer = Vigil(
      {"rmp", "record", "H1", "--reviewed", date(2), "--author", "DC 4512", "--officers", "2"});
  ASSERT_EQ(newer.exit_code, 0) << newer.output;
  EXPECT_THAT(newer.output, HasSubstr("version           2 (current)"));
  RunResult history = Vigil({"rmp", "history", "H1"});
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_THAT(history.output, HasSubstr("VERSION"));
  EXPECT_LT(history.output.find("\n2 "), history.output.find("\n1 ")) << history.output;

  // An officer may not sign off: the role is named.
  v1::SignOffRiskManagementPlanRequest request;
  request.set_offender_id("H1");
  v1::RiskManagementPlan refused;
  const grpc::Status denied =
      assessments_->SignOffRiskManagementPlan(Context().get(), request, &refused);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("open to supervisor, not to officer"));

  RunResult signed_off = Vigil({"rmp", "sign-off", "H1", "--note", "agreed"});
  ASSERT_EQ(signed_off.exit_code, 0) << signed_off.output;
  EXPECT_THAT(signed_off.output, HasSubstr("by DS Holt: agreed"));

  // Bad input writes nothing: a review before registration names the field.
  RunResult before = Vigil({"rmp", "record", "H1", "--reviewed", date(1000), "--author", "x"});
  EXPECT_EQ(before.exit_code, 1) << before.output;
  EXPECT_THAT(before.output, HasSubstr("reviewed_time"));

  ASSERT_THAT(vigild_->Restart(), IsOk());
  Connect();
  o = Get("H1");
  EXPECT_EQ(Find(o, "rmp-sign-off"), nullptr) << "the sign-off met the clock";
  v1::ListRiskManagementPlansRequest list;
  list.set_offender_id("H1");
  v1::ListRiskManagementPlansResponse plans;
  ASSERT_TRUE(assessments_->ListRiskManagementPlans(Context().get(), list, &plans).ok());
  ASSERT_EQ(plans.plans_size(), 2);
  EXPECT_EQ(plans.plans(0).version(), 2);
  EXPECT_TRUE(plans.plans(0).current());
  EXPECT_EQ(plans.plans(0).signed_off_by(), "DS Holt");
  EXPECT_EQ(plans.plans(1).version(), 1);
  EXPECT_FALSE(plans.plans(1).current());
  EXPECT_TRUE(plans.plans(1).signed_off_by().empty());
}

}  // namespace
}  // namespace vigil
