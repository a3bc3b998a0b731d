// Home visits end to end: a real vigild, a gRPC client and the vigil CLI.
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::AddIdentity;
using ::vigil::testing::Identity;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

// An officer of wessex, as the API sees them (DC 7 owns the offenders these tests register).
Identity Officer(std::string actor = "DC 7", std::string team = "") {
  return Identity(std::move(actor), "officer", "wessex", "e2e", std::move(team));
}

class VisitsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    ASSERT_THAT(vigild_->Start(), IsOk());
    visits_ = v1::VisitService::NewStub(vigild_->channel());
  }

  RunResult Vigil(std::vector<std::string> args, const std::string& role = "supervisor") {
    return RunVigil(vigild_->address(), std::move(args), {"DS Holt", role, "wessex", "e2e"},
                    absl::Seconds(60));
  }

  void Offender(const std::string& id, const std::string& risk, const std::string& team = "north") {
    ASSERT_EQ(Vigil({"offender", "create", "--id", id, "--name", "N " + id, "--registered",
                     "2019-04-01", "--owner", "DC 7", "--team", team})
                  .exit_code,
              0);
    ASSERT_EQ(Vigil({"arms", "record", id, "--completed", "2026-01-05", "--assessor", "DS Holt",
                     "--risk", risk})
                  .exit_code,
              0);
  }

  v1::VisitSchedule Schedule(const std::string& id) {
    grpc::ClientContext context;
    AddIdentity(context, Officer());
    v1::GetVisitScheduleRequest request;
    request.set_offender_id(id);
    v1::VisitSchedule schedule;
    const grpc::Status status = visits_->GetVisitSchedule(&context, request, &schedule);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return schedule;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
  std::unique_ptr<v1::VisitService::Stub> visits_;
};

TEST_F(VisitsEndToEndTest, ScheduleFollowsRiskAndPlanThroughTheApi) {
  Offender("M1", "medium");
  ASSERT_EQ(Vigil({"visit", "record", "M1", "--time", "2026-06-01T10:00:00Z", "--officer", "DC 7"})
                .exit_code,
            0);
  v1::VisitSchedule s = Schedule("M1");
  EXPECT_EQ(s.interval_days(), 182);
  EXPECT_EQ(s.reason(),
            "medium risk: visit within 182 days of the last visit on 2026-06-01 (policy v1)");
  const int64_t medium_due = s.next_due_time().seconds();

  ASSERT_EQ(Vigil({"arms", "record", "M1", "--completed", "2026-07-01", "--assessor", "DS Holt",
                   "--risk", "high"})
                .exit_code,
            0);
  s = Schedule("M1");
  EXPECT_EQ(s.interval_days(), 91);
  EXPECT_LT(s.next_due_time().seconds(), medium_due);

  ASSERT_EQ(Vigil({"rmp", "record", "M1", "--reviewed", "2026-07-02", "--author", "DS Holt",
                   "--visit-interval-days", "28", "--officers", "2", "--reason", "MAPPA level 2"})
                .exit_code,
            0);
  s = Schedule("M1");
  EXPECT_EQ(s.source(), v1::VISIT_INTERVAL_SOURCE_RMP);
  EXPECT_EQ(s.interval_days(), 28);
  RunResult shown = Vigil({"visit", "schedule", "M1"});
  EXPECT_THAT(shown.output, HasSubstr("every 28 days (rmp, policy v1)"));
  EXPECT_THAT(shown.output, HasSubstr("2 officer(s)"));

  RunResult alone =
      Vigil({"visit", "record", "M1", "--time", "2026-07-10T19:00:00Z", "--officer", "DC 7"});
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  EXPECT_THAT(alone.output, HasSubstr("single-crewed"));
  RunResult findings = Vigil({"compliance", "list", "--team", "north"});
  EXPECT_THAT(findings.output,
              HasSubstr("1 officer(s) present (DC 7); the RMP reviewed on 2026-07-02 requires 2"));
}

TEST_F(VisitsEndToEndTest, FlatDiarisingAndReactiveManagementThroughTheCli) {
  const char* tiers[] = {"low", "medium", "high"};
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("F", i);
    Offender(id, tiers[i % 3], "flat");
    ASSERT_EQ(Vigil({"rmp", "record", id, "--reviewed", "2026-01-20", "--author", "DS Holt",
                     "--visit-interval-days", "365", "--reason", "annual diary"})
                  .exit_code,
              0);
  }
  RunResult flat = Vigil({"compliance", "list"});
  EXPECT_THAT(flat.output, HasSubstr("flat-diarising"));
  EXPECT_THAT(flat.output, HasSubstr("6 of the team's 6 scheduled visits are 365 days after the "
                                     "last visit whatever the risk"));

  // The daily check, asked for now: the team's inspector is alerted, once.
  EXPECT_EQ(Vigil({"compliance", "check"}, "officer").exit_code, 1);  // supervisors only
  RunResult check = Vigil({"compliance", "check"});
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("team flat: new finding; its inspector is alerted"));
  RunResult alerts;
  for (int i = 0; i < 100; ++i) {
    alerts = Vigil({"alerts", "list", "--team", "flat"});
    if (alerts.output.find("diarises its visits flat") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(alerts.output, HasSubstr("inspector"));
  EXPECT_THAT(alerts.output, HasSubstr("team flat diarises its visits flat: 6 of the team's 6"));
  RunResult again = Vigil({"compliance", "check", "--team", "flat"});
  EXPECT_THAT(again.output, HasSubstr("no change: 1 team finding(s) standing"));

  Offender("L1", "low");
  RunResult officer = Vigil(
      {"visit", "reactive", "L1", "--enable", "--decided-by", "Insp Reid", "--reason", "stable"},
      "officer");
  EXPECT_EQ(officer.exit_code, 1);
  EXPECT_THAT(officer.output, HasSubstr("PERMISSION_DENIED"));
  RunResult enable = Vigil({"visit", "reactive", "L1", "--enable", "--decided-by", "Insp Reid",
                            "--reason", "low risk, 7 years offence free"});
  ASSERT_EQ(enable.exit_code, 0) << enable.output;
  EXPECT_FALSE(Schedule("L1").has_next_due_time());
  RunResult disable = Vigil({"visit", "reactive", "L1", "--disable", "--decided-by", "Insp Reid",
                             "--reason", "new partner with children"});
  ASSERT_EQ(disable.exit_code, 0) << disable.output;
  EXPECT_TRUE(Schedule("L1").has_next_due_time());
}

TEST_F(VisitsEndToEndTest, BadVisitsGetTheRightStatus) {
  Offender("B1", "medium");
  RunResult future = Vigil({"visit", "record", "B1", "--time", "2099-01-01", "--officer", "DC 7"});
  EXPECT_EQ(future.exit_code, 1);
  EXPECT_THAT(future.output, HasSubstr("INVALID_ARGUMENT: visit_time"));
  RunResult unknown = Vigil({"visit", "record", "NOPE", "--officer", "DC 7"});
  EXPECT_THAT(unknown.output, HasSubstr("NOT_FOUND"));
  ASSERT_EQ(
      Vigil({"offender", "update", "B1", "--revision", "2", "--status", "in-custody"}).exit_code,
      0);
  RunResult custody = Vigil({"visit", "record", "B1", "--officer", "DC 7"});
  EXPECT_THAT(custody.output, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(Vigil({"visit", "schedule", "B1"}).output,
              HasSubstr("paused while OFFENDER_STATUS_IN_CUSTODY"));
}

TEST_F(VisitsEndToEndTest, DatesBeforeRegistrationAndTooManyOfficersAreRefused) {
  Offender("B2", "medium");  // registered 2019-04-01
  RunResult early =
      Vigil({"visit", "record", "B2", "--time", "2019-03-31T10:00:00Z", "--officer", "DC 7"});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_THAT(early.output, HasSubstr("INVALID_ARGUMENT: visit_time: 2019-03-31 is before "
                                      "offender B2 was registered on 2019-04-01"));
  RunResult arms = Vigil({"arms", "record", "B2", "--completed", "2018-06-01", "--assessor",
                          "DS Holt", "--risk", "low"});
  EXPECT_EQ(arms.exit_code, 1);
  EXPECT_THAT(arms.output, HasSubstr("INVALID_ARGUMENT: completed_time: 2018-06-01 is before"));

  grpc::ClientContext context;
  AddIdentity(context, Officer("DC 7", "north"));
  v1::RecordVisitRequest crowd;
  crowd.set_offender_id("B2");
  crowd.mutable_visit_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  crowd.set_outcome(v1::VISIT_OUTCOME_SEEN);
  for (int i = 0; i < 100000; ++i) crowd.add_officers(absl::StrCat("DC ", i));
  v1::Visit visit;
  const grpc::Status status = visits_->RecordVisit(&context, crowd, &visit);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("officers: at most 20 officers at one visit (got 100000)"));
}

// RecordVisit starts on gRPC's receiving thread and is answered from the commit: many calls at
// once on one connection are each answered once, a retried request id answers the first
// visit again, and refusals (outside the caseload, an unknown offender) still come back.
TEST_F(VisitsEndToEndTest, VisitsAtOnceThroughTheApiAreEachAnsweredOnce) {
  Offender("C1", "high");
  auto record = [&](const std::string& request_id, const std::string& offender,
                    const std::string& team, v1::Visit* visit) {
    grpc::ClientContext context;
    AddIdentity(context, Officer("DC 9", team));
    v1::RecordVisitRequest request;
    request.set_offender_id(offender);
    request.mutable_visit_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    request.add_officers("DC 7");
    request.set_outcome(v1::VISIT_OUTCOME_SEEN);
    request.set_request_id(request_id);
    return visits_->RecordVisit(&context, request, visit);
  };
  constexpr int kCalls = 24;
  std::vector<std::string> ids(kCalls);
  std::vector<std::thread> threads;
  threads.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      v1::Visit visit;
      grpc::Status status;
      do {  // ABORTED asks the client to try again
        status = record(absl::StrCat("visit-", i), "C1", "north", &visit);
      } while (status.error_code() == grpc::StatusCode::ABORTED);
      EXPECT_TRUE(status.ok()) << status.error_message();
      ids[i] = visit.id();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), size_t{kCalls});

  v1::Visit again;
  ASSERT_TRUE(record("visit-0", "C1", "north", &again).ok());
  EXPECT_EQ(again.id(), ids[0]);
  v1::Visit refused;
  EXPECT_EQ(record("visit-x", "C1", "south", &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(record("visit-y", "NOBODY", "north", &refused).error_code(),
            grpc::StatusCode::NOT_FOUND);
  RunResult listed = Vigil({"--output", "json", "visit", "list", "C1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  for (const std::string& id : ids) EXPECT_THAT(listed.output, HasSubstr(id));
}

// Writes answered from their commit hold no worker, so the context bounds them itself: with
// room for two calls (one worker, one queued), a crowd of visits at once is partly refused
// RESOURCE_EXHAUSTED, and every visit answered OK is recorded once.
TEST_F(VisitsEndToEndTest, AContextAtCapacityRefusesWritesRatherThanHoldThemWithoutBound) {
  ASSERT_THAT(vigild_->Stop(SIGTERM).status(), IsOk());
  ASSERT_THAT(vigild_->Start({"--workers", "1", "--max-queued", "1"}), IsOk());
  visits_ = v1::VisitService::NewStub(vigild_->channel());
  Offender("K1", "high");
  constexpr int kCalls = 48;
  std::atomic<int> ok{0};
  std::atomic<int> exhausted{0};
  std::vector<std::thread> threads;
  threads.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      grpc::Status status;
      do {  // ABORTED asks the client to try again
        grpc::ClientContext context;
        AddIdentity(context, Officer());
        v1::RecordVisitRequest request;
        request.set_offender_id("K1");
        request.mutable_visit_time()->set_seconds(
            absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
        request.add_officers("DC 7");
        request.set_outcome(v1::VISIT_OUTCOME_SEEN);
        request.set_request_id(absl::StrCat("crowd-", i));
        v1::Visit visit;
        status = visits_->RecordVisit(&context, request, &visit);
      } while (status.error_code() == grpc::StatusCode::ABORTED);
      if (status.ok()) {
        ++ok;
      } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        EXPECT_THAT(status.error_message(), HasSubstr("at capacity"));
        ++exhausted;
      } else {
        ADD_FAILURE() << status.error_code() << ": " << status.error_message();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GT(exhausted.load(), 0);
  EXPECT_GT(ok.load(), 0);
  RunResult listed = Vigil({"--output", "json", "visit", "list", "K1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  int recorded = 0;
  for (size_t at = listed.output.find("\"K1\""); at != std::string::npos;
       at = listed.output.find("\"K1\"", at + 1)) {  // each visit's offender id
    ++recorded;
  }
  EXPECT_EQ(recorded, ok.load());
}

}  // namespace
}  // namespace vigil
