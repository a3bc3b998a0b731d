// Home visits over a real store: scheduling by risk tier and RMP, re-timing on reassessment,
// pauses, compliance findings, flat diarising, reactive management, counters.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/executor.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "services/rso/assessments.h"
#include "services/rso/offender_store.h"
#include "services/rso/register.h"
#include "services/rso/visits.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil::rso {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vigil::testing::Day;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class VisitsTest : public vigil::testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    offenders_ = std::make_unique<OffenderStore>(*store_, *policies_, zone_);
    register_ = std::make_unique<Register>(*offenders_);
    assessments_ = std::make_unique<Assessments>(*offenders_);
    ASSERT_THAT(due_.Attach(*store_, "rso"), IsOk());
    visits_ = std::make_unique<Visits>(*offenders_, due_);
  }

  CallContext Call(Role role = Role::kOfficer) const {
    CallContext call;
    call.principal = Principal{"DC 4512", role, "wessex", "north"};
    call.purpose = "visits";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  void Create(const std::string& id, v1::RiskLevel risk, absl::Time registered = Day(2020, 1, 10),
              const std::string& team = "north") {
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_id(id);
    request.mutable_offender()->set_display_name("Name " + id);
    *request.mutable_offender()->mutable_registered_time() = ToProtoTime(registered);
    request.mutable_offender()->set_owner_officer("DC 4512");
    request.mutable_offender()->set_team(team);
    ASSERT_THAT(register_->Create(Call(), request).status(), IsOk());
    if (risk != v1::RISK_LEVEL_UNSPECIFIED) {
      ASSERT_THAT(Arms(id, Day(2026, 1, 5), risk).status(), IsOk());
    }
  }

  absl::StatusOr<v1::ArmsAssessment> Arms(const std::string& id, absl::Time when,
                                          v1::RiskLevel risk) {
    v1::RecordArmsAssessmentRequest request;
    request.set_offender_id(id);
    *request.mutable_completed_time() = ToProtoTime(when);
    request.set_assessor("DS Holt");
    request.set_risk_level(risk);
    return assessments_->RecordArms(Call(), request);
  }

  // Team "flat": six offenders, low, medium and high, all visited every 365 days by their RMPs
  // (flat diarising); team "good": six more on the policy's intervals by risk.
  void FlatAndVariedTeams() {
    const v1::RiskLevel tiers[] = {v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_MEDIUM, v1::RISK_LEVEL_HIGH};
    for (int i = 0; i < 6; ++i) {
      const std::string id = absl::StrCat("F", i);
      Create(id, tiers[i % 3], Day(2020, 1, 10), "flat");
      ASSERT_THAT(Rmp(id, 365, 1).status(), IsOk());
    }
    for (int i = 0; i < 6; ++i) {
      Create(absl::StrCat("G", i), tiers[i % 3], Day(2020, 1, 10), "good");
    }
  }

  absl::StatusOr<v1::RiskManagementPlan> Rmp(const std::string& id, int interval, int officers,
                                             bool device_check = false, int unannounced = 0) {
    v1::RecordRiskManagementPlanRequest request;
    request.set_offender_id(id);
    *request.mutable_reviewed_time() = ToProtoTime(Day(2026, 1, 20));
    request.set_author("DS Holt");
    request.set_visit_interval_days(interval);
    request.set_officers_required(officers);
    request.set_device_check_required(device_check);
    request.set_unannounced_share_percent(unannounced);
    if (interval != 0) request.set_reason("set by the MAPPA meeting");
    return assessments_->RecordRmp(Call(), request);
  }

  absl::StatusOr<v1::Visit> Visit(const std::string& id, absl::Time when,
                                  const std::vector<std::string>& officers = {"DC 4512"},
                                  v1::VisitOutcome outcome = v1::VISIT_OUTCOME_SEEN,
                                  bool announced = true, bool device_check = false,
                                  const std::string& request_id = "") {
    v1::RecordVisitRequest request;
    request.set_offender_id(id);
    *request.mutable_visit_time() = ToProtoTime(when);
    for (const std::string& o : officers) request.add_officers(o);
    request.set_outcome(outcome);
    request.set_announced(announced);
    request.set_device_check_done(device_check);
    request.set_request_id(request_id);
    return visits_->RecordVisit(Call(), request);
  }

  v1::VisitSchedule Schedule(const std::string& id) {
    v1::GetVisitScheduleRequest request;
    request.set_offender_id(id);
    absl::StatusOr<v1::VisitSchedule> schedule = visits_->GetSchedule(Call(), request);
    EXPECT_THAT(schedule.status(), IsOk());
    return schedule.ok() ? *schedule : v1::VisitSchedule();
  }

  int64_t VisitCounter(v1::RiskLevel risk) {
    return OpenInCell(storage::DeadlineSpace::kRso, "wessex", "north", "DC 4512",
                      v1::OBLIGATION_KIND_HOME_VISIT, risk);
  }

  std::unique_ptr<OffenderStore> offenders_;
  std::unique_ptr<Register> register_;
  std::unique_ptr<Assessments> assessments_;
  OverdueIndex due_{storage::DeadlineSpace::kRso};
  std::unique_ptr<Visits> visits_;
};

TEST_F(VisitsTest, MediumRiskIsDue182DaysAfterTheLastVisit) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  ASSERT_THAT(Visit("R1", Day(2026, 6, 1)).status(), IsOk());
  const v1::VisitSchedule s = Schedule("R1");
  EXPECT_EQ(*FromProtoTime(s.next_due_time(), ""), LocalEndOf(2026, 11, 30));  // 2026-06-01 + 182
  EXPECT_EQ(s.interval_days(), 182);
  EXPECT_EQ(s.source(), v1::VISIT_INTERVAL_SOURCE_POLICY);
  EXPECT_EQ(s.policy_version(), "v1");
  EXPECT_EQ(s.reason(),
            "medium risk: visit within 182 days of the last visit on 2026-06-01 (policy v1)");
}

TEST_F(VisitsTest, ReassessedHighBecomesDueSoonerAtOnce) {
  Create("R1", v1::RISK_LEVEL_LOW);
  ASSERT_THAT(Visit("R1", Day(2026, 6, 1)).status(), IsOk());
  EXPECT_EQ(*FromProtoTime(Schedule("R1").next_due_time(), ""), LocalEndOf(2027, 6, 1));
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_LOW), 1);
  ASSERT_THAT(Arms("R1", Day(2026, 11, 20), v1::RISK_LEVEL_HIGH).status(), IsOk());
  const v1::VisitSchedule s = Schedule("R1");
  EXPECT_EQ(*FromProtoTime(s.next_due_time(), ""),
            LocalEndOf(2026, 8, 31));  // +91: already overdue
  EXPECT_EQ(s.interval_days(), 91);
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_LOW), 0);
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_HIGH), 1);
}

TEST_F(VisitsTest, RmpOverrideAppliesAndIsReportedAsTheSource) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  ASSERT_THAT(Visit("R1", Day(2026, 6, 1)).status(), IsOk());
  ASSERT_THAT(Rmp("R1", 14, 2).status(), IsOk());
  v1::VisitSchedule s = Schedule("R1");
  EXPECT_EQ(s.source(), v1::VISIT_INTERVAL_SOURCE_RMP);
  EXPECT_EQ(s.interval_days(), 14);
  EXPECT_EQ(*FromProtoTime(s.next_due_time(), ""), LocalEndOf(2026, 6, 15));
  EXPECT_EQ(s.reason(),
            "the RMP reviewed on 2026-01-20 sets visits every 14 days (set by the MAPPA "
            "meeting): visit within 14 days of the last visit on 2026-06-01 (policy v1)");
  EXPECT_EQ(s.requirements().officers_required(), 2);
  // A plan back on the policy default returns to the tier interval.
  ASSERT_THAT(Rmp("R1", 0, 1).status(), IsOk());
  s = Schedule("R1");
  EXPECT_EQ(s.source(), v1::VISIT_INTERVAL_SOURCE_POLICY);
  EXPECT_EQ(s.interval_days(), 182);
}

TEST_F(VisitsTest, SingleCrewedVisitAgainstATwoOfficerPlanRaisesAFinding) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  ASSERT_THAT(Rmp("R1", 0, 2, /*device_check=*/true).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Visit alone, Visit("R1", Day(2026, 3, 2)));
  ASSERT_EQ(alone.findings_size(), 2);
  EXPECT_EQ(alone.findings(0).rule(), v1::COMPLIANCE_RULE_SINGLE_CREWED);
  EXPECT_EQ(alone.findings(0).evidence(),
            "1 officer(s) present (DC 4512); the RMP reviewed on 2026-01-20 requires 2");
  EXPECT_EQ(alone.findings(1).rule(), v1::COMPLIANCE_RULE_DEVICE_CHECK_MISSED);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Visit pair, Visit("R1", Day(2026, 4, 2), {"DC 4512", "PC 88"},
                                                   v1::VISIT_OUTCOME_SEEN, true, true));
  EXPECT_THAT(pair.findings(), IsEmpty());

  v1::ListComplianceFindingsRequest request;
  request.set_team("north");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListComplianceFindingsResponse listed,
                             visits_->ListFindings(Call(), request));
  ASSERT_EQ(listed.findings_size(), 2);
  EXPECT_EQ(listed.findings(0).offender_id(), "R1");
  EXPECT_EQ(listed.findings(0).visit_id(), alone.id());
  request.set_team("south");
  EXPECT_THAT(visits_->ListFindings(Call(), request)->findings(), IsEmpty());
}

TEST_F(VisitsTest, PatternsOverTheLatestVisitsAreFindings) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  ASSERT_THAT(Rmp("R1", 0, 1, false, /*unannounced=*/50).status(), IsOk());
  // Four announced weekday daytime visits (2026-03-02 is a Monday).
  v1::Visit last;
  for (int week = 0; week < 4; ++week) {
    VIGIL_ASSERT_OK_AND_ASSIGN(last, Visit("R1", Day(2026, 3, 2 + 7 * week, 10)));
  }
  std::vector<v1::ComplianceRule> rules;
  for (const auto& f : last.findings()) rules.push_back(f.rule());
  EXPECT_THAT(rules, ::testing::ElementsAre(v1::COMPLIANCE_RULE_UNANNOUNCED_SHARE_LOW,
                                            v1::COMPLIANCE_RULE_OFFICE_HOURS_ONLY));
  EXPECT_EQ(last.findings(0).evidence(),
            "0 of the last 4 visits unannounced (0%); the RMP reviewed on 2026-01-20 requires 50%");
  // An unannounced Saturday evening visit varies the times, but 1 of 4 unannounced is still
  // below the plan's half; a second unannounced visit meets it.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Visit varied, Visit("R1", Day(2026, 3, 28, 19), {"DC 4512"},
                                                     v1::VISIT_OUTCOME_SEEN, /*announced=*/false));
  rules.clear();
  for (const auto& f : varied.findings()) rules.push_back(f.rule());
  EXPECT_THAT(rules, ::testing::ElementsAre(v1::COMPLIANCE_RULE_UNANNOUNCED_SHARE_LOW));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Visit balanced,
      Visit("R1", Day(2026, 4, 6, 11), {"DC 4512"}, v1::VISIT_OUTCOME_SEEN, /*announced=*/false));
  EXPECT_THAT(balanced.findings(), IsEmpty());
}

// Visits of one offender recorded at once: each is judged by the visits committed before it,
// even when a concurrent one made its first attempt retry. All at one instant, a visit's
// window holds every visit committed before it, so exactly the first three committed (of
// a window of four) raise no pattern findings, whatever the order.
TEST_F(VisitsTest, VisitsRecordedAtOnceAreEachJudgedByTheVisitsCommittedBeforeIt) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  ASSERT_THAT(Rmp("R1", 0, 1, false, /*unannounced=*/50).status(), IsOk());
  constexpr int kThreads = 8;
  constexpr int kEach = 4;
  std::vector<std::vector<v1::Visit>> recorded(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // ABORTED (too many concurrent changes) asks the client to try again.
        absl::StatusOr<v1::Visit> visit;
        do {
          visit = Visit("R1", Day(2026, 3, 2, 10));
        } while (absl::IsAborted(visit.status()));
        EXPECT_THAT(visit.status(), IsOk());
        if (visit.ok()) recorded[t].push_back(*std::move(visit));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int unjudged = 0;
  int judged = 0;
  for (const std::vector<v1::Visit>& of_thread : recorded) {
    for (const v1::Visit& visit : of_thread) {
      (visit.findings().empty() ? unjudged : judged) += 1;
    }
  }
  EXPECT_EQ(unjudged, 3);
  EXPECT_EQ(judged, kThreads * kEach - 3);
}

// As above, through RecordVisitAsync, as the RPC records visits: every visit queued at once
// from one thread, a lost race retried on the executor, ABORTED queued again by the test.
TEST_F(VisitsTest, VisitsRecordedAsynchronouslyAtOnceAreEachJudgedByTheVisitsBeforeThem) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  ASSERT_THAT(Rmp("R1", 0, 1, false, /*unannounced=*/50).status(), IsOk());
  constexpr int kVisits = 32;
  Executor retries(/*threads=*/2, /*max_queued=*/1000);
  v1::RecordVisitRequest request;
  request.set_offender_id("R1");
  *request.mutable_visit_time() = ToProtoTime(Day(2026, 3, 2, 10));
  request.add_officers("DC 4512");
  request.set_outcome(v1::VISIT_OUTCOME_SEEN);
  request.set_announced(true);
  const auto call = std::make_shared<const CallContext>(Call());

  absl::Mutex mu;
  std::vector<v1::Visit> recorded;
  std::vector<absl::Status> failed;
  int aborted = 0;
  int answers = 0;
  for (int round = 0, pending = kVisits; pending > 0 && round < 20; ++round) {
    for (int i = 0; i < pending; ++i) {
      visits_->RecordVisitAsync(call, request, retries, [&](absl::StatusOr<v1::Visit> visit) {
        absl::MutexLock lock(&mu);
        ++answers;
        if (visit.ok()) {
          recorded.push_back(*std::move(visit));
        } else if (absl::IsAborted(visit.status())) {
          ++aborted;
        } else {
          failed.push_back(visit.status());
        }
      });
    }
    absl::MutexLock lock(&mu);
    auto all_answered = [&] { return answers == pending; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_answered), absl::Seconds(60)));
    pending = aborted;  // ABORTED (too many concurrent changes) asks the client to try again
    aborted = 0;
    answers = 0;
  }
  absl::MutexLock lock(&mu);
  EXPECT_THAT(failed, IsEmpty());
  ASSERT_EQ(recorded.size(), size_t{kVisits});
  int unjudged = 0;
  for (const v1::Visit& visit : recorded) unjudged += visit.findings().empty() ? 1 : 0;
  EXPECT_EQ(unjudged, 3);
}

// RecordVisitAsync answers a refusal, or a retried request id, only once its audit record is
// committed, and without committing on the calling thread (in the RPC, gRPC's): the answer comes
// from the thread that committed the audit record.
TEST_F(VisitsTest, AsynchronousRefusalsAndReplaysAreAnsweredAfterTheirAuditRecords) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  Executor retries(/*threads=*/1, /*max_queued=*/10);
  auto record = [&](const std::string& offender, const CallContext& call,
                    const std::string& request_id) {
    v1::RecordVisitRequest request;
    request.set_offender_id(offender);
    *request.mutable_visit_time() = ToProtoTime(Day(2026, 3, 2, 10));
    request.add_officers("DC 4512");
    request.set_outcome(v1::VISIT_OUTCOME_SEEN);
    request.set_request_id(request_id);
    absl::Notification answered;
    absl::StatusOr<v1::Visit> visit;
    uint64_t audited_by_then = 0;
    std::thread::id answered_on;
    visits_->RecordVisitAsync(std::make_shared<const CallContext>(call), request, retries,
                              [&](absl::StatusOr<v1::Visit> result) {
                                visit = std::move(result);
                                audited_by_then = store_->AuditHead();
                                answered_on = std::this_thread::get_id();
                                answered.Notify();
                              });
    EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_NE(answered_on, std::this_thread::get_id()) << "committed on the calling thread";
    return std::make_pair(visit, audited_by_then);
  };

  const uint64_t before = store_->AuditHead();
  auto [unknown, head] = record("NOBODY", Call(), "");
  EXPECT_THAT(unknown.status(), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(head, before + 1);
  EXPECT_EQ(AuditRecordAt(head).outcome(), "not found in force");

  CallContext elsewhere = Call();
  elsewhere.principal.actor = "DC 9";  // not R1's owner, and of another team
  elsewhere.principal.team = "south";
  auto [refused, refused_head] = record("R1", elsewhere, "");
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_EQ(refused_head, head + 1);
  EXPECT_THAT(AuditRecordAt(refused_head).outcome(), HasSubstr("R1"));

  auto [first, first_head] = record("R1", Call(), "visit-1");
  ASSERT_THAT(first.status(), IsOk());
  auto [again, again_head] = record("R1", Call(), "visit-1");
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->id(), first->id());
  ASSERT_EQ(again_head, first_head + 1);
  EXPECT_EQ(AuditRecordAt(again_head).action(), v1::AUDIT_ACTION_CONSULTATION);
}

TEST_F(VisitsTest, AVisitRecordedLateIsJudgedByTheVisitsBeforeIt) {
  Create("R1", v1::RISK_LEVEL_HIGH);
  ASSERT_THAT(Rmp("R1", 0, 1, false, /*unannounced=*/50).status(), IsOk());
  // Three announced weekday daytime visits, then two unannounced evening ones after them.
  for (int week = 0; week < 3; ++week) {
    ASSERT_THAT(Visit("R1", Day(2026, 3, 2 + 7 * week, 10)).status(), IsOk());
  }
  for (int day : {28, 29}) {
    ASSERT_THAT(Visit("R1", Day(2026, 3, day, 19), {"DC 4512"}, v1::VISIT_OUTCOME_SEEN,
                      /*announced=*/false)
                    .status(),
                IsOk());
  }
  // Recorded late: an announced daytime visit at the very instant of the third. Its window
  // is itself and the three before it or at its instant, not the evening visits recorded
  // earlier but made after it.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Visit late, Visit("R1", Day(2026, 3, 16, 10)));
  std::vector<v1::ComplianceRule> rules;
  for (const auto& f : late.findings()) rules.push_back(f.rule());
  EXPECT_THAT(rules, ::testing::ElementsAre(v1::COMPLIANCE_RULE_UNANNOUNCED_SHARE_LOW,
                                            v1::COMPLIANCE_RULE_OFFICE_HOURS_ONLY));
  // One more late visit, before them all: too few visits before it for the window rules.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Visit first, Visit("R1", Day(2026, 2, 23, 10)));
  EXPECT_THAT(first.findings(), IsEmpty());
}

TEST_F(VisitsTest, TeamDiarisingEveryoneAtTwelveMonthsIsFlatDiarising) {
  ASSERT_NO_FATAL_FAILURE(FlatAndVariedTeams());

  v1::ListComplianceFindingsRequest request;
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListComplianceFindingsResponse all,
                             visits_->ListFindings(Call(), request));
  ASSERT_EQ(all.findings_size(), 1);
  const v1::ComplianceFinding& flat = all.findings(0);
  EXPECT_EQ(flat.rule(), v1::COMPLIANCE_RULE_FLAT_DIARISING);
  EXPECT_EQ(flat.team(), "flat");
  EXPECT_EQ(
      flat.evidence(),
      "6 of the team's 6 scheduled visits are 365 days after the last visit whatever the risk "
      "(low 2, medium 2, high 2); policy v1 sets low 365, medium 182, high 91, very high 30 days");
  request.set_team("good");
  EXPECT_THAT(visits_->ListFindings(Call(), request)->findings(), IsEmpty());
}

TEST_F(VisitsTest, TheForceWideTeamCheckCountsOnlyItsOwnForce) {
  ASSERT_NO_FATAL_FAILURE(FlatAndVariedTeams());
  // Another force's team of the same name, high risk on the policy's 91 days: counted with
  // wessex's "flat", 6 of 10 would share an interval and the finding would not hold.
  CallContext dorset = Call(Role::kSupervisor);
  dorset.principal.force = "dorset";
  for (int i = 0; i < 4; ++i) {
    v1::CreateOffenderRequest create;
    create.mutable_offender()->set_id(absl::StrCat("D", i));
    create.mutable_offender()->set_display_name("Name");
    *create.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2020, 1, 10));
    create.mutable_offender()->set_owner_officer("DC 4512");
    create.mutable_offender()->set_team("flat");
    ASSERT_THAT(register_->Create(dorset, create).status(), IsOk());
    v1::RecordArmsAssessmentRequest arms;
    arms.set_offender_id(absl::StrCat("D", i));
    *arms.mutable_completed_time() = ToProtoTime(Day(2026, 1, 5));
    arms.set_assessor("DS Holt");
    arms.set_risk_level(v1::RISK_LEVEL_HIGH);
    ASSERT_THAT(assessments_->RecordArms(dorset, arms).status(), IsOk());
  }

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CheckTeamFindingsResponse wessex,
                             visits_->CheckTeamFindings(Call(Role::kSupervisor), {}));
  EXPECT_THAT(wessex.alerted_teams(), ElementsAre("flat"));
  ASSERT_EQ(wessex.findings_size(), 1);
  EXPECT_THAT(wessex.findings(0).evidence(), HasSubstr("6 of the team's 6 scheduled visits"));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CheckTeamFindingsResponse of_dorset,
                             visits_->CheckTeamFindings(dorset, {}));
  EXPECT_THAT(of_dorset.alerted_teams(), IsEmpty());
  EXPECT_THAT(of_dorset.findings(), IsEmpty());
  v1::ListComplianceFindingsRequest listing;
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListComplianceFindingsResponse listed,
                             visits_->ListFindings(Call(), listing));
  ASSERT_EQ(listed.findings_size(), 1);
  EXPECT_THAT(listed.findings(0).evidence(), HasSubstr("6 of the team's 6 scheduled visits"));
}

TEST_F(VisitsTest, DailyTeamCheckAlertsANewFlatDiarisingFindingOnceThenStandsItDown) {
  ASSERT_NO_FATAL_FAILURE(FlatAndVariedTeams());
  const uint64_t feed = store_->EventHead("rso");
  const uint64_t audit = store_->AuditHead();

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CheckTeamFindingsResponse first,
                             visits_->CheckTeamFindings(Call(Role::kSupervisor), {}));
  EXPECT_THAT(first.alerted_teams(), ElementsAre("flat"));
  EXPECT_THAT(first.stood_down_teams(), IsEmpty());
  ASSERT_EQ(first.findings_size(), 1);
  EXPECT_EQ(first.findings(0).id(), "flat-diarising/flat/2026-11-23");
  EXPECT_EQ(first.findings(0).rule(), v1::COMPLIANCE_RULE_FLAT_DIARISING);
  // One commit: the notice on the rso feed (for the alerts context), audited with it.
  ASSERT_EQ(store_->EventHead("rso"), feed + 1);
  EXPECT_EQ(store_->AuditHead(), audit + 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(const std::vector<storage::FeedEvent> events,
                             store_->Snapshot().ReadEvents("rso", feed, 10));
  ASSERT_EQ(events.size(), 1u);
  v1::ObligationEventBatch batch;
  ASSERT_TRUE(batch.ParseFromString(events[0].payload));
  ASSERT_EQ(batch.notices_size(), 1);
  const v1::ObligationNotice& notice = batch.notices(0);
  EXPECT_EQ(notice.kind(), v1::NOTICE_KIND_TEAM_FINDING);
  EXPECT_EQ(notice.id(), "flat-diarising/flat/2026-11-23");
  EXPECT_EQ(notice.obligation().team(), "flat");
  EXPECT_EQ(notice.obligation().force(), "wessex");
  EXPECT_TRUE(notice.obligation().id().empty());
  EXPECT_THAT(notice.summary(), HasSubstr("team flat diarises its visits flat: 6 of the team's 6"));

  // The next day's check: still standing, alerted already.
  clock_.Set(Day(2026, 11, 24));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CheckTeamFindingsResponse again,
                             visits_->CheckTeamFindings(Call(Role::kSupervisor), {}));
  EXPECT_THAT(again.alerted_teams(), IsEmpty());
  EXPECT_EQ(again.findings_size(), 1);
  EXPECT_EQ(store_->EventHead("rso"), feed + 1);

  // Four more high-risk offenders on the policy's 91 days: 6 of 10 share an interval, under
  // 80%: the finding stands down.
  for (int i = 0; i < 4; ++i)
    Create(absl::StrCat("H", i), v1::RISK_LEVEL_HIGH, Day(2020, 1, 10), "flat");
  const uint64_t before_stand_down = store_->EventHead("rso");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CheckTeamFindingsResponse cleared,
                             visits_->CheckTeamFindings(Call(Role::kSupervisor), {}));
  EXPECT_THAT(cleared.stood_down_teams(), ElementsAre("flat"));
  EXPECT_THAT(cleared.findings(), IsEmpty());
  EXPECT_EQ(store_->EventHead("rso"), before_stand_down);  // nothing to alert

  v1::CheckTeamFindingsRequest bad;
  bad.set_team(std::string(65, 't'));
  EXPECT_THAT(visits_->CheckTeamFindings(Call(Role::kSupervisor), bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("team")));
}

TEST_F(VisitsTest, ReactiveManagementRemovesAndRestoresTheClock) {
  Create("R1", v1::RISK_LEVEL_LOW, Day(2019, 5, 1));
  v1::SetReactiveManagementRequest request;
  request.set_offender_id("R1");
  request.set_enabled(true);
  request.set_decided_by("Insp Reid");
  request.set_reason("low risk, offence free since 2019, no intelligence");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::VisitSchedule reactive,
                             visits_->SetReactiveManagement(Call(Role::kSupervisor), request));
  EXPECT_FALSE(reactive.has_next_due_time());
  EXPECT_THAT(reactive.not_scheduled_because(),
              HasSubstr("reactive management decided by Insp Reid"));
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_LOW), 0);
  // The notification clock remains.
  v1::GetOffenderRequest get;
  get.set_id("R1");
  v1::Offender o = *register_->Get(Call(), get);
  EXPECT_TRUE(std::any_of(
      o.obligations().begin(), o.obligations().end(),
      [](const v1::Obligation& ob) { return ob.kind() == v1::OBLIGATION_KIND_NOTIFICATION; }));

  // New intelligence is a trigger: eligibility is lost and the visit clock comes back.
  v1::RecordTriggerRequest trigger;
  trigger.set_offender_id("R1");
  trigger.set_type(v1::TRIGGER_TYPE_NEW_INTELLIGENCE);
  *trigger.mutable_time() = ToProtoTime(Day(2026, 11, 22));
  ASSERT_THAT(register_->RecordTrigger(Call(), trigger).status(), IsOk());
  const v1::VisitSchedule back = Schedule("R1");
  EXPECT_TRUE(back.has_next_due_time());
  EXPECT_FALSE(back.reactive_management().enabled());
  EXPECT_THAT(back.reactive_management().ended_because(),
              HasSubstr("intelligence received on 2026-11-22"));
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_LOW), 1);
  // ...and it cannot be re-enabled while ineligible.
  EXPECT_THAT(visits_->SetReactiveManagement(Call(Role::kSupervisor), request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not eligible")));
}

TEST_F(VisitsTest, IneligibleOffenderIsRefusedWithEveryUnmetCriterion) {
  Create("R1", v1::RISK_LEVEL_MEDIUM, Day(2025, 1, 1));
  v1::SetReactiveManagementRequest request;
  request.set_offender_id("R1");
  request.set_enabled(true);
  request.set_decided_by("Insp Reid");
  request.set_reason("trying");
  EXPECT_THAT(visits_->SetReactiveManagement(Call(Role::kSupervisor), request),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("risk level is medium, not low"),
                             HasSubstr("without offence only since 2025-01-01"))));
}

TEST_F(VisitsTest, NoAccessDoesNotSatisfyTheClockAndIsATrigger) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  ASSERT_THAT(Visit("R1", Day(2026, 6, 1)).status(), IsOk());
  const v1::VisitSchedule before = Schedule("R1");
  ASSERT_THAT(Visit("R1", Day(2026, 11, 2), {"DC 4512"}, v1::VISIT_OUTCOME_NO_ACCESS).status(),
              IsOk());
  const v1::VisitSchedule after = Schedule("R1");
  EXPECT_EQ(after.next_due_time().seconds(), before.next_due_time().seconds());
  v1::GetOffenderRequest get;
  get.set_id("R1");
  const v1::Offender o = *register_->Get(Call(), get);
  ASSERT_EQ(o.open_triggers_size(), 1);
  EXPECT_EQ(o.open_triggers(0).type(), v1::TRIGGER_TYPE_REFUSED_ACCESS);
  EXPECT_EQ(o.open_triggers(0).note(), "no access at a home visit");
}

TEST_F(VisitsTest, CustodyPausesTheClockAndReleaseResumesWithTheTimeLeft) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  ASSERT_THAT(Visit("R1", Day(2026, 11, 3)).status(),
              IsOk());  // due end of 2027-05-04: 162 days left
  v1::GetOffenderRequest get;
  get.set_id("R1");
  v1::Offender o = *register_->Get(Call(), get);
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_IN_CUSTODY);
  update.mutable_update_mask()->add_paths("status");
  VIGIL_ASSERT_OK_AND_ASSIGN(o, register_->Update(Call(), update));
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_MEDIUM), 0);
  EXPECT_THAT(Schedule("R1").not_scheduled_because(),
              HasSubstr("paused while OFFENDER_STATUS_IN_CUSTODY"));
  const absl::Duration left = LocalEndOf(2027, 5, 4) - clock_.Now();

  clock_.Advance(absl::Hours(24 * 100));
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  ASSERT_THAT(register_->Update(Call(), update).status(), IsOk());
  const v1::VisitSchedule resumed = Schedule("R1");
  EXPECT_EQ(*FromProtoTime(resumed.next_due_time(), ""), clock_.Now() + left);
  EXPECT_THAT(resumed.reason(), HasSubstr("visit clock resumed on 2027-03-03 with 162 days left"));
  EXPECT_EQ(VisitCounter(v1::RISK_LEVEL_MEDIUM), 1);
}

TEST_F(VisitsTest, BadVisitsAreRefusedAndWriteNothing) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(Visit("R1", clock_.Now() + absl::Hours(48)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("visit_time")));
  EXPECT_THAT(Visit("R1", Day(2026, 1, 1), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("officers")));
  EXPECT_THAT(Visit("R1", Day(2026, 1, 1), {"DC 1"}, v1::VISIT_OUTCOME_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outcome")));
  EXPECT_EQ(store_->AuditHead(), head);
  EXPECT_THAT(Visit("NOBODY", Day(2026, 1, 1)), StatusIs(absl::StatusCode::kNotFound));

  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Visit first,
      Visit("R1", Day(2026, 2, 1), {"DC 1"}, v1::VISIT_OUTCOME_SEEN, true, false, "visit-1"));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Visit retry,
      Visit("R1", Day(2026, 2, 1), {"DC 1"}, v1::VISIT_OUTCOME_SEEN, true, false, "visit-1"));
  EXPECT_EQ(retry.id(), first.id());
  EXPECT_THAT(
      Visit("R1", Day(2026, 2, 2), {"DC 2"}, v1::VISIT_OUTCOME_SEEN, true, false, "visit-1"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("use a new request_id")));
  v1::ListVisitsRequest list;
  list.set_offender_id("R1");
  EXPECT_EQ(visits_->ListVisits(Call(), list)->visits_size(), 1);

  v1::GetOffenderRequest get;
  get.set_id("R1");
  const v1::Offender o = *register_->Get(Call(), get);
  v1::UpdateOffenderRequest custody;
  custody.mutable_offender()->set_id("R1");
  custody.mutable_offender()->set_revision(o.revision());
  custody.mutable_offender()->set_status(v1::OFFENDER_STATUS_IN_CUSTODY);
  custody.mutable_update_mask()->add_paths("status");
  ASSERT_THAT(register_->Update(Call(), custody).status(), IsOk());
  EXPECT_THAT(Visit("R1", Day(2026, 11, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("IN_CUSTODY")));
}

TEST_F(VisitsTest, VisitOrArmsBeforeRegistrationIsRefusedNamingTheField) {
  Create("R1", v1::RISK_LEVEL_UNSPECIFIED, Day(2024, 3, 10));
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(Visit("R1", Day(2024, 3, 9)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("visit_time: 2024-03-09 is before offender R1 was registered on "
                                 "2024-03-10")));
  EXPECT_THAT(Arms("R1", Day(2023, 12, 1), v1::RISK_LEVEL_LOW),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("completed_time: 2023-12-01 is before offender R1 was registered "
                                 "on 2024-03-10")));
  EXPECT_EQ(store_->AuditHead(), head);  // nothing written
  // The day of registration itself is fine.
  EXPECT_THAT(Arms("R1", Day(2024, 3, 10, 9), v1::RISK_LEVEL_LOW).status(), IsOk());
  EXPECT_THAT(Visit("R1", Day(2024, 3, 10, 9)).status(), IsOk());
}

TEST_F(VisitsTest, VisitNamingMoreThanTwentyOfficersIsRefused) {
  Create("R1", v1::RISK_LEVEL_MEDIUM);
  std::vector<std::string> officers;
  officers.reserve(21);
  for (int i = 0; i < 21; ++i) officers.push_back(absl::StrCat("DC ", i));
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(Visit("R1", Day(2026, 2, 1), officers),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officers: at most 20 officers at one visit (got 21)")));
  EXPECT_EQ(store_->AuditHead(), head);
  officers.pop_back();
  EXPECT_THAT(Visit("R1", Day(2026, 2, 1), officers).status(), IsOk());
}

TEST_F(VisitsTest, PlanListsDueVisitsMostRiskyThenMostOverdue) {
  Create("LOW", v1::RISK_LEVEL_LOW);
  Create("HIGH", v1::RISK_LEVEL_HIGH);
  Create("VH", v1::RISK_LEVEL_VERY_HIGH);
  ASSERT_THAT(Visit("LOW", Day(2025, 11, 1)).status(), IsOk());   // due 2026-11-01: overdue
  ASSERT_THAT(Visit("HIGH", Day(2026, 8, 25)).status(), IsOk());  // due 2026-11-24: in 1 day
  ASSERT_THAT(Visit("VH", Day(2026, 11, 20)).status(), IsOk());   // due 2026-12-20: beyond 14 days
  v1::GetVisitPlanRequest request;
  request.set_team("north");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::VisitPlan plan, visits_->Plan(Call(), request));
  ASSERT_EQ(plan.visits_size(), 2);
  EXPECT_EQ(plan.visits(0).offender_id(), "HIGH");
  EXPECT_LT(plan.visits(0).days_overdue(), 0);
  EXPECT_EQ(plan.visits(1).offender_id(), "LOW");
  EXPECT_GT(plan.visits(1).days_overdue(), 20);
  request.set_days(60);
  EXPECT_EQ(visits_->Plan(Call(), request)->visits(0).offender_id(), "VH");

  // A clock due at the very end of the horizon's day is in the plan, a day later is not, and
  // another team's is not in this team's; an officer's plan is their own offenders, any team.
  Create("EDGE", v1::RISK_LEVEL_HIGH);
  Create("LATER", v1::RISK_LEVEL_HIGH);
  Create("SOUTH", v1::RISK_LEVEL_HIGH, Day(2020, 1, 10), "south");
  ASSERT_THAT(Visit("EDGE", Day(2026, 9, 7)).status(), IsOk());    // due 2026-12-07: the horizon
  ASSERT_THAT(Visit("LATER", Day(2026, 9, 8)).status(), IsOk());   // due 2026-12-08
  ASSERT_THAT(Visit("SOUTH", Day(2026, 8, 25)).status(), IsOk());  // due 2026-11-24
  auto planned = [&](const v1::GetVisitPlanRequest& r) {
    std::vector<std::string> ids;
    absl::StatusOr<v1::VisitPlan> p = visits_->Plan(Call(), r);
    EXPECT_THAT(p.status(), IsOk());
    if (p.ok()) {
      for (const v1::PlannedVisit& v : p->visits()) ids.push_back(v.offender_id());
    }
    return ids;
  };
  request.set_days(0);
  EXPECT_THAT(planned(request), ElementsAre("HIGH", "EDGE", "LOW"));
  EXPECT_THAT(planned(v1::GetVisitPlanRequest()), ElementsAre("HIGH", "SOUTH", "EDGE", "LOW"));
  // A visit re-times the clock: the plan follows at once.
  ASSERT_THAT(Visit("HIGH", Day(2026, 11, 22)).status(), IsOk());
  EXPECT_THAT(planned(request), ElementsAre("EDGE", "LOW"));
}

}  // namespace
}  // namespace vigil::rso
