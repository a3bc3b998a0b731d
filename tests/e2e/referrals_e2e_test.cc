// The OCAIT referral queue end to end: a real vigild (rso and ocait co-hosted, linked through
// the register's gRPC API), a gRPC client and the vigil CLI.
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

google::protobuf::Timestamp DaysAgo(int days) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24) * days));
  return ts;
}

class ReferralsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    ASSERT_THAT(vigild_->Start(), IsOk());
    referrals_ = v1::ReferralService::NewStub(vigild_->channel());
    offenders_ = v1::OffenderService::NewStub(vigild_->channel());
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    testing::AddIdentity(*context, {"DC 9", "officer", "wessex", "ocait e2e", "ocait"});
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  v1::Referral Create(int received_days_ago, const std::string& account = "",
                      const std::string& offender = "") {
    v1::CreateReferralRequest request;
    request.mutable_referral()->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *request.mutable_referral()->mutable_received_time() = DaysAgo(received_days_ago);
    request.mutable_referral()->set_subject_display_name("Subject");
    if (!account.empty()) {
      v1::SubjectIdentifier* id = request.mutable_referral()->add_identifiers();
      id->set_type(v1::IDENTIFIER_TYPE_ACCOUNT);
      id->set_value(account);
    }
    request.mutable_referral()->set_linked_offender_id(offender);
    v1::Referral response;
    const grpc::Status status = referrals_->CreateReferral(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::Referral Triage(const std::string& id, v1::RiskLevel grade) {
    v1::TriageReferralRequest request;
    request.set_id(id);
    request.set_grade(grade);
    v1::Referral response;
    const grpc::Status status = referrals_->TriageReferral(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // A refresh now that records every check as done.
  static v1::RecordIntelRefreshRequest Refresh(const std::string& id) {
    v1::RecordIntelRefreshRequest refresh;
    refresh.set_id(id);
    *refresh.mutable_refreshed_time() = DaysAgo(0);
    for (v1::IntelCheck* check : {refresh.mutable_checks()->mutable_csc_record(),
                                  refresh.mutable_checks()->mutable_household_children_record(),
                                  refresh.mutable_checks()->mutable_regulated_activity_record(),
                                  refresh.mutable_checks()->mutable_police_systems_record()}) {
      check->set_status(v1::INTEL_CHECK_STATUS_DONE);
      check->set_outcome("nothing new");
    }
    return refresh;
  }

  static const v1::Obligation* Find(const v1::Referral& r, const std::string& suffix) {
    for (const v1::Obligation& o : r.obligations()) {
      if (o.id() == r.id() + "/" + suffix) return &o;
    }
    return nullptr;
  }

  RunResult Vigil(std::vector<std::string> args) {
    return RunVigil(vigild_->address(), std::move(args),
                    {"DS Holt", "supervisor", "wessex", "e2e"});
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
  std::unique_ptr<v1::ReferralService::Stub> referrals_;
  std::unique_ptr<v1::OffenderService::Stub> offenders_;
};

TEST_F(ReferralsEndToEndTest,
       HighGradeFromThirtyDaysAgoIsOverdueAndAnUpwardRegradeGivesNoMoreTime) {
  v1::Referral r = Triage(Create(30).id(), v1::RISK_LEVEL_HIGH);
  const v1::Obligation* action = Find(r, "action");
  ASSERT_NE(action, nullptr);
  const int64_t overdue = action->due_time().seconds();
  EXPECT_LT(overdue, absl::ToUnixSeconds(absl::Now()));
  EXPECT_THAT(action->reason(), HasSubstr("high grade: action within 7 days of receipt on"));
  ASSERT_NE(Find(r, "intel-refresh"), nullptr);

  v1::RecordIntelRefreshRequest refresh = Refresh(r.id());
  refresh.set_children_access_found(true);
  refresh.set_new_grade(v1::RISK_LEVEL_VERY_HIGH);
  v1::Referral regraded;
  const grpc::Status refreshed =
      referrals_->RecordIntelRefresh(Context().get(), refresh, &regraded);
  ASSERT_TRUE(refreshed.ok()) << refreshed.error_message();
  EXPECT_EQ(regraded.grade(), v1::RISK_LEVEL_VERY_HIGH);
  EXPECT_TRUE(regraded.immediate_escalation());
  // Still overdue: a day from the regrade would be later than the high grade's target.
  EXPECT_EQ(Find(regraded, "action")->due_time().seconds(), overdue);
  EXPECT_THAT(Find(regraded, "action")->reason(), HasSubstr("regraded high → very high on"));
  EXPECT_THAT(Find(regraded, "action")->reason(), HasSubstr(", the earlier of "));

  v1::AllocateReferralRequest allocate;
  allocate.set_id(r.id());
  allocate.set_officer("DC 9");
  v1::Referral allocated;
  ASSERT_TRUE(referrals_->AllocateReferral(Context().get(), allocate, &allocated).ok());
  v1::ActionReferralRequest act;
  act.set_id(r.id());
  *act.mutable_action_time() = DaysAgo(0);
  act.set_outcome(v1::ACTION_OUTCOME_ARREST);
  v1::Referral actioned;
  ASSERT_TRUE(referrals_->ActionReferral(Context().get(), act, &actioned).ok());
  EXPECT_EQ(Find(actioned, "action"), nullptr);
  EXPECT_EQ(Find(actioned, "intel-refresh"), nullptr);
  EXPECT_NE(Find(actioned, "csc-check"), nullptr);  // still owed
  v1::RecordCscCheckRequest csc;
  csc.set_id(r.id());
  *csc.mutable_checked_time() = DaysAgo(0);
  csc.set_result("known to CSC; strategy meeting held");
  v1::Referral checked;
  ASSERT_TRUE(referrals_->RecordCscCheck(Context().get(), csc, &checked).ok());
  EXPECT_TRUE(checked.obligations().empty());

  v1::TriageReferralRequest again;
  again.set_id(r.id());
  again.set_grade(v1::RISK_LEVEL_LOW);
  v1::Referral response;
  const grpc::Status wrong = referrals_->TriageReferral(Context().get(), again, &response);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(wrong.error_message(), HasSubstr("REFERRAL_STATE_ACTIONED"));
}

TEST_F(ReferralsEndToEndTest, LoweredGradeGetsMoreTimeOnlyFromASupervisor) {
  // High from 3 days ago: due in 4 days. Low would give 27.
  v1::Referral r = Triage(Create(3).id(), v1::RISK_LEVEL_HIGH);
  const int64_t high_due = Find(r, "action")->due_time().seconds();
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id());
  refresh.set_new_grade(v1::RISK_LEVEL_LOW);
  refresh.set_regrade_reason("no access to children; not in regulated activity");
  refresh.set_extension_reason("DI agrees the low-grade target from receipt");
  v1::Referral response;
  const grpc::Status officer = referrals_->RecordIntelRefresh(Context().get(), refresh, &response);
  EXPECT_EQ(officer.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(officer.error_message(), HasSubstr("extension_reason"));

  refresh.clear_extension_reason();
  v1::Referral lowered;
  ASSERT_TRUE(referrals_->RecordIntelRefresh(Context().get(), refresh, &lowered).ok());
  EXPECT_EQ(lowered.grade(), v1::RISK_LEVEL_LOW);
  EXPECT_EQ(Find(lowered, "action")->due_time().seconds(), high_due);

  // The supervisor lowers it again (medium first, to regrade once more) with an extension.
  v1::RecordIntelRefreshRequest up = Refresh(r.id());
  up.set_new_grade(v1::RISK_LEVEL_MEDIUM);
  ASSERT_TRUE(referrals_->RecordIntelRefresh(Context().get(), up, &response).ok());
  refresh.set_extension_reason("DI agrees the low-grade target from receipt");
  v1::Referral extended;
  grpc::ClientContext context;
  testing::AddIdentity(context, {"DS Holt", "supervisor", "wessex", "ocait e2e", "ocait"});
  const grpc::Status status = referrals_->RecordIntelRefresh(&context, refresh, &extended);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(Find(extended, "action")->due_time().seconds(), high_due + 20 * 86400);
  EXPECT_THAT(Find(extended, "action")->reason(), HasSubstr("extended by a supervisor"));
}

TEST_F(ReferralsEndToEndTest, RefreshMustRecordEveryCheckAndOnlyADoneCheckRestartsTheClock) {
  const v1::Referral r = Triage(Create(10).id(), v1::RISK_LEVEL_HIGH);
  const int64_t refresh_due = Find(r, "intel-refresh")->due_time().seconds();

  // No checks: refused over gRPC, naming them, and the clock keeps running.
  v1::RecordIntelRefreshRequest bare;
  bare.set_id(r.id());
  *bare.mutable_refreshed_time() = DaysAgo(0);
  v1::Referral response;
  const grpc::Status refused = referrals_->RecordIntelRefresh(Context().get(), bare, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("checks.csc_record"));
  EXPECT_THAT(refused.error_message(), HasSubstr("checks.police_systems_record"));

  // Through the CLI: a check left out is named.
  RunResult partial = Vigil(
      {"referral", "refresh", r.id(), "--csc", "not known to CSC", "--household", "lives alone"});
  EXPECT_NE(partial.exit_code, 0);
  EXPECT_THAT(partial.output, HasSubstr("checks.regulated_activity_record"));
  EXPECT_THAT(partial.output, HasSubstr("checks.police_systems_record"));

  // Nothing possible: recorded, the clock untouched.
  RunResult none = Vigil({"referral", "refresh", r.id(), "--csc-not-possible", "CSC closed",
                          "--household-not-possible", "no answer at the address",
                          "--regulated-activity-not-possible", "DBS unavailable",
                          "--police-systems-not-possible", "PND outage", "-o", "json"});
  ASSERT_EQ(none.exit_code, 0) << none.output;
  v1::Referral recorded;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(none.output, &recorded).ok())
      << none.output;
  EXPECT_EQ(recorded.refreshes_size(), 1);
  EXPECT_FALSE(recorded.has_last_refresh_time());
  EXPECT_EQ(Find(recorded, "intel-refresh")->due_time().seconds(), refresh_due);
  EXPECT_THAT(Find(recorded, "intel-refresh")->reason(), HasSubstr("of the triage on"));

  // One check not possible, three done: the refresh clock restarts.
  RunResult done =
      Vigil({"referral", "refresh", r.id(), "--csc-not-possible", "CSC closed", "--household",
             "lives alone", "--regulated-activity", "no DBS application", "--police-systems",
             "no new PNC entries", "-o", "json"});
  ASSERT_EQ(done.exit_code, 0) << done.output;
  v1::Referral refreshed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(done.output, &refreshed).ok())
      << done.output;
  ASSERT_EQ(refreshed.refreshes_size(), 2);
  EXPECT_EQ(refreshed.refreshes(1).checks().csc_record().not_possible_reason(), "CSC closed");
  EXPECT_TRUE(refreshed.refreshes(1).checks().police_systems());
  EXPECT_TRUE(refreshed.has_last_refresh_time());
  EXPECT_THAT(Find(refreshed, "intel-refresh")->reason(), HasSubstr("of the last refresh on"));
}

TEST_F(ReferralsEndToEndTest, ReferralAboutARegisteredOffenderAppearsOnThemAndIsATrigger) {
  ASSERT_EQ(Vigil({"offender", "create", "--id", "R1", "--name", "Reg One", "--registered",
                   "2020-01-01", "--owner", "DC 7", "--team", "north"})
                .exit_code,
            0);
  ASSERT_EQ(Vigil({"arms", "record", "R1", "--completed", "2026-01-05", "--assessor", "DS Holt",
                   "--risk", "medium"})
                .exit_code,
            0);
  v1::Referral r = Create(2, "", "R1");
  ASSERT_EQ(r.linked_offender_id(), "R1");

  // The register hears of it through its API (the outbox delivers asynchronously).
  v1::GetOffenderRequest get;
  get.set_id("R1");
  v1::Offender offender;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    // The offender is in the MOSOVO team's caseload: the OCAIT investigator says why.
    auto context = Context();
    context->AddMetadata("x-vigil-cross-team", "linked referral " + r.id());
    ASSERT_TRUE(offenders_->GetOffender(context.get(), get, &offender).ok());
    if (offender.linked_referrals_size() == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(offender.linked_referrals_size(), 1);
  EXPECT_EQ(offender.linked_referrals(0).referral_id(), r.id());
  ASSERT_EQ(offender.open_triggers_size(), 1);
  EXPECT_EQ(offender.open_triggers(0).type(), v1::TRIGGER_TYPE_NEW_INTELLIGENCE);
  bool trigger_clock = false;
  for (const v1::Obligation& o : offender.obligations())
    trigger_clock = trigger_clock || o.id() == "R1/arms-trigger";
  EXPECT_TRUE(trigger_clock);
  RunResult listed = Vigil({"referral", "list", "--offender", "R1"});
  EXPECT_THAT(listed.output, HasSubstr(r.id()));

  v1::CreateReferralRequest unknown;
  unknown.mutable_referral()->set_source(v1::REFERRAL_SOURCE_INTERNAL);
  *unknown.mutable_referral()->mutable_received_time() = DaysAgo(1);
  unknown.mutable_referral()->set_subject_display_name("x");
  unknown.mutable_referral()->set_linked_offender_id("NOBODY");
  v1::Referral response;
  const grpc::Status status = referrals_->CreateReferral(Context().get(), unknown, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("linked_offender_id: NOBODY is not on the register"));
}

TEST_F(ReferralsEndToEndTest, SecondReferralAboutTheSameAccountIsDeconflicted) {
  const v1::Referral first = Create(10, "Kik: @Hunter_22");
  const v1::Referral second = Create(3, "kik:hunter_22");
  ASSERT_EQ(second.deconfliction_matches_size(), 1);
  EXPECT_EQ(second.deconfliction_matches(0).referral_id(), first.id());
  RunResult shown = Vigil({"referral", "get", second.id()});
  EXPECT_THAT(
      shown.output,
      HasSubstr("DECONFLICT  shares account kik:hunter_22 with open referral " + first.id()));
}

TEST_F(ReferralsEndToEndTest, FiveHundredHistoricReferralsImportWithExactCountsOldestFirst) {
  const std::string csv = dir_.Sub("queue.csv");
  std::map<std::pair<std::string, std::string>, int> expected;
  {
    std::ofstream out(csv);
    out << "source_reference,received_date,source,subject,identifiers,grade,state,officer\n";
    const char* grades[] = {"low", "medium", "high", "very-high"};
    for (int i = 0; i < 500; ++i) {
      const absl::CivilDay day = absl::CivilDay(2019, 8, 1) + i * 5;
      std::string state =
          i % 5 == 0 ? "received" : (i % 5 == 1 ? "allocated" : "awaiting-allocation");
      std::string grade = state == "received" ? "" : grades[i % 4];
      out << "NCA/" << i << "," << absl::FormatCivilTime(day) << ",nca-ceop,\"Subject " << i
          << "\","
          << "\"email:user" << i << "@example.org;phone:07700 9"
          << absl::StrCat(absl::Dec(i, absl::kZeroPad5)) << "\"," << grade << "," << state << ","
          << (state == "allocated" ? "DC 9" : "") << "\n";
      ++expected[{state, grade.empty() ? "ungraded" : grade}];
    }
  }
  RunResult result = Vigil({"import", "referrals", csv, "--batch-size", "200"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("500 rows, 500 imported, 0 already present, 0 refused"));
  RunResult again = Vigil({"import", "referrals", csv});
  EXPECT_THAT(again.output, HasSubstr("0 imported, 500 already present"));

  RunResult counts = Vigil({"referral", "counts", "-o", "json"});
  v1::CountReferralsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(counts.output, &parsed).ok())
      << counts.output;
  EXPECT_EQ(parsed.open_total(), 500);
  std::map<std::pair<std::string, std::string>, int> got;
  const std::map<v1::ReferralState, std::string> state_names = {
      {v1::REFERRAL_STATE_RECEIVED, "received"},
      {v1::REFERRAL_STATE_AWAITING_ALLOCATION, "awaiting-allocation"},
      {v1::REFERRAL_STATE_ALLOCATED, "allocated"}};
  const std::map<v1::RiskLevel, std::string> grade_names = {
      {v1::RISK_LEVEL_UNSPECIFIED, "ungraded"},
      {v1::RISK_LEVEL_LOW, "low"},
      {v1::RISK_LEVEL_MEDIUM, "medium"},
      {v1::RISK_LEVEL_HIGH, "high"},
      {v1::RISK_LEVEL_VERY_HIGH, "very-high"}};
  for (const v1::ReferralCount& c : parsed.counts())
    got[{state_names.at(c.state()), grade_names.at(c.grade())}] = c.count();
  EXPECT_EQ(got, expected);

  v1::ListReferralsRequest list;
  list.set_state(v1::REFERRAL_STATE_RECEIVED);
  list.mutable_page()->set_page_size(3);
  v1::ListReferralsResponse page;
  ASSERT_TRUE(referrals_->ListReferrals(Context().get(), list, &page).ok());
  ASSERT_EQ(page.referrals_size(), 3);
  EXPECT_EQ(page.referrals(0).source_reference(), "NCA/0");  // received 2019-08-01
  EXPECT_EQ(page.referrals(1).source_reference(), "NCA/5");
  EXPECT_EQ(page.referrals(2).source_reference(), "NCA/10");
}

}  // namespace
}  // namespace vigil
