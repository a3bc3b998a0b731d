// The rso context over a real store: offenders, ARMS, RMPs and triggers, each one commit with
// its clocks, counters, feed event and audit; idempotency, concurrency and force scoping.
#include <thread>

#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "services/rso/assessments.h"
#include "services/rso/offender_store.h"
#include "services/rso/register.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"
#include "vigil/v1/audit.pb.h"

namespace vigil::rso {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::vigil::testing::Day;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class RsoRegisterTest : public vigil::testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    OpenRegister();
  }

  // Reopens the store and the register over it, as a restarted vigild does.
  void Open() {
    register_.reset();
    assessments_.reset();
    offenders_.reset();
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    OpenRegister();
  }

  void OpenRegister() {
    offenders_ = std::make_unique<OffenderStore>(*store_, *policies_, zone_);
    register_ = std::make_unique<Register>(*offenders_);
    assessments_ = std::make_unique<Assessments>(*offenders_);
  }

  CallContext Call(std::string force = "wessex", Role role = Role::kOfficer) const {
    CallContext call;
    call.principal = Principal{"DC 4512", role, std::move(force), "north"};
    call.purpose = "offender management";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  v1::Offender Create(const std::string& id, absl::Time registered,
                      const std::string& team = "north", const std::string& owner = "DC 4512",
                      const std::string& force = "wessex") {
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_id(id);
    request.mutable_offender()->set_display_name("Name " + id);
    request.mutable_offender()->set_visor_ref("V/" + id);
    *request.mutable_offender()->mutable_registered_time() = ToProtoTime(registered);
    request.mutable_offender()->set_owner_officer(owner);
    request.mutable_offender()->set_team(team);
    absl::StatusOr<v1::Offender> created = register_->Create(Call(force), request);
    EXPECT_THAT(created.status(), IsOk());
    return created.ok() ? *created : v1::Offender();
  }

  // A request to register `id` (DC 4512's, team north) for `period`, registered at `registered`
  // (none: awaiting the initial notification); the test sets the rest.
  static v1::CreateOffenderRequest Registering(const std::string& id, v1::NotificationPeriod period,
                                               std::optional<absl::Time> registered) {
    v1::CreateOffenderRequest request;
    v1::Offender& o = *request.mutable_offender();
    o.set_id(id);
    o.set_display_name("Name " + id);
    if (registered.has_value()) *o.mutable_registered_time() = ToProtoTime(*registered);
    o.set_notification_period(period);
    o.set_owner_officer("DC 4512");
    o.set_team("north");
    return request;
  }

  absl::StatusOr<v1::ArmsAssessment> Arms(const std::string& id, absl::Time completed,
                                          v1::RiskLevel risk, const std::string& request_id = "") {
    v1::RecordArmsAssessmentRequest request;
    request.set_offender_id(id);
    *request.mutable_completed_time() = ToProtoTime(completed);
    request.set_assessor("DS Holt");
    request.set_risk_level(risk);
    request.add_risk_factors(v1::ARMS_RISK_FACTOR_SEXUAL_PREOCCUPATION);
    request.set_request_id(request_id);
    return assessments_->RecordArms(Call(), request);
  }

  v1::Offender Get(const std::string& id) {
    v1::GetOffenderRequest request;
    request.set_id(id);
    absl::StatusOr<v1::Offender> offender = register_->Get(Call(), request);
    EXPECT_THAT(offender.status(), IsOk());
    return offender.ok() ? *offender : v1::Offender();
  }

  static const v1::Obligation* Find(const v1::Offender& o, absl::string_view suffix) {
    for (const v1::Obligation& ob : o.obligations()) {
      if (ob.id() == absl::StrCat(o.id(), "/", suffix)) return &ob;
    }
    return nullptr;
  }

  int64_t OpenCounter(v1::ObligationKind kind, v1::RiskLevel risk,
                      const std::string& team = "north", const std::string& officer = "DC 4512") {
    return OpenInCell(storage::DeadlineSpace::kRso, "wessex", team, officer, kind, risk);
  }

  int DeadlineCount() {
    int n = 0;
    EXPECT_THAT(store_->Snapshot().ScanDeadlines(storage::DeadlineSpace::kRso, absl::InfinitePast(),
                                                 absl::InfiniteFuture(),
                                                 [&](const storage::Deadline&, absl::string_view) {
                                                   ++n;
                                                   return true;
                                                 }),
                IsOk());
    return n;
  }

  std::unique_ptr<OffenderStore> offenders_;
  std::unique_ptr<Register> register_;
  std::unique_ptr<Assessments> assessments_;
};

TEST_F(RsoRegisterTest, NewOffenderWithoutArmsIsNotAssessedWithAnInitialAssessmentClock) {
  const v1::Offender o = Create("R1", Day(2026, 11, 1));
  EXPECT_EQ(o.risk_level(), v1::RISK_LEVEL_UNSPECIFIED);
  EXPECT_EQ(o.revision(), 1);
  const v1::Obligation* arms = Find(o, "arms");
  ASSERT_NE(arms, nullptr);
  EXPECT_EQ(arms->kind(), v1::OBLIGATION_KIND_ARMS_ASSESSMENT);
  EXPECT_EQ(arms->reason(),
            "not assessed: initial ARMS within 28 days of registration on 2026-11-01 (policy v1)");
  EXPECT_EQ(arms->policy_version(), "v1");
  // Due at the end of local day 2026-11-29 (GMT): midnight UTC on the 30th.
  EXPECT_EQ(*FromProtoTime(arms->due_time(), ""),
            absl::FromCivil(absl::CivilSecond(2026, 11, 30), absl::UTCTimeZone()));
  EXPECT_NE(Find(o, "notification"), nullptr);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_UNSPECIFIED), 1);
  EXPECT_NE(Find(o, "home-visit"), nullptr);
  EXPECT_EQ(DeadlineCount(), 3);

  v1::ListOffendersRequest not_assessed;
  not_assessed.set_not_assessed_only(true);
  absl::StatusOr<v1::ListOffendersResponse> list = register_->List(Call(), not_assessed);
  ASSERT_THAT(list.status(), IsOk());
  ASSERT_EQ(list->offenders_size(), 1);
  EXPECT_EQ(list->offenders(0).id(), "R1");
}

TEST_F(RsoRegisterTest, MediumArmsFourHundredDaysAgoIsOverdueWithReasonAndVersion) {
  Create("R1", Day(2024, 1, 10));
  const absl::Time completed = clock_.Now() - absl::Hours(24 * 400);
  ASSERT_THAT(Arms("R1", completed, v1::RISK_LEVEL_MEDIUM).status(), IsOk());
  const v1::Offender o = Get("R1");
  EXPECT_EQ(o.risk_level(), v1::RISK_LEVEL_MEDIUM);
  const v1::Obligation* arms = Find(o, "arms");
  ASSERT_NE(arms, nullptr);
  EXPECT_LT(*FromProtoTime(arms->due_time(), ""), clock_.Now());
  EXPECT_EQ(arms->reason(), absl::StrCat("medium risk: reassess within 365 days of last ARMS on ",
                                         absl::FormatCivilTime(policy::LocalDay(completed, zone_)),
                                         " (policy v1)"));
  EXPECT_EQ(arms->risk_level(), v1::RISK_LEVEL_MEDIUM);
  // The counters moved from "not assessed" to medium, and an RMP review clock opened.
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_UNSPECIFIED), 0);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_MEDIUM), 1);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_RMP_REVIEW, v1::RISK_LEVEL_MEDIUM), 1);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_NOTIFICATION, v1::RISK_LEVEL_MEDIUM), 1);
}

TEST_F(RsoRegisterTest, TriggerOpensA28DayClockAndAnAssessmentClosesBoth) {
  Create("R1", Day(2024, 1, 10));
  ASSERT_THAT(Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_LOW).status(), IsOk());
  const v1::Obligation periodic_before = *Find(Get("R1"), "arms");

  v1::RecordTriggerRequest trigger;
  trigger.set_offender_id("R1");
  trigger.set_type(v1::TRIGGER_TYPE_CHILD_IN_HOUSEHOLD);
  *trigger.mutable_time() = ToProtoTime(Day(2026, 11, 20));
  trigger.set_note("partner's child moved in");
  absl::StatusOr<v1::Offender> triggered = register_->RecordTrigger(Call(), trigger);
  ASSERT_THAT(triggered.status(), IsOk());
  const v1::Obligation* clock = Find(*triggered, "arms-trigger");
  ASSERT_NE(clock, nullptr);
  EXPECT_EQ(clock->reason(),
            "trigger (child in household on 2026-11-20): reassess within 28 days (policy v1)");
  EXPECT_EQ(*FromProtoTime(clock->due_time(), ""),
            absl::FromCivil(absl::CivilSecond(2026, 12, 19), zone_));
  // The periodic clock is untouched by the trigger.
  EXPECT_TRUE(SameObligation(*Find(*triggered, "arms"), periodic_before));
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_LOW), 2);

  ASSERT_THAT(Arms("R1", Day(2026, 11, 22), v1::RISK_LEVEL_HIGH).status(), IsOk());
  const v1::Offender after = Get("R1");
  EXPECT_EQ(Find(after, "arms-trigger"), nullptr);
  EXPECT_TRUE(after.open_triggers().empty());
  EXPECT_EQ(Find(after, "arms")->reason(),
            "high risk: reassess within 180 days of last ARMS on 2026-11-22 (policy v1)");
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_LOW), 0);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_HIGH), 1);
}

TEST_F(RsoRegisterTest, OlderAssessmentJoinsHistoryWithoutMovingClocks) {
  Create("R1", Day(2024, 1, 10));
  ASSERT_THAT(Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_HIGH).status(), IsOk());
  const v1::Offender before = Get("R1");
  ASSERT_THAT(Arms("R1", Day(2025, 6, 1), v1::RISK_LEVEL_LOW).status(), IsOk());
  const v1::Offender after = Get("R1");
  EXPECT_EQ(after.risk_level(), v1::RISK_LEVEL_HIGH);
  EXPECT_TRUE(SameObligation(*Find(after, "arms"), *Find(before, "arms")));
  v1::ListArmsAssessmentsRequest list;
  list.set_offender_id("R1");
  absl::StatusOr<v1::ListArmsAssessmentsResponse> history = assessments_->ListArms(Call(), list);
  ASSERT_THAT(history.status(), IsOk());
  ASSERT_EQ(history->assessments_size(), 2);
  EXPECT_EQ(history->assessments(0).risk_level(), v1::RISK_LEVEL_LOW);  // oldest first
  EXPECT_EQ(history->assessments(1).risk_level(), v1::RISK_LEVEL_HIGH);
}

TEST_F(RsoRegisterTest, RetriedRequestReturnsTheFirstResultAndWritesNothing) {
  Create("R1", Day(2024, 1, 10));
  absl::StatusOr<v1::ArmsAssessment> first =
      Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_LOW, "req-7");
  ASSERT_THAT(first.status(), IsOk());
  const uint64_t audit_head = store_->AuditHead();
  const uint64_t feed_head = store_->EventHead("rso");
  absl::StatusOr<v1::ArmsAssessment> retry =
      Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_LOW, "req-7");
  ASSERT_THAT(retry.status(), IsOk());
  EXPECT_EQ(retry->id(), first->id());
  EXPECT_EQ(retry->risk_level(), v1::RISK_LEVEL_LOW);
  EXPECT_EQ(store_->EventHead("rso"), feed_head);
  // The replay discloses the assessment again: one consultation record, marked as a replay.
  ASSERT_EQ(store_->AuditHead(), audit_head + 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<storage::StoredAuditRecord> stored,
                             store_->Snapshot().AuditRecord(audit_head + 1));
  v1::AuditRecord replay;
  ASSERT_TRUE(replay.ParseFromString(stored->body));
  EXPECT_EQ(replay.action(), v1::AUDIT_ACTION_CONSULTATION);
  EXPECT_TRUE(replay.replay());
  EXPECT_EQ(replay.request_id(), "req-7");
  EXPECT_THAT(replay.subject_ids(), ElementsAre("R1"));

  // The same id with another request is refused and writes nothing.
  EXPECT_THAT(Arms("R1", Day(2026, 6, 2), v1::RISK_LEVEL_HIGH, "req-7"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("request_id req-7 was already used for a different request; use "
                                 "a new request_id")));
  EXPECT_EQ(store_->AuditHead(), audit_head + 1);
  EXPECT_EQ(store_->EventHead("rso"), feed_head);
  EXPECT_EQ(Get("R1").risk_level(), v1::RISK_LEVEL_LOW);

  // Concurrent retries of a create commit exactly once.
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      v1::CreateOffenderRequest request;
      request.set_request_id("create-R2");
      request.mutable_offender()->set_display_name("Two");
      *request.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2025, 1, 1));
      request.mutable_offender()->set_owner_officer("DC 1");
      request.mutable_offender()->set_team("south");
      absl::StatusOr<v1::Offender> created = register_->Create(Call(), request);
      if (created.ok()) ok.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  v1::ListOffendersRequest south;
  south.set_team("south");
  EXPECT_EQ(register_->List(Call("wessex", Role::kSupervisor), south)->offenders_size(), 1);
}

TEST_F(RsoRegisterTest, AnotherCallersRequestIdNeverReturnsTheFirstCallersRecord) {
  // DC 100 registers Alice Secret with req-1.
  CallContext dc100 = Call();
  dc100.principal.actor = "DC 100";
  v1::CreateOffenderRequest alice;
  alice.set_request_id("req-1");
  alice.mutable_offender()->set_display_name("Alice Secret");
  *alice.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2025, 1, 1));
  alice.mutable_offender()->set_owner_officer("DC 100");
  alice.mutable_offender()->set_team("north");
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Offender first, register_->Create(dc100, alice));

  // DC 404 of the same force sends req-1 too: a request id is the caller's own, so this is a new
  // registration, and nothing of Alice's record comes back.
  CallContext dc404 = Call();
  dc404.principal.actor = "DC 404";
  v1::CreateOffenderRequest other;
  other.set_request_id("req-1");
  other.mutable_offender()->set_display_name("Bob Other");
  *other.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2025, 2, 1));
  other.mutable_offender()->set_owner_officer("DC 404");
  other.mutable_offender()->set_team("north");
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Offender second, register_->Create(dc404, other));
  EXPECT_NE(second.id(), first.id());
  EXPECT_EQ(second.display_name(), "Bob Other");

  // Even with DC 100's exact request (under an id DC 404 has not used), DC 404 gets a
  // registration of their own.
  alice.set_request_id("req-2");
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Offender copy, register_->Create(dc404, alice));
  EXPECT_NE(copy.id(), first.id());
  alice.set_request_id("req-1");

  // And DC 100's own retry still answers with Alice's record.
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Offender retried, register_->Create(dc100, alice));
  EXPECT_EQ(retried.id(), first.id());

  // The same id in another force is another key as well.
  CallContext mercia = Call("mercia");
  mercia.principal.actor = "DC 100";
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Offender elsewhere, register_->Create(mercia, alice));
  EXPECT_EQ(elsewhere.force(), "mercia");
}

TEST_F(RsoRegisterTest, StaleRevisionIsAbortedAndWritesNothing) {
  const v1::Offender o = Create("R1", Day(2024, 1, 10));
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_owner_officer("DC 9");
  update.mutable_update_mask()->add_paths("owner_officer");
  absl::StatusOr<v1::Offender> moved = register_->Update(Call(), update);
  ASSERT_THAT(moved.status(), IsOk());
  EXPECT_EQ(moved->revision(), 2);
  for (const v1::Obligation& ob : moved->obligations()) EXPECT_EQ(ob.owner_officer(), "DC 9");
  EXPECT_EQ(
      OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_UNSPECIFIED, "north", "DC 9"),
      1);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_UNSPECIFIED), 0);

  update.mutable_offender()->set_owner_officer("DC 10");  // still revision 1
  EXPECT_THAT(register_->Update(Call(), update),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("revision 1 is stale")));
  EXPECT_EQ(Get("R1").owner_officer(), "DC 9");
}

TEST_F(RsoRegisterTest, AnotherForceGetsNotFoundAndTheRefusalIsAudited) {
  Create("R1", Day(2024, 1, 10));
  v1::GetOffenderRequest get;
  get.set_id("R1");
  EXPECT_THAT(register_->Get(Call("mercia"), get), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Arms("R1", Day(2026, 1, 1), v1::RISK_LEVEL_LOW).status(), IsOk());  // own force fine
  v1::RecordArmsAssessmentRequest foreign;
  foreign.set_offender_id("R1");
  *foreign.mutable_completed_time() = ToProtoTime(Day(2026, 2, 1));
  foreign.set_assessor("x");
  foreign.set_risk_level(v1::RISK_LEVEL_HIGH);
  EXPECT_THAT(assessments_->RecordArms(Call("mercia"), foreign),
              StatusIs(absl::StatusCode::kNotFound));

  std::vector<std::string> outcomes;
  ASSERT_THAT(store_->Snapshot().ScanAuditIndex(storage::AuditByForcePrefix("mercia"), 0,
                                                [&](uint64_t seq) {
                                                  auto record = store_->Snapshot().AuditRecord(seq);
                                                  v1::AuditRecord parsed;
                                                  parsed.ParseFromString((*record)->body);
                                                  outcomes.push_back(parsed.outcome());
                                                  return true;
                                                }),
              IsOk());
  EXPECT_THAT(outcomes, ElementsAre("not found in force", "not found in force"));
  EXPECT_EQ(Get("R1").risk_level(), v1::RISK_LEVEL_LOW);
}

TEST_F(RsoRegisterTest, AnOfficerReadsOnlyTheirTeamsCaseloadWithoutACrossTeamReason) {
  Create("N1", Day(2024, 1, 10), "north", "DC 4512");
  Create("N2", Day(2024, 1, 10), "north", "DC 99");
  Create("S1", Day(2024, 1, 10), "south", "DC 7");
  v1::GetOffenderRequest get;
  get.set_id("N2");
  EXPECT_THAT(register_->Get(Call(), get), IsOk());  // a teammate's offender
  get.set_id("S1");
  EXPECT_THAT(register_->Get(Call(), get),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("offender S1 is in team south's caseload, outside team "
                                 "north's: an officer reads it only with a cross-team reason")));
  // Writes read the record too: refused the same way, and nothing is written.
  EXPECT_THAT(Arms("S1", Day(2026, 1, 1), v1::RISK_LEVEL_LOW).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));

  CallContext cross = Call();
  cross.cross_team_reason = "MAPPA meeting 2026-11-23: S1 shares an address with N1";
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender read, register_->Get(cross, get));
  EXPECT_EQ(read.id(), "S1");
  // A supervisor reads across teams.
  EXPECT_THAT(register_->Get(Call("wessex", Role::kSupervisor), get), IsOk());

  // The refusal and the cross-team read are both in the log, under the officer.
  std::vector<std::pair<std::string, std::string>> audited;  // outcome, cross-team reason
  ASSERT_THAT(
      store_->Snapshot().ScanAuditIndex(
          storage::AuditBySubjectPrefix("wessex", "S1"), 0,
          [&](uint64_t seq) {
            auto record = store_->Snapshot().AuditRecord(seq);
            v1::AuditRecord parsed;
            parsed.ParseFromString((*record)->body);
            if (parsed.action() == v1::AUDIT_ACTION_CONSULTATION || !parsed.outcome().empty()) {
              audited.emplace_back(parsed.outcome(), parsed.cross_team_reason());
            }
            return true;
          }),
      IsOk());
  ASSERT_GE(audited.size(), 3u);
  EXPECT_THAT(audited[0].first, HasSubstr("caseload"));
  EXPECT_EQ(audited[2].second, cross.cross_team_reason);
}

TEST_F(RsoRegisterTest, AnOfficersListingIsNarrowedToTheirCaseload) {
  Create("N1", Day(2024, 1, 10), "north", "DC 4512");
  Create("N2", Day(2024, 1, 10), "north", "DC 99");
  Create("S1", Day(2024, 1, 10), "south", "DC 7");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOffendersResponse mine,
                             register_->List(Call(), v1::ListOffendersRequest()));
  std::vector<std::string> ids;
  for (const v1::Offender& o : mine.offenders()) ids.push_back(o.id());
  EXPECT_THAT(ids, ElementsAre("N1", "N2"));

  v1::ListOffendersRequest south;
  south.set_team("south");
  EXPECT_THAT(register_->List(Call(), south), StatusIs(absl::StatusCode::kPermissionDenied));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::ListOffendersResponse all,
      register_->List(Call("wessex", Role::kSupervisor), v1::ListOffendersRequest()));
  EXPECT_EQ(all.offenders_size(), 3);
}

TEST_F(RsoRegisterTest, BadInputNamesTheFieldAndWritesNothing) {
  Create("R1", Day(2024, 1, 10));
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(Arms("R1", clock_.Now() + absl::Hours(48), v1::RISK_LEVEL_LOW),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("completed_time")));
  EXPECT_THAT(Arms("R1", Day(2026, 1, 1), v1::RISK_LEVEL_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("risk_level")));
  v1::CreateOffenderRequest nameless;
  *nameless.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2025, 1, 1));
  nameless.mutable_offender()->set_owner_officer("DC 1");
  nameless.mutable_offender()->set_team("north");
  EXPECT_THAT(register_->Create(Call(), nameless),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offender.display_name")));
  EXPECT_EQ(store_->AuditHead(), head);
  EXPECT_THAT(Arms("NOPE", Day(2026, 1, 1), v1::RISK_LEVEL_LOW),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RsoRegisterTest, StatusDecidesWhichClocksRun) {
  const v1::Offender o = Create("R1", Day(2024, 1, 10));
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_IN_CUSTODY);
  update.mutable_update_mask()->add_paths("status");
  absl::StatusOr<v1::Offender> custody = register_->Update(Call(), update);
  ASSERT_THAT(custody.status(), IsOk());
  EXPECT_NE(Find(*custody, "arms"), nullptr);
  EXPECT_EQ(Find(*custody, "notification"), nullptr);

  update.mutable_offender()->set_revision(custody->revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  absl::StatusOr<v1::Offender> released = register_->Update(Call(), update);
  ASSERT_THAT(released.status(), IsOk());
  // Release from custody is a reassessment trigger.
  ASSERT_EQ(released->open_triggers_size(), 1);
  EXPECT_EQ(released->open_triggers(0).type(), v1::TRIGGER_TYPE_RELEASE_FROM_CUSTODY);
  EXPECT_NE(Find(*released, "arms-trigger"), nullptr);
  EXPECT_NE(Find(*released, "notification"), nullptr);

  update.mutable_offender()->set_revision(released->revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_DECEASED);
  absl::StatusOr<v1::Offender> deceased = register_->Update(Call(), update);
  ASSERT_THAT(deceased.status(), IsOk());
  EXPECT_TRUE(deceased->obligations().empty());
  EXPECT_EQ(DeadlineCount(), 0);
  EXPECT_THAT(Arms("R1", Day(2026, 11, 1), v1::RISK_LEVEL_LOW),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("DECEASED")));
}

TEST_F(RsoRegisterTest, PolicyChangeMovesNothingUntilRecomputed) {
  Create("R1", Day(2024, 1, 10));
  ASSERT_THAT(Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_MEDIUM).status(), IsOk());
  const v1::Obligation before = *Find(Get("R1"), "arms");

  v1::Policy stricter = policy::DefaultPolicy();
  stricter.mutable_arms_reassessment_days()->set_medium(182);
  CallContext admin = Call("wessex", Role::kForceAdmin);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy stored, policies_->Set(admin, stricter));
  EXPECT_EQ(stored.version(), "v2");
  EXPECT_TRUE(SameObligation(*Find(Get("R1"), "arms"), before));

  // Unrelated edits keep the clock too.
  v1::RecordTriggerRequest trigger;
  trigger.set_offender_id("R1");
  trigger.set_type(v1::TRIGGER_TYPE_NEW_INTELLIGENCE);
  *trigger.mutable_time() = ToProtoTime(Day(2026, 11, 1));
  ASSERT_THAT(register_->RecordTrigger(Call(), trigger).status(), IsOk());
  EXPECT_TRUE(SameObligation(*Find(Get("R1"), "arms"), before));
  EXPECT_EQ(Find(Get("R1"), "arms-trigger")->policy_version(), "v2");

  admin.purpose = "policy v2 adopted at the performance meeting";
  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report dry,
                             offenders_->recomputer().Recompute(admin, true));
  EXPECT_EQ(dry.changed, 1);
  EXPECT_TRUE(SameObligation(*Find(Get("R1"), "arms"), before));
  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report report,
                             offenders_->recomputer().Recompute(admin, false));
  EXPECT_EQ(report.examined, 1);
  EXPECT_EQ(report.changed, 1);
  const v1::Obligation after = *Find(Get("R1"), "arms");
  EXPECT_EQ(after.policy_version(), "v2");
  EXPECT_EQ(after.reason(),
            "medium risk: reassess within 182 days of last ARMS on 2026-06-01 (policy v2)");
  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report again,
                             offenders_->recomputer().Recompute(admin, false));
  EXPECT_EQ(again.changed, 0);
}

TEST_F(RsoRegisterTest, ARestartKeepsAForcesPolicyAndAPolicyFileSetsTheNationalDefault) {
  v1::Policy stricter = policy::DefaultPolicy();
  stricter.mutable_arms_reassessment_days()->set_medium(182);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy set,
                             policies_->Set(Call("wessex", Role::kForceAdmin), stricter));
  ASSERT_EQ(set.version(), "v2");

  // vigild without --policy: the built-in default only seeds an empty store.
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<policy::PolicyRegistry> restarted,
      policy::PolicyRegistry::Open(*store_, clock_, policy::DefaultPolicy(), "built-in default",
                                   policy::PolicyRegistry::Adopt::kWhenNone));
  EXPECT_EQ(restarted->Current("wessex")->version(), "v2");
  EXPECT_EQ(restarted->Current("wessex")->arms_reassessment_days().medium(), 182);

  // vigild --policy FILE with other rules: a new national version, which the forces without a
  // policy of their own follow; wessex keeps the one its admin set.
  v1::Policy national = policy::DefaultPolicy();
  national.mutable_arms_reassessment_days()->set_medium(300);
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<policy::PolicyRegistry> configured,
      policy::PolicyRegistry::Open(*store_, clock_, national, "--policy national.txt",
                                   policy::PolicyRegistry::Adopt::kWhenDifferent));
  EXPECT_EQ(configured->National()->version(), "v2");
  EXPECT_EQ(configured->Current("mercia")->arms_reassessment_days().medium(), 300);
  EXPECT_EQ(configured->Current("wessex")->version(), "v2");
  EXPECT_EQ(configured->Current("wessex")->arms_reassessment_days().medium(), 182);
}

TEST_F(RsoRegisterTest, OneForcesPolicyNeverChangesAnotherForcesClocks) {
  // An eastshire admin sets very-high-risk visits to every 3,650 days.
  v1::Policy lax = policy::DefaultPolicy();
  lax.mutable_visit_interval_days()->set_very_high(3650);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy set,
                             policies_->Set(Call("eastshire", Role::kForceAdmin), lax, "req-1"));
  EXPECT_EQ(set.version(), "v2");
  EXPECT_EQ(policies_->Current("eastshire")->visit_interval_days().very_high(), 3650);
  EXPECT_EQ(policies_->Current("wessex")->version(), "v1");
  EXPECT_EQ(policies_->Current("wessex")->visit_interval_days().very_high(), 30);

  // wessex's new clocks still run on the national v1; eastshire's on its v2.
  v1::Offender wessex = Create("W1", Day(2024, 1, 10));
  for (const v1::Obligation& o : wessex.obligations()) EXPECT_EQ(o.policy_version(), "v1");
  v1::Offender eastshire = Create("E1", Day(2024, 1, 10), "north", "DC 4512", "eastshire");
  for (const v1::Obligation& o : eastshire.obligations()) EXPECT_EQ(o.policy_version(), "v2");

  // Each force sees its own chain; a version another force stored does not exist for it.
  EXPECT_THAT(policies_->Get("wessex", "v2"), StatusIs(absl::StatusCode::kNotFound));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy inherited, policies_->Get("eastshire", "v1"));
  EXPECT_EQ(inherited.visit_interval_days().very_high(), 30);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<v1::PolicyVersion> versions, policies_->List("eastshire"));
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].force(), "eastshire");
  EXPECT_TRUE(versions[1].current());

  // A retry with the same request id stores nothing new; the id with another policy is refused.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy retried,
                             policies_->Set(Call("eastshire", Role::kForceAdmin), lax, "req-1"));
  EXPECT_EQ(retried.version(), "v2");
  lax.mutable_visit_interval_days()->set_very_high(3000);
  EXPECT_THAT(policies_->Set(Call("eastshire", Role::kForceAdmin), lax, "req-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("request_id req-1 was already used for a different request")));
  EXPECT_EQ(policies_->Current("eastshire")->visit_interval_days().very_high(), 3650);

  // The change is audited under the force that made it, and survives a restart.
  bool audited = false;
  for (uint64_t seq = 1; seq <= store_->AuditHead(); ++seq) {
    VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<storage::StoredAuditRecord> stored,
                               store_->Snapshot().AuditRecord(seq));
    v1::AuditRecord record;
    ASSERT_TRUE(record.ParseFromString(stored->body));
    if (record.subject_ids_size() > 0 && record.subject_ids(0) == "policy/eastshire/v2") {
      audited = record.force() == "eastshire" && record.role() == "force-admin";
    }
  }
  EXPECT_TRUE(audited);
  Open();
  EXPECT_EQ(policies_->Current("eastshire")->version(), "v2");
  EXPECT_EQ(policies_->Current("wessex")->version(), "v1");
}

TEST_F(RsoRegisterTest, EveryCommitPublishesItsClockTransitionsInTheFeed) {
  Create("R1", Day(2024, 1, 10));
  ASSERT_THAT(Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_MEDIUM).status(), IsOk());
  absl::StatusOr<std::vector<storage::FeedEvent>> events =
      store_->Snapshot().ReadEvents("rso", 0, 10);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_EQ(events->size(), 2u);
  v1::ObligationEventBatch created, assessed;
  ASSERT_TRUE(created.ParseFromString((*events)[0].payload));
  ASSERT_TRUE(assessed.ParseFromString((*events)[1].payload));
  std::vector<v1::ObligationEventType> types;
  for (const auto& e : created.events()) types.push_back(e.type());
  EXPECT_THAT(types, ElementsAre(v1::OBLIGATION_EVENT_TYPE_OPENED, v1::OBLIGATION_EVENT_TYPE_OPENED,
                                 v1::OBLIGATION_EVENT_TYPE_OPENED));
  std::vector<std::pair<std::string, v1::ObligationEventType>> changes;
  for (const auto& e : assessed.events()) changes.emplace_back(e.obligation().id(), e.type());
  EXPECT_THAT(changes,
              UnorderedElementsAre(std::pair<std::string, v1::ObligationEventType>(
                                       "R1/arms", v1::OBLIGATION_EVENT_TYPE_RETIMED),
                                   std::pair<std::string, v1::ObligationEventType>(
                                       "R1/rmp-review", v1::OBLIGATION_EVENT_TYPE_OPENED),
                                   std::pair<std::string, v1::ObligationEventType>(
                                       "R1/notification", v1::OBLIGATION_EVENT_TYPE_RETIMED),
                                   std::pair<std::string, v1::ObligationEventType>(
                                       "R1/home-visit", v1::OBLIGATION_EVENT_TYPE_RETIMED)));
}

TEST_F(RsoRegisterTest, ImportWritesGoodRowsAtomicallyAndReportsBadOnes) {
  v1::ImportOffendersRequest request;
  auto row = [&](int line, const std::string& visor, absl::Time registered) {
    v1::OffenderImportRow* r = request.add_rows();
    r->set_line(line);
    r->mutable_offender()->set_visor_ref(visor);
    r->mutable_offender()->set_display_name("Imported " + visor);
    *r->mutable_offender()->mutable_registered_time() = ToProtoTime(registered);
    r->mutable_offender()->set_owner_officer("DC 1");
    r->mutable_offender()->set_team("east");
    return r;
  };
  v1::OffenderImportRow* good = row(2, "V1", Day(2020, 1, 1));
  *good->mutable_last_arms_time() = ToProtoTime(Day(2025, 1, 1));
  good->set_last_arms_risk_level(v1::RISK_LEVEL_HIGH);
  row(3, "V2", clock_.Now() + absl::Hours(72));  // registered in the future
  v1::OffenderImportRow* half = row(4, "V3", Day(2021, 1, 1));
  *half->mutable_last_arms_time() = ToProtoTime(Day(2025, 1, 1));  // no risk level
  row(5, "V4", Day(2022, 1, 1));

  request.set_dry_run(true);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ImportOffendersResponse dry, register_->Import(Call(), request));
  EXPECT_EQ(dry.imported(), 2);
  EXPECT_EQ(dry.errors_size(), 2);
  EXPECT_EQ(DeadlineCount(), 0);

  request.set_dry_run(false);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ImportOffendersResponse result,
                             register_->Import(Call(), request));
  EXPECT_EQ(result.imported(), 2);
  ASSERT_EQ(result.errors_size(), 2);
  EXPECT_EQ(result.errors(0).line(), 3);
  EXPECT_EQ(result.errors(0).field(), "offender.registered_time");
  EXPECT_THAT(result.errors(0).reason(), HasSubstr("in the future"));
  EXPECT_EQ(result.errors(1).line(), 4);
  EXPECT_EQ(result.errors(1).field(), "last_arms_risk_level");

  v1::ListOffendersRequest east;
  east.set_team("east");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOffendersResponse listed,
                             register_->List(Call("wessex", Role::kSupervisor), east));
  ASSERT_EQ(listed.offenders_size(), 2);
  EXPECT_EQ(OpenCounter(v1::OBLIGATION_KIND_ARMS_ASSESSMENT, v1::RISK_LEVEL_HIGH, "east", "DC 1"),
            1);

  // Repeating the import changes nothing.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ImportOffendersResponse again, register_->Import(Call(), request));
  EXPECT_EQ(again.imported(), 0);
  EXPECT_EQ(again.already_present(), 2);
}

TEST_F(RsoRegisterTest, EverythingSurvivesReopen) {
  Create("R1", Day(2024, 1, 10));
  ASSERT_THAT(Arms("R1", Day(2026, 6, 1), v1::RISK_LEVEL_VERY_HIGH).status(), IsOk());
  const v1::Offender before = Get("R1");
  Open();
  const v1::Offender after = Get("R1");
  EXPECT_EQ(after.risk_level(), v1::RISK_LEVEL_VERY_HIGH);
  ASSERT_EQ(after.obligations_size(), before.obligations_size());
  for (int i = 0; i < after.obligations_size(); ++i) {
    EXPECT_TRUE(SameObligation(after.obligations(i), before.obligations(i)));
  }
  absl::StatusOr<storage::AuditChainReport> chain = store_->Snapshot().VerifyAuditChain();
  ASSERT_THAT(chain.status(), IsOk());
  EXPECT_TRUE(chain->ok);
}

// --- The notification lifecycle (SOA 2003 ss.82-83, 91A-91F) ---------------------------------

TEST_F(RsoRegisterTest, PeriodEndClosesEveryClockAtCreate) {
  v1::CreateOffenderRequest request =
      Registering("D00200", v1::NOTIFICATION_PERIOD_10_YEARS, Day(2013, 4, 27));
  // As an import of history gives it: the status the old register had.
  request.mutable_offender()->set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  EXPECT_EQ(o.status(), v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_EQ(o.obligations_size(), 0);
  EXPECT_EQ(o.notification_ended_reason(), "the 10-year notification period ended on 2023-04-27");
  EXPECT_EQ(policy::DueDay(TimeOf(o.notification_ended_time()), zone_),
            absl::CivilDay(2023, 4, 27));
  EXPECT_EQ(DeadlineCount(), 0);
  // Still readable, and listed as expired.
  EXPECT_EQ(Get("D00200").status(), v1::OFFENDER_STATUS_EXPIRED);
  v1::ListOffendersRequest expired;
  expired.set_status(v1::OFFENDER_STATUS_EXPIRED);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOffendersResponse list, register_->List(Call(), expired));
  ASSERT_EQ(list.offenders_size(), 1);
  // An update cannot put it back under active management while the period stands ended.
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("D00200");
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  update.mutable_update_mask()->add_paths("status");
  EXPECT_THAT(register_->Update(Call(), update),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("offender.status"), HasSubstr("ended on 2023-04-27"))));
  EXPECT_EQ(Get("D00200").revision(), o.revision());
}

TEST_F(RsoRegisterTest, PeriodEndClosesEveryClockWhenTheDayComesWithTheReasonOnTheFeed) {
  // A 2-year period ending the day after tomorrow, while in custody: the daily pass finds it.
  v1::CreateOffenderRequest request =
      Registering("R1", v1::NOTIFICATION_PERIOD_2_YEARS, Day(2024, 11, 25));
  request.mutable_offender()->set_status(v1::OFFENDER_STATUS_IN_CUSTODY);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  ASSERT_EQ(o.status(), v1::OFFENDER_STATUS_IN_CUSTODY);
  ASSERT_GT(o.obligations_size(), 0);
  const int open = DeadlineCount();
  ASSERT_GT(open, 0);
  CallContext system = Call("wessex", Role::kSystem);
  VIGIL_ASSERT_OK_AND_ASSIGN(int ended, register_->CloseEndedRequirements(system));
  EXPECT_EQ(ended, 0);  // not yet: the period ends on 2026-11-25

  clock_.Set(Day(2026, 11, 26));
  const uint64_t head = store_->EventHead("rso");
  system = Call("wessex", Role::kSystem);
  VIGIL_ASSERT_OK_AND_ASSIGN(ended, register_->CloseEndedRequirements(system));
  EXPECT_EQ(ended, 1);
  const v1::Offender after = Get("R1");
  EXPECT_EQ(after.status(), v1::OFFENDER_STATUS_EXPIRED);  // custody too
  EXPECT_EQ(after.obligations_size(), 0);
  EXPECT_EQ(after.notification_ended_reason(),
            "the 2-year notification period ended on 2026-11-25");
  EXPECT_EQ(DeadlineCount(), 0);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<storage::FeedEvent> feed,
                             store_->Snapshot().ReadEvents("rso", head, 10));
  ASSERT_EQ(feed.size(), 1u);
  v1::ObligationEventBatch batch;
  ASSERT_TRUE(batch.ParseFromString(feed[0].payload));
  ASSERT_EQ(batch.events_size(), open);
  for (const v1::ObligationEvent& event : batch.events()) {
    EXPECT_EQ(event.type(), v1::OBLIGATION_EVENT_TYPE_CLOSED);
    EXPECT_EQ(event.close_reason(), "the 2-year notification period ended on 2026-11-25");
  }
  // A second pass finds nothing more to do.
  VIGIL_ASSERT_OK_AND_ASSIGN(ended, register_->CloseEndedRequirements(system));
  EXPECT_EQ(ended, 0);
}

TEST_F(RsoRegisterTest, ExpiredIsVigilsToSetAndNothingIsWrittenWhenAsked) {
  v1::CreateOffenderRequest request =
      Registering("R1", v1::NOTIFICATION_PERIOD_INDEFINITE, Day(2020, 1, 10));
  request.mutable_offender()->set_status(v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_THAT(register_->Create(Call(), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offender.status")));
  request.mutable_offender()->set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  const uint64_t audit = store_->AuditHead();

  // An end-of-period record for an indefinite requirement.
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(o.revision());
  update.mutable_offender()->set_status(v1::OFFENDER_STATUS_EXPIRED);
  update.mutable_update_mask()->add_paths("status");
  EXPECT_THAT(register_->Update(Call(), update),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("offender.status"), HasSubstr("RecordNotificationReview"))));
  EXPECT_EQ(Get("R1").revision(), o.revision());
  EXPECT_EQ(Get("R1").status(), v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
  EXPECT_GT(store_->AuditHead(), audit);  // the refusal is audited (and the reads)
}

TEST_F(RsoRegisterTest,
       InitialNotificationDueThreeDaysAfterTheRequirementStartsAndRegistrationMeetsIt) {
  v1::CreateOffenderRequest request =
      Registering("R1", v1::NOTIFICATION_PERIOD_5_YEARS, std::nullopt);
  *request.mutable_offender()->mutable_requirement_start_time() = ToProtoTime(Day(2026, 11, 20));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  ASSERT_EQ(o.obligations_size(), 1);
  const v1::Obligation* initial = Find(o, "initial-notification");
  ASSERT_NE(initial, nullptr);
  EXPECT_EQ(initial->kind(), v1::OBLIGATION_KIND_NOTIFICATION);
  EXPECT_EQ(policy::LocalDay(TimeOf(initial->due_time()) - absl::Seconds(1), zone_),
            absl::CivilDay(2026, 11, 23));
  EXPECT_THAT(initial->reason(), HasSubstr("within 3 days of the requirement starting on "
                                           "2026-11-20 (SOA 2003 s.83)"));
  EXPECT_FALSE(o.has_notification_end_time());

  // Registration before the requirement started is refused; on the day it meets the clock.
  v1::UpdateOffenderRequest update;
  update.mutable_offender()->set_id("R1");
  update.mutable_offender()->set_revision(o.revision());
  *update.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2026, 11, 19));
  update.mutable_update_mask()->add_paths("registered_time");
  EXPECT_THAT(register_->Update(Call(), update),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offender.registered_time")));
  *update.mutable_offender()->mutable_registered_time() = ToProtoTime(Day(2026, 11, 22));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender registered, register_->Update(Call(), update));
  EXPECT_EQ(Find(registered, "initial-notification"), nullptr);
  EXPECT_NE(Find(registered, "arms"), nullptr);
  EXPECT_NE(Find(registered, "notification"), nullptr);
  EXPECT_NE(Find(registered, "home-visit"), nullptr);
  EXPECT_TRUE(registered.has_notification_end_time());

  // Neither date given: registered_time is still required.
  request.mutable_offender()->set_id("R2");
  request.mutable_offender()->clear_requirement_start_time();
  EXPECT_THAT(register_->Create(Call(), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offender.registered_time")));
}

TEST_F(RsoRegisterTest, IndefiniteReviewContinuedRetimesAndEndedClosesEveryClock) {
  v1::CreateOffenderRequest request =
      Registering("R1", v1::NOTIFICATION_PERIOD_INDEFINITE, Day(2011, 6, 1));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  const v1::Obligation* review = Find(o, "notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(review->kind(), v1::OBLIGATION_KIND_NOTIFICATION_REVIEW);
  EXPECT_EQ(policy::LocalDay(TimeOf(review->due_time()) - absl::Seconds(1), zone_),
            absl::CivilDay(2026, 6, 1));  // 15 years on: overdue now

  const CallContext admin = Call("wessex", Role::kForceAdmin);
  v1::RecordNotificationReviewRequest continued;
  continued.set_offender_id("R1");
  continued.set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED);
  *continued.mutable_decision_time() = ToProtoTime(Day(2026, 11, 20));
  // Bad input: no reason; a next review beyond 15 years; a decision in the future.
  EXPECT_THAT(register_->RecordNotificationReview(admin, continued),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  continued.set_reason("risk remains: recent intelligence of contact with children");
  *continued.mutable_next_review_time() = ToProtoTime(Day(2042, 1, 1));
  EXPECT_THAT(register_->RecordNotificationReview(admin, continued),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("next_review_time")));
  continued.clear_next_review_time();
  *continued.mutable_decision_time() = ToProtoTime(Day(2026, 12, 20));
  EXPECT_THAT(register_->RecordNotificationReview(admin, continued),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decision_time")));
  *continued.mutable_decision_time() = ToProtoTime(Day(2026, 11, 20));
  EXPECT_EQ(Get("R1").revision(), o.revision());  // nothing written by the refusals

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender kept,
                             register_->RecordNotificationReview(admin, continued));
  ASSERT_EQ(kept.notification_reviews_size(), 1);
  EXPECT_EQ(kept.notification_reviews(0).decided_by(), "DC 4512");
  const v1::Obligation* next = Find(kept, "notification-review");
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(policy::LocalDay(TimeOf(next->due_time()) - absl::Seconds(1), zone_),
            absl::CivilDay(2034, 11, 20));  // 8 years on by default
  EXPECT_EQ(kept.status(), v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);

  v1::RecordNotificationReviewRequest ended;
  ended.set_offender_id("R1");
  ended.set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_ENDED);
  ended.set_reason("appeal allowed by the magistrates' court");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender discharged,
                             register_->RecordNotificationReview(admin, ended));
  EXPECT_EQ(discharged.status(), v1::OFFENDER_STATUS_EXPIRED);
  EXPECT_EQ(discharged.obligations_size(), 0);
  EXPECT_THAT(discharged.notification_ended_reason(),
              HasSubstr("indefinite notification requirement was ended by the review of "
                        "2026-11-23"));
  EXPECT_EQ(DeadlineCount(), 0);
  // Nothing more to review.
  EXPECT_THAT(register_->RecordNotificationReview(admin, continued),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(RsoRegisterTest, IndefiniteReviewIsEightYearsOnWhenUnder18AndRefusedForAFixedPeriod) {
  v1::CreateOffenderRequest request =
      Registering("R1", v1::NOTIFICATION_PERIOD_INDEFINITE, Day(2020, 3, 2));
  request.mutable_offender()->set_under_18_at_conviction(true);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Offender o, register_->Create(Call(), request));
  const v1::Obligation* review = Find(o, "notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(policy::LocalDay(TimeOf(review->due_time()) - absl::Seconds(1), zone_),
            absl::CivilDay(2028, 3, 2));
  EXPECT_THAT(review->reason(), HasSubstr("8 years after the first notification on 2020-03-02 "
                                          "(under 18 at conviction)"));

  Create("R2", Day(2020, 3, 2));  // no period given: not indefinite
  v1::RecordNotificationReviewRequest ended;
  ended.set_offender_id("R2");
  ended.set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_ENDED);
  ended.set_reason("no longer a risk");
  EXPECT_THAT(register_->RecordNotificationReview(Call("wessex", Role::kForceAdmin), ended),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offender_id")));
}

}  // namespace
}  // namespace vigil::rso
