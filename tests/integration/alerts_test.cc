// The alerts context over a real store and real gRPC (an in-process server hosting the
// referral queue's ObligationFeed and the AlertService), with a manual clock: the tests move
// time and run the scanner's passes themselves.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>

#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_service.h"
#include "services/alerts/feed_follower.h"
#include "services/alerts/ladder.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/server.h"
#include "services/obligations/obligation_feed_service.h"
#include "services/obligations/overdue_index.h"
#include "services/ocait/queue.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/audit.pb.h"

namespace vigil::alerts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vigil::testing::Day;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

struct Identity {
  std::string actor = "PS 77";
  std::string role = "supervisor";
  std::string force = "wessex";
};

void Identify(grpc::ClientContext& context, const Identity& id) {
  context.AddMetadata("x-vigil-actor", id.actor);
  context.AddMetadata("x-vigil-role", id.role);
  context.AddMetadata("x-vigil-force", id.force);
  context.AddMetadata("x-vigil-purpose", "alerts test");
}

// Reads a Subscribe stream (Message AlertEvent) or a SubscribeBatches stream (AlertEventBatch,
// whose events it gathers in order, noting each batch's size) on its own thread.
template <typename Message = v1::AlertEvent>
class Subscriber {
 public:
  Subscriber(v1::AlertService::Stub& stub, const v1::SubscribeRequest& request,
             const Identity& id = {}) {
    Identify(context_, id);
    if constexpr (std::is_same_v<Message, v1::AlertEventBatch>) {
      // SubscribeRequest's fields, numbered alike: the same bytes are the same request.
      v1::SubscribeBatchesRequest batches;
      EXPECT_TRUE(batches.ParseFromString(request.SerializeAsString()));
      reader_ = stub.SubscribeBatches(&context_, batches);
    } else {
      reader_ = stub.Subscribe(&context_, request);
    }
    // The server has fixed the stream's start (x-vigil-cursor) once its initial metadata
    // arrives: a start_at_head subscriber misses nothing committed after this.
    reader_->WaitForInitialMetadata();
    thread_ = std::thread([this] {
      Message message;
      while (reader_->Read(&message)) {
        std::lock_guard lock(mu_);
        if constexpr (std::is_same_v<Message, v1::AlertEventBatch>) {
          events_.insert(events_.end(), message.events().begin(), message.events().end());
          batch_sizes_.push_back(message.events_size());
        } else {
          events_.push_back(message);
        }
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      status_ = reader_->Finish();
      done_ = true;
      cv_.notify_all();
    });
  }
  ~Subscriber() {
    context_.TryCancel();
    thread_.join();
  }

  // Waits until `n` events arrived (or the stream ended, or 10 s passed); returns them.
  std::vector<v1::AlertEvent> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_ || events_.size() >= n; });
    return events_;
  }
  grpc::Status Ended() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_; });
    return status_;
  }
  // For SubscribeBatches: how many events each message held.
  std::vector<int> batch_sizes() {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<Message>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::AlertEvent> events_;
  std::vector<int> batch_sizes_;
  grpc::Status status_;
  bool done_ = false;
};

std::vector<v1::AlertEventType> Types(const std::vector<v1::AlertEvent>& events) {
  std::vector<v1::AlertEventType> types;
  types.reserve(events.size());
  for (const v1::AlertEvent& e : events) types.push_back(e.type());
  return types;
}

// How the alerts context follows the ocait feed: through WatchObligations (as from another
// vigild), or straight from the shared store (co-hosted, as vigild runs it by default).
enum class Following { kStream, kStore };

class AlertsTest : public vigil::testing::StoreFixture,
                   public ::testing::WithParamInterface<Following> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    queue_ = std::make_unique<ocait::Queue>(*store_, *policies_, zone_, nullptr, nullptr);
    index_ = std::make_unique<OverdueIndex>(storage::DeadlineSpace::kOcait);
    ASSERT_THAT(index_->Attach(*store_, "ocait"), IsOk());
    notifier_.Attach(*store_);
    runtime_ = std::make_unique<RpcRuntime>(auth_, executor_, clock_);
    feed_ = std::make_unique<ObligationFeedImpl>(
        *runtime_, *store_, notifier_,
        std::map<std::string, FeedContext>{{"ocait", {index_.get(), &queue_->namer()}}});
    engine_ = std::make_unique<AlertEngine>(*store_, *policies_, clock_, zone_);
    service_ = std::make_unique<AlertServiceImpl>(*runtime_, *engine_, notifier_);
    ServerOptions server;
    server.listen = "127.0.0.1:0";
    VIGIL_ASSERT_OK_AND_ASSIGN(
        host_,
        ServerHost::Start(server, {{v1::ObligationFeed::service_full_name(), feed_.get()},
                                   {v1::AlertService::service_full_name(), service_.get()}}));
    stub_ = v1::AlertService::NewStub(host_->InProcessChannel());
    follower_ = GetParam() == Following::kStream
                    ? std::make_unique<FeedFollower>(*engine_, "ocait", host_->InProcessChannel())
                    : std::make_unique<FeedFollower>(*engine_, "ocait", *store_, notifier_);
    follower_->Start();
  }

  void TearDown() override {
    follower_->Stop();
    host_->Shutdown(absl::ZeroDuration());
    executor_.Shutdown();
  }

  // The OCAIT team's inspector by default (every alert here is about a referral of team ocait):
  // ranks and teams decide who may acknowledge at each rung.
  CallContext Call(Role role = Role::kSupervisor, std::string actor = "PS 77") const {
    CallContext call;
    call.principal =
        Principal{std::move(actor), role, "wessex", "ocait",
                  role == Role::kSupervisor ? std::optional(Rank::kInspector) : std::nullopt};
    call.purpose = "alerts test";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  // A referral received at `received`, triaged at `grade` (if given) and allocated to DC 1.
  v1::Referral Referral(absl::Time received, v1::RiskLevel grade = v1::RISK_LEVEL_UNSPECIFIED) {
    v1::CreateReferralRequest create;
    v1::Referral* r = create.mutable_referral();
    r->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *r->mutable_received_time() = ToProtoTime(received);
    r->set_subject_display_name("Subject");
    absl::StatusOr<v1::Referral> referral = queue_->Create(Call(), create);
    EXPECT_THAT(referral.status(), IsOk());
    if (grade == v1::RISK_LEVEL_UNSPECIFIED) return *referral;
    v1::TriageReferralRequest triage;
    triage.set_id(referral->id());
    triage.set_grade(grade);
    EXPECT_THAT(queue_->Triage(Call(), triage).status(), IsOk());
    v1::AllocateReferralRequest allocate;
    allocate.set_id(referral->id());
    allocate.set_officer("DC 1");
    allocate.set_team("ocait");
    absl::StatusOr<v1::Referral> allocated = queue_->Allocate(Call(), allocate);
    EXPECT_THAT(allocated.status(), IsOk());
    return *allocated;
  }

  // An intelligence refresh of `r` regrading it to `grade` and finding new access to children:
  // the action clock's owner notices it, and the alerts raise it at once.
  void RegradeWithChildrenAccess(const v1::Referral& r, v1::RiskLevel grade) {
    v1::RecordIntelRefreshRequest refresh;
    refresh.set_id(r.id());
    refresh.set_new_grade(grade);
    refresh.set_children_access_found(true);
    refresh.set_findings("subject now lives with two children");
    *refresh.mutable_refreshed_time() = ToProtoTime(clock_.Now());
    for (v1::IntelCheck* check : {refresh.mutable_checks()->mutable_csc_record(),
                                  refresh.mutable_checks()->mutable_household_children_record(),
                                  refresh.mutable_checks()->mutable_regulated_activity_record(),
                                  refresh.mutable_checks()->mutable_police_systems_record()}) {
      check->set_status(v1::INTEL_CHECK_STATUS_DONE);
      check->set_outcome("partner's children at the address");
    }
    ASSERT_THAT(queue_->RecordIntelRefresh(Call(), refresh).status(), IsOk());
  }

  static const v1::Obligation* Clock(const v1::Referral& r, absl::string_view suffix) {
    for (const v1::Obligation& o : r.obligations()) {
      if (o.id() == absl::StrCat(r.id(), "/", suffix)) return &o;
    }
    return nullptr;
  }

  static absl::Time Due(const v1::Referral& r, absl::string_view suffix) {
    if (const v1::Obligation* o = Clock(r, suffix)) return TimeOf(o->due_time());
    ADD_FAILURE() << "no " << suffix << " clock on " << r.id();
    return absl::InfinitePast();
  }

  // Waits until the follower has applied everything the ocait feed holds.
  void CatchUp() {
    const uint64_t head = store_->EventHead("ocait");
    for (int i = 0; i < 1000 && follower_->applied() < head; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(follower_->applied(), head);
  }

  // Everything due now, in batches of two: every scenario with more than two deadlines spans
  // several commits, each batch reading what the one before committed.
  ScanReport Scan() {
    ScanReport total;
    while (true) {
      const uint64_t audited = store_->AuditHead();
      absl::StatusOr<ScanReport> report = engine_->ScanDue(clock_.Now(), 2);
      EXPECT_THAT(report.status(), IsOk());
      if (!report.ok()) return total;
      ExpectSubjectsInOrderAndOnce(audited);
      total.Add(*report);
      if (!report->more) return total;
    }
  }

  // Each audit record after sequence `after` names its subjects in order, each once.
  void ExpectSubjectsInOrderAndOnce(uint64_t after) {
    for (uint64_t seq = after + 1; seq <= store_->AuditHead(); ++seq) {
      absl::StatusOr<std::optional<storage::StoredAuditRecord>> stored =
          store_->Snapshot().AuditRecord(seq);
      ASSERT_THAT(stored.status(), IsOk());
      v1::AuditRecord record;
      ASSERT_TRUE(stored->has_value() && record.ParseFromString((*stored)->body)) << seq;
      const std::vector<std::string> subjects(record.subject_ids().begin(),
                                              record.subject_ids().end());
      EXPECT_TRUE(std::is_sorted(subjects.begin(), subjects.end())) << seq;
      EXPECT_EQ(std::adjacent_find(subjects.begin(), subjects.end()), subjects.end()) << seq;
    }
  }

  std::vector<v1::Alert> Alerts(const v1::AlertFilter& filter = {}) {
    v1::ListAlertsRequest request;
    *request.mutable_filters() = filter;
    absl::StatusOr<v1::ListAlertsResponse> response = engine_->List(Call(), request);
    EXPECT_THAT(response.status(), IsOk());
    return response.ok()
               ? std::vector<v1::Alert>(response->alerts().begin(), response->alerts().end())
               : std::vector<v1::Alert>();
  }

  // A feed event about referral action `id` (subject: its first two characters) of team ocait,
  // due `at`, owned by `officer`, as an owner's feed would carry it to the follower.
  static v1::ObligationEvent FeedEvent(v1::ObligationEventType type, const std::string& id,
                                       absl::Time at, const std::string& officer = "DC 1") {
    v1::ObligationEvent e;
    e.set_type(type);
    e.set_last_of_sequence(true);
    v1::Obligation* o = e.mutable_obligation();
    o->set_id(id);
    o->set_kind(v1::OBLIGATION_KIND_REFERRAL_ACTION);
    o->set_subject_id(id.substr(0, 2));
    o->set_risk_level(v1::RISK_LEVEL_HIGH);
    *o->mutable_due_time() = ToProtoTime(at);
    o->set_owner_officer(officer);
    o->set_team("ocait");
    o->set_force("wessex");
    o->set_policy_version("v1");
    return e;
  }

  // The one unresolved alert about obligation `id`.
  v1::Alert AlertAbout(const std::string& id) {
    std::vector<v1::Alert> found;
    for (v1::Alert& a : Alerts()) {
      if (a.obligation().id() == id) found.push_back(a);
    }
    EXPECT_EQ(found.size(), 1u) << id;
    return found.empty() ? v1::Alert() : found[0];
  }

  // A referral received now, triaged high and left waiting for allocation, its clocks followed.
  absl::StatusOr<v1::Referral> UnallocatedHighReferral() {
    v1::CreateReferralRequest create;
    create.mutable_referral()->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *create.mutable_referral()->mutable_received_time() = ToProtoTime(clock_.Now());
    create.mutable_referral()->set_subject_display_name("Subject");
    absl::StatusOr<v1::Referral> r = queue_->Create(Call(), create);
    if (!r.ok()) return r.status();
    v1::TriageReferralRequest triage;
    triage.set_id(r->id());
    triage.set_grade(v1::RISK_LEVEL_HIGH);
    absl::StatusOr<v1::Referral> waiting = queue_->Triage(Call(), triage);
    CatchUp();
    return waiting;
  }

  absl::StatusOr<v1::Alert> Acknowledge(const std::string& id, const CallContext& call) {
    v1::AcknowledgeAlertRequest request;
    request.set_id(id);
    request.set_note("on it");
    return engine_->Acknowledge(call, request);
  }

  std::unique_ptr<ocait::Queue> queue_;
  std::unique_ptr<OverdueIndex> index_;
  FeedNotifier notifier_;
  DevHeaderAuthenticator auth_;
  Executor executor_{4, 1000};
  std::unique_ptr<RpcRuntime> runtime_;
  std::unique_ptr<ObligationFeedImpl> feed_;
  std::unique_ptr<AlertEngine> engine_;
  std::unique_ptr<AlertServiceImpl> service_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<v1::AlertService::Stub> stub_;
  std::unique_ptr<FeedFollower> follower_;
};

TEST_P(AlertsTest, PassingDeadlineRaisesExactlyOneAlertThatReachesASubscriber) {
  v1::SubscribeRequest request;
  request.set_start_at_head(true);
  Subscriber subscriber(*stub_, request);
  const v1::Referral r = Referral(clock_.Now());
  const absl::Time due = Due(r, "triage");
  CatchUp();
  EXPECT_EQ(Scan().raised, 0);  // not due yet
  EXPECT_TRUE(Alerts().empty());

  clock_.Set(due + absl::Minutes(1));
  EXPECT_EQ(Scan().raised, 1);
  EXPECT_EQ(Scan().deadlines, 0);  // nothing left to do: no second alert

  const std::vector<v1::AlertEvent> events = subscriber.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::ALERT_EVENT_TYPE_RAISED);
  const v1::Alert& alert = events[0].alert();
  EXPECT_EQ(alert.obligation().id(), r.id() + "/triage");
  EXPECT_EQ(alert.cause(), v1::ALERT_CAUSE_OVERDUE);
  // Not yet allocated: nobody holds the officer's rung, so it starts with the sergeant.
  EXPECT_EQ(alert.obligation().owner_officer(), "(unallocated)");
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SERGEANT);
  EXPECT_EQ(alert.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(TimeOf(alert.trigger_time()), due);
  EXPECT_EQ(alert.escalation_policy_version(), "v1");
  EXPECT_EQ(alert.sequence(), events[0].sequence());
  EXPECT_EQ(alert.id(), OverdueAlertId("ocait", "wessex", r.id() + "/triage", due));

  const std::vector<v1::Alert> listed = Alerts();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), alert.id());
  EXPECT_EQ(listed[0].sequence(), alert.sequence());
}

// The scanner starts each scan where the last one stopped (past the tombstones of what it
// removed); a deadline added earlier than that, or sharing a due time across batches, must
// still be found.
TEST_P(AlertsTest, ScansResumeAfterTheirLastDeadlineWithoutMissingEarlierOnesAddedLater) {
  const absl::Time received = clock_.Now();
  std::vector<v1::Referral> same_due;
  same_due.reserve(5);
  for (int i = 0; i < 5; ++i) same_due.push_back(Referral(received));
  CatchUp();
  clock_.Set(Due(same_due[0], "triage") + absl::Hours(1));
  // Five due-soon warnings at one time, then five due times at another: 2 + 2 + 2 + 2 + 2.
  int raised = 0;
  for (int batch = 0; batch < 5; ++batch) {
    absl::StatusOr<ScanReport> report = engine_->ScanDue(clock_.Now(), 2);
    ASSERT_THAT(report.status(), IsOk());
    raised += report->raised;
    EXPECT_EQ(report->deadlines, 2);
    EXPECT_EQ(report->more, batch < 4);
  }
  EXPECT_EQ(raised, 5);

  // A historic referral arrives: its clock passed long before those just scanned. The follower
  // alerts it at once rather than leave a deadline behind the scan's starting point.
  const v1::Referral old = Referral(received - absl::Hours(24) * 30);
  CatchUp();
  AlertAbout(old.id() + "/triage");
  EXPECT_EQ(Alerts().size(), 6u);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, engine_->NextDue());
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, clock_.Now()) << "no deadline was left for the past-due clock";
  EXPECT_EQ(Scan().raised, 0);

  // A deadline behind the scan's starting point that is not yet due (the clock was stepped
  // back) is still found.
  clock_.Set(received + absl::Hours(1));
  const absl::Time behind = Due(same_due[0], "triage") - absl::Minutes(30);
  ASSERT_THAT(
      engine_->Apply(
          "direct",
          {FeedEntry{1, {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R9/action", behind)}}}),
      IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(next, engine_->NextDue());
  EXPECT_EQ(next, std::optional<absl::Time>(behind));
  clock_.Set(behind + absl::Minutes(1));
  EXPECT_EQ(Scan().raised, 1);
  AlertAbout("R9/action");
}

// The follower alerts what is past due as a batch of the feed leaves it: a clock met on time
// and re-timed later in the batch (a follower catching up after downtime), or one closed since,
// raises nothing; one still past due is alerted at once, with no deadline left for the scan.
TEST_P(AlertsTest, TheFollowerAlertsWhatIsPastDueOnceTheBatchIsApplied) {
  const absl::Time now = clock_.Now();
  ASSERT_THAT(
      engine_->Apply(
          "direct",
          {FeedEntry{
               1,
               {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R5/action", now - absl::Hours(48))}},
           FeedEntry{
               2,
               {FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, "R5/action", now + absl::Hours(48))}},
           FeedEntry{
               3,
               {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R6/action", now - absl::Hours(48))}},
           FeedEntry{
               4,
               {FeedEvent(v1::OBLIGATION_EVENT_TYPE_CLOSED, "R6/action", now - absl::Hours(48))}},
           FeedEntry{
               5,
               {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R7/action", now - absl::Hours(48))}},
           FeedEntry{6,
                     {FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, "R7/action",
                                now - absl::Hours(24))}}}),
      IsOk());
  const std::vector<v1::Alert> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].obligation().id(), "R7/action");
  EXPECT_EQ(TimeOf(alerts[0].trigger_time()), now - absl::Hours(24));
  v1::AlertFilter resolved;
  resolved.set_state(v1::ALERT_STATE_RESOLVED);
  EXPECT_THAT(Alerts(resolved), IsEmpty()) << "none raised, then resolved, on the way";
  EXPECT_EQ(store_->EventHead("alerts"), 1u) << "one event: R7's RAISED";
  EXPECT_EQ(Scan().deadlines, 0) << "nothing past due was left to the scanner";
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, engine_->NextDue());
  EXPECT_EQ(next, std::optional<absl::Time>(now + absl::Hours(48)));  // R5's
}

// Deadline keys hold whole microseconds, so a scan in the microsecond of a due time but before
// it finds the deadline passed while the obligation is not yet due. The scan takes the entry
// out, leaves the record as it is, and must put the entry back, or the alert would never be
// raised. (Policies give whole-second due times; an owner's feed may carry any.)
TEST_P(AlertsTest, ADeadlineScannedBeforeItsObligationIsDueIsKeptForTheNextScan) {
  const absl::Time due = clock_.Now() + absl::Hours(1) + absl::Nanoseconds(600);
  const v1::ObligationEvent opened = FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R1/action", due);
  ASSERT_THAT(engine_->Apply("direct", {FeedEntry{1, {opened}}}), IsOk());

  clock_.Set(due - absl::Nanoseconds(300));  // the due time's microsecond, before it
  const ScanReport early = Scan();
  EXPECT_EQ(early.deadlines, 1);
  EXPECT_EQ(early.raised, 0);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, engine_->NextDue());
  EXPECT_EQ(next, std::optional<absl::Time>(due - absl::Nanoseconds(600)));  // still there

  clock_.Set(due);
  EXPECT_EQ(Scan().raised, 1);
  AlertAbout("R1/action");
}

// An obligation alerted, moved on, then moved back to the due time it was alerted at is overdue
// from that time again: its alert reopens at once (one alert, not a second), in the feed batch
// that opens another obligation, whose alert the scan raises when it falls due.
TEST_P(AlertsTest, AnObligationMovedAwayAndBackReopensItsAlertBesideNewOnes) {
  const absl::Time due = clock_.Now() + absl::Hours(1);
  ASSERT_THAT(engine_->Apply(
                  "direct",
                  {FeedEntry{1, {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R1/action", due)}}}),
              IsOk());
  clock_.Set(due + absl::Minutes(1));
  EXPECT_EQ(Scan().raised, 1);
  const v1::Alert first = AlertAbout("R1/action");

  // Moved a week on (the alert resolves), then back, beside R2 opened due a minute from now.
  ASSERT_THAT(
      engine_->Apply("direct", {FeedEntry{2,
                                          {FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, "R1/action",
                                                     due + absl::Hours(24 * 7))}}}),
      IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Alert resolved, engine_->Get(Call(), first.id()));
  EXPECT_EQ(resolved.state(), v1::ALERT_STATE_RESOLVED);
  ASSERT_THAT(engine_->Apply(
                  "direct",
                  {FeedEntry{3,
                             {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R2/action",
                                        due + absl::Minutes(2))}},
                   FeedEntry{4, {FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, "R1/action", due)}}}),
              IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Alert reopened, engine_->Get(Call(), first.id()));
  EXPECT_EQ(reopened.state(), v1::ALERT_STATE_OPEN);
  EXPECT_GT(reopened.revision(), resolved.revision());

  clock_.Set(due + absl::Minutes(3));
  const ScanReport scanned = Scan();
  EXPECT_EQ(scanned.raised, 1) << "R2's; R1's reopened when it was moved back";
  EXPECT_EQ(AlertAbout("R2/action").state(), v1::ALERT_STATE_OPEN);
  int about_r1 = 0;
  for (const v1::Alert& alert : Alerts()) about_r1 += alert.obligation().id() == "R1/action";
  EXPECT_EQ(about_r1, 1) << "the same alert reopened, not a second one";
}

// The follower applies many feed entries to one commit, reading what they name in two batched
// reads first; each entry must still see what the ones before it in the batch did. Two
// obligations with the same history: R1's entries applied one at a time, R3's in one batch,
// end with the same alerts.
TEST_P(AlertsTest, AFeedBatchAppliesAsItsEntriesOneByOne) {
  const absl::Time due = clock_.Now() + absl::Hours(1);
  uint64_t sequence = 0;
  for (const char* id : {"R1/action", "R3/action"}) {
    ASSERT_THAT(
        engine_->Apply("direct",
                       {FeedEntry{++sequence,
                                  {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, id, due, "DC 1")}}}),
        IsOk());
  }
  clock_.Set(due + absl::Minutes(1));
  ASSERT_EQ(Scan().raised, 2);
  // Reassigned (its alert follows the new officer), moved back by a minute (the alert resolves),
  // then overdue again and re-timed to the same due time, then closed.
  auto history = [&](const std::string& id) {
    return std::vector<v1::ObligationEvent>{
        FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, id, due, "DC 2"),
        FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, id, due + absl::Hours(24), "DC 2"),
        FeedEvent(v1::OBLIGATION_EVENT_TYPE_RETIMED, id, due + absl::Hours(24), "DC 3"),
        FeedEvent(v1::OBLIGATION_EVENT_TYPE_CLOSED, id, due + absl::Hours(24), "DC 3")};
  };
  const std::vector<v1::Alert> raised = Alerts();
  ASSERT_EQ(raised.size(), 2u);
  for (const v1::ObligationEvent& e : history("R1/action")) {
    ASSERT_THAT(engine_->Apply("direct", {FeedEntry{++sequence, {e}}}), IsOk());
  }
  std::vector<FeedEntry> batch;
  for (const v1::ObligationEvent& e : history("R3/action")) {
    batch.push_back(FeedEntry{++sequence, {e}});
  }
  ASSERT_THAT(engine_->Apply("direct", batch), IsOk());

  std::map<std::string, v1::Alert> after;
  for (const v1::Alert& a : raised) {
    VIGIL_ASSERT_OK_AND_ASSIGN(after[a.obligation().id()], engine_->Get(Call(), a.id()));
  }
  const v1::Alert& one_by_one = after["R1/action"];
  const v1::Alert& batched = after["R3/action"];
  EXPECT_EQ(one_by_one.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(batched.state(), one_by_one.state());
  EXPECT_EQ(batched.resolution(), one_by_one.resolution());
  EXPECT_EQ(batched.revision(), one_by_one.revision());
  EXPECT_EQ(batched.obligation().owner_officer(), one_by_one.obligation().owner_officer());
  EXPECT_EQ(TimeOf(batched.obligation().due_time()), TimeOf(one_by_one.obligation().due_time()));
  EXPECT_TRUE(Alerts().empty());
}

TEST_P(AlertsTest, EscalationClimbsOnScheduleAndStopsOnAcknowledgementUntilItLapses) {
  // Very high: action within 1 day; sergeant +1 day, inspector +3, superintendent +7.
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_VERY_HIGH);
  const std::string action = r.id() + "/action";
  const absl::Time due = Due(r, "action");
  CatchUp();
  clock_.Set(due + absl::Minutes(1));
  Scan();
  v1::Alert alert = AlertAbout(action);
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_OFFICER);
  EXPECT_EQ(TimeOf(alert.next_escalation_time()), due + absl::Hours(24));

  clock_.Set(due + absl::Hours(24));
  EXPECT_GE(Scan().escalated, 1);
  EXPECT_EQ(AlertAbout(action).escalation_level(), v1::ESCALATION_LEVEL_SERGEANT);
  clock_.Set(due + absl::Hours(72));
  Scan();
  EXPECT_EQ(AlertAbout(action).escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);

  absl::StatusOr<v1::Alert> acked = Acknowledge(AlertAbout(action).id(), Call());
  ASSERT_THAT(acked.status(), IsOk());
  EXPECT_EQ(acked->state(), v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_FALSE(acked->has_next_escalation_time());
  ASSERT_EQ(acked->acknowledgements_size(), 1);
  EXPECT_EQ(acked->acknowledgements(0).by(), "PS 77");
  EXPECT_EQ(acked->acknowledgements(0).level(), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(TimeOf(acked->acknowledgements(0).expiry_time()), clock_.Now() + absl::Hours(24 * 7));

  // The superintendent's step passes while acknowledged: no climb.
  clock_.Set(due + absl::Hours(24 * 8));
  Scan();
  EXPECT_EQ(AlertAbout(action).escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(AlertAbout(action).state(), v1::ALERT_STATE_ACKNOWLEDGED);

  // A week after the acknowledgement the obligation is still overdue: the climb resumes.
  clock_.Set(due + absl::Hours(72) + absl::Hours(24 * 7));
  EXPECT_EQ(Scan().reopened, 1);
  alert = AlertAbout(action);
  EXPECT_EQ(alert.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SUPERINTENDENT);
  EXPECT_FALSE(alert.has_next_escalation_time());
}

TEST_P(AlertsTest, MeetingTheObligationResolvesItsAlert) {
  const v1::Referral r = Referral(clock_.Now());
  CatchUp();
  clock_.Set(Due(r, "triage") + absl::Hours(1));
  Scan();
  const v1::Alert alert = AlertAbout(r.id() + "/triage");

  v1::TriageReferralRequest triage;
  triage.set_id(r.id());
  triage.set_grade(v1::RISK_LEVEL_MEDIUM);
  ASSERT_THAT(queue_->Triage(Call(), triage).status(), IsOk());
  CatchUp();
  absl::StatusOr<v1::Alert> resolved = engine_->Get(Call(), alert.id());
  ASSERT_THAT(resolved.status(), IsOk());
  EXPECT_EQ(resolved->state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved->resolution(), "the obligation was closed");
  EXPECT_TRUE(Alerts().empty());  // unresolved only, by default
  v1::AlertFilter resolved_only;
  resolved_only.set_state(v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(Alerts(resolved_only).size(), 1u);

  EXPECT_THAT(Acknowledge(alert.id(), Call()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was resolved")));
}

TEST_P(AlertsTest, AcknowledgementErrorsNameTheProblem) {
  EXPECT_THAT(Acknowledge("AL0000", Call()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("AL0000")));
  EXPECT_THAT(Acknowledge("bad id!", Call()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("id")));

  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_HIGH);
  CatchUp();
  clock_.Set(Due(r, "action") + absl::Hours(1));
  Scan();
  const std::string id = AlertAbout(r.id() + "/action").id();
  v1::AcknowledgeAlertRequest request;
  request.set_id(id);
  EXPECT_THAT(engine_->Acknowledge(Call(), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("note: required")));
  request.set_note("mine");
  request.set_by("someone else");
  EXPECT_THAT(engine_->Acknowledge(Call(), request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("by:")));
  // An officer may acknowledge only their own.
  EXPECT_THAT(Acknowledge(id, Call(Role::kOfficer, "DC 2")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("DC 1")));
  EXPECT_THAT(Acknowledge(id, Call(Role::kOfficer, "DC 1")).status(), IsOk());
  // Another force cannot see it at all.
  CallContext other = Call();
  other.principal.force = "kent";
  EXPECT_THAT(Acknowledge(id, other), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(AlertsTest, AcknowledgementRetryWithTheSameRequestIdWritesNothing) {
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_HIGH);
  CatchUp();
  clock_.Set(Due(r, "action") + absl::Hours(1));
  Scan();
  v1::AcknowledgeAlertRequest request;
  request.set_id(AlertAbout(r.id() + "/action").id());
  request.set_note("taking it");
  request.set_request_id("ack-1");
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert first, engine_->Acknowledge(Call(), request));
  const uint64_t head = store_->EventHead(kAlertFeed);
  const uint64_t audit_head = store_->AuditHead();
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert again, engine_->Acknowledge(Call(), request));
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(store_->EventHead(kAlertFeed), head);
  // The replay is audited as a consultation of the alert and its subject.
  ASSERT_EQ(store_->AuditHead(), audit_head + 1);
  v1::AuditRecord replay;
  ASSERT_TRUE(replay.ParseFromString((*store_->Snapshot().AuditRecord(audit_head + 1))->body));
  EXPECT_TRUE(replay.replay());
  EXPECT_EQ(replay.action(), v1::AUDIT_ACTION_CONSULTATION);

  // The same id with another note is refused.
  request.set_note("another note");
  EXPECT_THAT(engine_->Acknowledge(Call(), request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("different request")));
  EXPECT_EQ(store_->EventHead(kAlertFeed), head);
}

TEST_P(AlertsTest, UpwardRegradeAlertsTheSergeantAtOnce) {
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_LOW);
  RegradeWithChildrenAccess(r, v1::RISK_LEVEL_HIGH);
  CatchUp();  // no scan: a notice alerts as soon as the feed entry is applied
  std::vector<v1::Alert> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].cause(), v1::ALERT_CAUSE_IMMEDIATE_ESCALATION);
  EXPECT_EQ(alerts[0].escalation_level(), v1::ESCALATION_LEVEL_SERGEANT);
  EXPECT_EQ(alerts[0].obligation().id(), r.id() + "/action");
  EXPECT_EQ(alerts[0].obligation().risk_level(), v1::RISK_LEVEL_HIGH);
  EXPECT_THAT(alerts[0].summary(), HasSubstr("regraded from low to high"));
  EXPECT_THAT(alerts[0].summary(), HasSubstr("new access to children"));

  // Replaying the feed (a restart before the cursor was stored) raises nothing twice.
  VIGIL_ASSERT_OK_AND_ASSIGN(const std::vector<storage::FeedEvent> feed,
                             store_->Snapshot().ReadEvents("ocait", 0, 1000));
  for (const storage::FeedEvent& e : feed) {
    FeedEntry replay{e.sequence, {}};
    ASSERT_THAT(FlattenFeedEntry(e.sequence, e.payload, "", replay.events), IsOk());
    ASSERT_THAT(engine_->Apply("ocait", {replay}), IsOk());
  }
  EXPECT_EQ(Alerts().size(), 1u);
}

TEST_P(AlertsTest, ResumeAfterASequenceReplaysEachLaterEventOnceThenGoesLive) {
  for (int i = 0; i < 3; ++i) Referral(clock_.Now() - absl::Hours(24 * (i + 3)));
  CatchUp();
  Scan();  // three overdue triage clocks
  ASSERT_EQ(Alerts().size(), 3u);

  Subscriber everything(*stub_, v1::SubscribeRequest());
  const std::vector<v1::AlertEvent> all = everything.WaitFor(3);
  ASSERT_EQ(all.size(), 3u);
  v1::SubscribeRequest resume;
  resume.set_resume_after_sequence(all[0].sequence());
  Subscriber resumed(*stub_, resume);
  std::vector<v1::AlertEvent> later = resumed.WaitFor(2);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[0].sequence(), all[1].sequence());
  EXPECT_EQ(later[1].sequence(), all[2].sequence());

  // Live: an acknowledgement reaches both, once.
  ASSERT_THAT(Acknowledge(all[2].alert().id(), Call()).status(), IsOk());
  EXPECT_THAT(Types(resumed.WaitFor(3)),
              ElementsAre(v1::ALERT_EVENT_TYPE_RAISED, v1::ALERT_EVENT_TYPE_RAISED,
                          v1::ALERT_EVENT_TYPE_ACKNOWLEDGED));
  EXPECT_EQ(everything.WaitFor(4).size(), 4u);
}

// SubscribeBatches: Subscribe's events, in the same order, several to a message; resumable
// after any of them; live; refused for the same reasons.
TEST_P(AlertsTest, BatchesCarrySubscribesEventsInOrderResumableAfterAnyOfThem) {
  for (int i = 0; i < 300; ++i) Referral(clock_.Now());
  CatchUp();
  clock_.Set(clock_.Now() + absl::Hours(24 * 3));
  ASSERT_EQ(Scan().raised, 300);

  Subscriber single(*stub_, v1::SubscribeRequest());
  const std::vector<v1::AlertEvent> all = single.WaitFor(300);
  ASSERT_EQ(all.size(), 300u);
  Subscriber<v1::AlertEventBatch> batched(*stub_, v1::SubscribeRequest());
  const std::vector<v1::AlertEvent> in_batches = batched.WaitFor(300);
  ASSERT_EQ(in_batches.size(), 300u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(in_batches[i].SerializeAsString(), all[i].SerializeAsString()) << i;
  }
  // Each page delivered is audited under SubscribeBatches, naming what it discloses.
  std::set<std::string> disclosed;
  for (uint64_t seq = 1; seq <= store_->AuditHead(); ++seq) {
    absl::StatusOr<std::optional<storage::StoredAuditRecord>> stored =
        store_->Snapshot().AuditRecord(seq);
    ASSERT_THAT(stored.status(), IsOk());
    v1::AuditRecord record;
    if (!stored->has_value() || !record.ParseFromString((*stored)->body)) continue;
    if (record.rpc() != "vigil.v1.AlertService/SubscribeBatches") continue;
    disclosed.insert(record.subject_ids().begin(), record.subject_ids().end());
  }
  for (const v1::AlertEvent& e : all) {
    EXPECT_TRUE(disclosed.contains(e.alert().id())) << e.alert().id();
    EXPECT_TRUE(disclosed.contains(e.alert().obligation().subject_id())) << e.sequence();
  }
  const std::vector<int> sizes = batched.batch_sizes();
  EXPECT_GE(sizes.size(), 2u) << "300 events are more than one read of the feed (256)";
  EXPECT_LT(sizes.size(), 10u) << "several events to a message";
  for (int size : sizes) EXPECT_TRUE(size >= 1 && size <= 256) << size;

  v1::SubscribeRequest resume;
  resume.set_resume_after_sequence(all[41].sequence());
  Subscriber<v1::AlertEventBatch> resumed(*stub_, resume);
  const std::vector<v1::AlertEvent> later = resumed.WaitFor(258);
  ASSERT_EQ(later.size(), 258u);
  EXPECT_EQ(later.front().sequence(), all[42].sequence());
  EXPECT_EQ(later.back().sequence(), all.back().sequence());

  // Live: an acknowledgement arrives once, after everything before it.
  ASSERT_THAT(Acknowledge(all[7].alert().id(), Call()).status(), IsOk());
  const std::vector<v1::AlertEvent> live = batched.WaitFor(301);
  ASSERT_EQ(live.size(), 301u);
  EXPECT_EQ(live.back().type(), v1::ALERT_EVENT_TYPE_ACKNOWLEDGED);
  EXPECT_EQ(live.back().alert().id(), all[7].alert().id());

  v1::SubscribeRequest beyond;
  beyond.set_resume_after_sequence(all.back().sequence() + 5);
  const grpc::Status refused = Subscriber<v1::AlertEventBatch>(*stub_, beyond).Ended();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(refused.error_message(), HasSubstr("head of the alerts feed"));
}

// A page of large events (alerts acknowledged again and again, each with a long note) is sent
// in several messages of at most about 1 MiB, in order: never one that a client's default 4 MiB
// limit would refuse (and refuse again at each resumption).
TEST_P(AlertsTest, BatchesOfLargeEventsAreSplitToStayWithinAMebibyte) {
  for (int i = 0; i < 40; ++i) Referral(clock_.Now());
  CatchUp();
  clock_.Set(clock_.Now() + absl::Hours(24 * 3));
  ASSERT_EQ(Scan().raised, 40);
  std::vector<v1::Alert> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 40u);
  v1::AcknowledgeAlertRequest ack;
  ack.set_note(std::string(2000, 'n'));
  for (int round = 0; round < 7; ++round) {
    for (const v1::Alert& alert : alerts) {
      ack.set_id(alert.id());
      ASSERT_THAT(engine_->Acknowledge(Call(), ack).status(), IsOk());
    }
  }
  const size_t total = store_->EventHead(kAlertFeed);  // 40 raised + 280 acknowledged
  ASSERT_EQ(total, 320u);
  Subscriber single(*stub_, v1::SubscribeRequest());
  const std::vector<v1::AlertEvent> all = single.WaitFor(total);
  Subscriber<v1::AlertEventBatch> batched(*stub_, v1::SubscribeRequest());
  const std::vector<v1::AlertEvent> in_batches = batched.WaitFor(total);
  ASSERT_EQ(in_batches.size(), total);
  ASSERT_EQ(all.size(), total);
  size_t bytes = 0;
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(in_batches[i].sequence(), all[i].sequence()) << i;
    bytes += all[i].ByteSizeLong();
  }
  ASSERT_GT(bytes, size_t{2} << 20) << "the events must need splitting";
  const std::vector<int> sizes = batched.batch_sizes();
  EXPECT_GT(sizes.size(), 2u) << "two feed pages, split further by size";
  size_t next = 0;
  for (int size : sizes) {
    size_t message = 0;
    for (int k = 0; k < size; ++k) message += in_batches[next++].ByteSizeLong();
    EXPECT_LE(message, (size_t{1} << 20) + 20'000) << "at most 1 MiB and one event";
  }
}

// SubscribeBatches' request is SubscribeRequest under another name (buf asks each RPC for its
// own): the same fields, numbers and types, so that a field added to one and not the other is
// caught here rather than ignored by the server.
TEST(SubscribeBatchesRequestTest, HasSubscribeRequestsFields) {
  const google::protobuf::Descriptor* single = v1::SubscribeRequest::descriptor();
  const google::protobuf::Descriptor* batches = v1::SubscribeBatchesRequest::descriptor();
  ASSERT_EQ(single->field_count(), batches->field_count());
  for (int i = 0; i < single->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* a = single->field(i);
    const google::protobuf::FieldDescriptor* b = batches->FindFieldByNumber(a->number());
    ASSERT_NE(b, nullptr) << a->name();
    EXPECT_EQ(b->name(), a->name());
    EXPECT_EQ(b->type(), a->type()) << a->name();
    EXPECT_EQ(b->is_repeated(), a->is_repeated()) << a->name();
    EXPECT_EQ(b->message_type(), a->message_type()) << a->name();
  }
}

TEST_P(AlertsTest, StartAtHeadIgnoresTheCursorAndGoesLive) {
  v1::SubscribeRequest request;
  request.set_start_at_head(true);
  request.set_resume_after_sequence(99);  // beyond the head, but ignored
  Subscriber live(*stub_, request);
  const v1::Referral r = Referral(clock_.Now());
  CatchUp();
  clock_.Set(Due(r, "triage") + absl::Minutes(1));
  EXPECT_EQ(Scan().raised, 1);
  const std::vector<v1::AlertEvent> events = live.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::ALERT_EVENT_TYPE_RAISED);
}

TEST_P(AlertsTest, BadSubscriptionsAreRefusedWithTheField) {
  Subscriber beyond(*stub_, [] {
    v1::SubscribeRequest r;
    r.set_resume_after_sequence(99);
    return r;
  }());
  grpc::Status status = beyond.Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(status.error_message(), HasSubstr("head of the alerts feed (0)"));

  v1::SubscribeRequest unknown;
  unknown.mutable_filters()->set_min_risk_level(static_cast<v1::RiskLevel>(42));
  status = Subscriber(*stub_, unknown).Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("filters.min_risk_level"));

  v1::SubscribeRequest nosy;
  nosy.mutable_filters()->set_officer("DC 1");
  status = Subscriber(*stub_, nosy, Identity{"DC 2", "officer", "wessex"}).Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  status =
      Subscriber<v1::AlertEventBatch>(*stub_, nosy, Identity{"DC 2", "officer", "wessex"}).Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << "SubscribeBatches too";
  status = Subscriber<v1::AlertEventBatch>(*stub_, unknown).Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "SubscribeBatches too";
  status = Subscriber<v1::AlertEventBatch>(*stub_, v1::SubscribeRequest(),
                                           Identity{"Auditor A", "auditor", "wessex"})
               .Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "an auditor reads the audit log, not alerts";

  v1::SubscribeRequest digest;
  digest.set_digest_every_hours(500);
  status = Subscriber(*stub_, digest).Ended();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("digest_every_hours"));
}

TEST_P(AlertsTest, FiltersNarrowListingsAndSubscriptions) {
  Referral(clock_.Now(), v1::RISK_LEVEL_VERY_HIGH);
  Referral(clock_.Now(), v1::RISK_LEVEL_LOW);
  CatchUp();
  clock_.Advance(absl::Hours(24 * 40));  // every clock of both has passed
  Scan();
  v1::AlertFilter filter;
  filter.set_min_risk_level(v1::RISK_LEVEL_HIGH);
  for (const v1::Alert& a : Alerts(filter))
    EXPECT_EQ(a.obligation().risk_level(), v1::RISK_LEVEL_VERY_HIGH);
  EXPECT_EQ(Alerts(filter).size(), 3u);  // action, intel refresh, CSC check
  filter.add_kinds(v1::OBLIGATION_KIND_CSC_CHECK);
  EXPECT_EQ(Alerts(filter).size(), 1u);
  v1::AlertFilter top;
  top.set_min_escalation_level(v1::ESCALATION_LEVEL_SUPERINTENDENT);
  // Forty days: every very high clock has reached the superintendent (+7); low ones have not
  // (+180).
  EXPECT_EQ(Alerts(top).size(), 3u);
  v1::AlertFilter officer;
  officer.set_officer("DC 1");
  EXPECT_EQ(Alerts(officer).size(), 6u);

  v1::SubscribeRequest digest;
  digest.set_digest_every_hours(4);
  *digest.mutable_filters() = top;
  Subscriber subscriber(*stub_, digest);
  const std::vector<v1::AlertEvent> events = subscriber.WaitFor(1);
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::ALERT_EVENT_TYPE_DIGEST);
  EXPECT_EQ(events[0].digest().open(), 3);
  EXPECT_EQ(events[0].digest().open_by_level(v1::ESCALATION_LEVEL_SUPERINTENDENT), 3);
  EXPECT_EQ(events[0].digest().top_size(), 3);
  EXPECT_EQ(events[0].digest().events_since_last(v1::ALERT_EVENT_TYPE_RAISED), 3);
}

// The events on the alerts feed so far, as a subscriber from the start received them.
std::vector<v1::AlertEvent> OfType(const std::vector<v1::AlertEvent>& events,
                                   v1::AlertEventType type, absl::string_view obligation_id = "") {
  std::vector<v1::AlertEvent> found;
  for (const v1::AlertEvent& e : events) {
    if (e.type() == type &&
        (obligation_id.empty() || e.alert().obligation().id() == obligation_id)) {
      found.push_back(e);
    }
  }
  return found;
}

TEST_P(AlertsTest, DueSoonWarnsTheOwnerOnceAtThreeQuartersOfTheInterval) {
  v1::SubscribeRequest request;
  request.set_start_at_head(true);
  Subscriber subscriber(*stub_, request);
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_LOW);  // action within 30 days
  const std::string action = r.id() + "/action";
  const v1::Obligation* clock = Clock(r, "action");
  ASSERT_NE(clock, nullptr);
  ASSERT_TRUE(clock->has_start_time());
  EXPECT_EQ(TimeOf(clock->start_time()), TimeOf(r.received_time()));
  const absl::Time start = TimeOf(clock->start_time());
  const absl::Time due = TimeOf(clock->due_time());
  const absl::Time warn = start + (due - start) * 3 / 4;
  CatchUp();

  clock_.Set(warn - absl::Minutes(1));
  Scan();
  auto events = [&] { return subscriber.WaitFor(store_->EventHead(kAlertFeed)); };
  EXPECT_TRUE(OfType(events(), v1::ALERT_EVENT_TYPE_DUE_SOON, action).empty());

  clock_.Set(warn);
  EXPECT_GE(Scan().warned, 1);
  std::vector<v1::AlertEvent> warnings = OfType(events(), v1::ALERT_EVENT_TYPE_DUE_SOON, action);
  ASSERT_EQ(warnings.size(), 1u);
  const v1::Alert& warning = warnings[0].alert();
  EXPECT_EQ(warning.cause(), v1::ALERT_CAUSE_DUE_SOON);
  EXPECT_EQ(warning.id(), DueSoonAlertId("ocait", "wessex", action, due));
  EXPECT_EQ(warning.obligation().owner_officer(), "DC 1");
  EXPECT_EQ(warning.escalation_level(), v1::ESCALATION_LEVEL_OFFICER);
  EXPECT_EQ(warning.state(), v1::ALERT_STATE_UNSPECIFIED);
  EXPECT_FALSE(warning.has_next_escalation_time());
  EXPECT_THAT(warning.summary(), HasSubstr("75% of its 30-day interval from"));
  // A warning is not an alert: nothing to list, read or acknowledge.
  for (const v1::Alert& a : Alerts()) EXPECT_NE(a.cause(), v1::ALERT_CAUSE_DUE_SOON);
  EXPECT_THAT(engine_->Get(Call(), warning.id()).status(), StatusIs(absl::StatusCode::kNotFound));

  // Once only; then the due time passes and the overdue alert follows.
  EXPECT_EQ(Scan().warned, 0);
  clock_.Set(due + absl::Minutes(1));
  Scan();
  EXPECT_EQ(OfType(events(), v1::ALERT_EVENT_TYPE_DUE_SOON, action).size(), 1u);
  EXPECT_EQ(OfType(events(), v1::ALERT_EVENT_TYPE_RAISED, action).size(), 1u);
}

TEST_P(AlertsTest, AcknowledgerIsRemindedWeeklyWhileTheObligationStaysOpen) {
  v1::SubscribeRequest request;
  request.set_start_at_head(true);
  Subscriber subscriber(*stub_, request);
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_LOW);
  RegradeWithChildrenAccess(r, v1::RISK_LEVEL_HIGH);
  CatchUp();
  const v1::Alert notice = AlertAbout(r.id() + "/action");
  ASSERT_EQ(notice.cause(), v1::ALERT_CAUSE_IMMEDIATE_ESCALATION);
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert acked, Acknowledge(notice.id(), Call()));
  const absl::Time reminder = policy::AddLocalDays(clock_.Now(), 7, zone_);
  EXPECT_EQ(TimeOf(acked.next_reminder_time()), reminder);

  clock_.Set(reminder - absl::Minutes(1));
  EXPECT_EQ(Scan().reminded, 0);
  clock_.Set(reminder);
  EXPECT_EQ(Scan().reminded, 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert reminded, engine_->Get(Call(), notice.id()));
  EXPECT_EQ(reminded.state(), v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(TimeOf(reminded.next_reminder_time()), policy::AddLocalDays(reminder, 7, zone_));
  const std::vector<v1::AlertEvent> reminders =
      OfType(subscriber.WaitFor(store_->EventHead(kAlertFeed)), v1::ALERT_EVENT_TYPE_REMINDER);
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(reminders[0].alert().id(), notice.id());
  EXPECT_EQ(reminders[0].alert().acknowledgements(0).by(), "PS 77");
  EXPECT_EQ(Scan().reminded, 0);  // once per interval

  // An overdue alert's acknowledgement lapses after 7 days, no later than a reminder would
  // come: it reopens instead, and has no reminder.
  const v1::Alert overdue = AlertAbout(r.id() + "/csc-check");
  ASSERT_EQ(overdue.cause(), v1::ALERT_CAUSE_OVERDUE);
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert lapsing, Acknowledge(overdue.id(), Call()));
  EXPECT_TRUE(lapsing.acknowledgements(0).has_expiry_time());
  EXPECT_FALSE(lapsing.has_next_reminder_time());
}

TEST_P(AlertsTest, EscalationFiringLateAlertsTheDutyInspector) {
  // Very high: action and CSC check due at the end of tomorrow; sergeant +1 day, inspector +3.
  const v1::Referral r = Referral(clock_.Now(), v1::RISK_LEVEL_VERY_HIGH);
  const absl::Time due = Due(r, "action");
  ASSERT_EQ(Due(r, "csc-check"), due);
  CatchUp();
  auto watchdog = [&](const v1::AlertFilter& filter = {}) {
    std::vector<v1::Alert> found;
    for (const v1::Alert& a : Alerts(filter)) {
      if (a.cause() == v1::ALERT_CAUSE_LATE_ESCALATION) found.push_back(a);
    }
    return found;
  };
  clock_.Set(due + absl::Minutes(30));  // alerts raised late are not escalations
  Scan();
  clock_.Set(due + absl::Hours(24));  // the sergeant's steps, on time
  ScanReport on_time = Scan();
  EXPECT_EQ(on_time.escalated, 2);
  EXPECT_EQ(on_time.late, 0);
  EXPECT_TRUE(watchdog().empty());

  clock_.Set(due + absl::Hours(72) + absl::Minutes(12));  // the inspector's, 12 minutes late
  ScanReport late = Scan();
  EXPECT_EQ(late.late, 2);
  EXPECT_EQ(late.worst_lateness, absl::Minutes(12));
  std::vector<v1::Alert> raised = watchdog();
  ASSERT_EQ(raised.size(), 1u);  // one per force and day, however many were late
  const v1::Alert& alert = raised[0];
  EXPECT_EQ(alert.id(), LateEscalationAlertId("wessex", "2026-11-28"));
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(alert.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alert.context(), "alerts");
  EXPECT_EQ(alert.obligation().team(), "");
  EXPECT_FALSE(alert.has_next_escalation_time());
  EXPECT_THAT(alert.summary(), HasSubstr("2 escalations fired more than 5 minutes after"));
  EXPECT_THAT(alert.summary(), HasSubstr("12 minutes late"));
  EXPECT_THAT(alert.summary(), HasSubstr("to the inspector"));

  // Not an officer's; a sergeant may not take it on; the duty inspector's acknowledgement
  // resolves it.
  v1::ListAlertsRequest mine;
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListAlertsResponse officers,
                             engine_->List(Call(Role::kOfficer, "DC 1"), mine));
  for (const v1::Alert& a : officers.alerts()) EXPECT_NE(a.id(), alert.id());
  CallContext sergeant = Call();
  sergeant.principal.rank = Rank::kSergeant;
  EXPECT_THAT(Acknowledge(alert.id(), sergeant),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("inspector")));
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert done, Acknowledge(alert.id(), Call()));
  EXPECT_EQ(done.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(done.resolution(), "acknowledged by PS 77");
  EXPECT_TRUE(watchdog().empty());
}

// Late escalations spread over several batches (Scan's batches of two): the day's watchdog
// alert is raised by the first and brought up to date by each after it, never raised again.
TEST_P(AlertsTest, LateEscalationsAcrossBatchesRaiseTheDaysWatchdogAlertOnce) {
  v1::SubscribeRequest request;
  request.set_start_at_head(true);
  Subscriber subscriber(*stub_, request);
  std::vector<v1::Referral> referrals;
  referrals.reserve(5);
  for (int i = 0; i < 5; ++i) referrals.push_back(Referral(clock_.Now(), v1::RISK_LEVEL_VERY_HIGH));
  const absl::Time due = Due(referrals[0], "action");
  CatchUp();
  clock_.Set(due + absl::Minutes(30));
  EXPECT_EQ(Scan().raised, 10);  // action and CSC check of each
  clock_.Set(due + absl::Hours(24));
  EXPECT_EQ(Scan().escalated, 10);
  clock_.Set(due + absl::Hours(72) + absl::Minutes(12));
  const ScanReport late = Scan();
  EXPECT_EQ(late.late, 10);

  int raised = 0, updated = 0;
  std::string id;
  for (const v1::AlertEvent& e : subscriber.WaitFor(store_->EventHead(kAlertFeed))) {
    if (e.alert().cause() != v1::ALERT_CAUSE_LATE_ESCALATION) continue;
    id = e.alert().id();
    raised += e.type() == v1::ALERT_EVENT_TYPE_RAISED;
    updated += e.type() == v1::ALERT_EVENT_TYPE_UPDATED;
  }
  EXPECT_EQ(raised, 1);
  EXPECT_EQ(updated, 4) << "one per later batch of two";
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert watchdog, engine_->Get(Call(), id));
  EXPECT_EQ(watchdog.revision(), 5);
}

TEST_P(AlertsTest, TeamFindingAlertsTheTeamsInspectorAndItsAcknowledgementEndsIt) {
  // As the rso context publishes it (VisitService.CheckTeamFindings).
  v1::ObligationEvent event;
  event.set_type(v1::OBLIGATION_EVENT_TYPE_NOTICE);
  v1::ObligationNotice& notice = *event.mutable_notice();
  notice.set_id("flat-diarising/north/2026-11-23");
  notice.set_kind(v1::NOTICE_KIND_TEAM_FINDING);
  notice.mutable_obligation()->set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  notice.mutable_obligation()->set_team("ocait");
  notice.mutable_obligation()->set_force("wessex");
  notice.set_summary("team ocait diarises its visits flat: 6 of the team's 6 ...");
  *notice.mutable_time() = ToProtoTime(clock_.Now());
  ASSERT_THAT(engine_->Apply("rso", {FeedEntry{1, {event}}}), IsOk());
  ASSERT_THAT(engine_->Apply("rso", {FeedEntry{1, {event}}}), IsOk());  // a replay: no second

  std::vector<v1::Alert> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  const v1::Alert& alert = alerts[0];
  EXPECT_EQ(alert.cause(), v1::ALERT_CAUSE_TEAM_FINDING);
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(alert.obligation().team(), "ocait");
  EXPECT_THAT(alert.summary(), HasSubstr("diarises its visits flat"));
  // It climbs on to the superintendent if nobody takes it on.
  EXPECT_TRUE(alert.has_next_escalation_time());

  CallContext sergeant = Call();
  sergeant.principal.rank = Rank::kSergeant;
  EXPECT_THAT(Acknowledge(alert.id(), sergeant), StatusIs(absl::StatusCode::kPermissionDenied));
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert done, Acknowledge(alert.id(), Call()));
  EXPECT_EQ(done.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_FALSE(done.has_next_reminder_time());
  EXPECT_TRUE(Alerts().empty());
}

TEST_P(AlertsTest, UnallocatedWorkAlertsTheSergeantFirst) {
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Referral waiting, UnallocatedHighReferral());
  const absl::Time due = Due(waiting, "action");
  clock_.Set(due + absl::Minutes(1));
  Scan();
  const v1::Alert alert = AlertAbout(waiting.id() + "/action");
  EXPECT_EQ(alert.obligation().owner_officer(), "(unallocated)");
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SERGEANT);
  // High: the inspector 14 days after the due time is the next step.
  EXPECT_EQ(TimeOf(alert.next_escalation_time()), policy::AddLocalDays(due, 14, zone_));
}

TEST_P(AlertsTest, UnallocatedReferralWorkIsAddressedToTheQueueManagerNamedInPolicy) {
  v1::Policy policy = *policies_->Current("wessex");
  policy.set_ocait_queue_manager("DS Queue");
  ASSERT_THAT(policies_->Set(Call(Role::kForceAdmin, "Admin"), policy).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Referral waiting, UnallocatedHighReferral());
  clock_.Set(Due(waiting, "action") + absl::Minutes(1));
  Scan();
  const v1::Alert alert = AlertAbout(waiting.id() + "/action");
  EXPECT_EQ(alert.addressee(), "DS Queue");
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SERGEANT);
  // The queue manager, an officer by role, sees and may acknowledge it as an owner would;
  // another officer may not.
  const CallContext manager = Call(Role::kOfficer, "DS Queue");
  v1::ListAlertsRequest mine;
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::ListAlertsResponse listed, engine_->List(manager, mine));
  // The action, the intelligence refresh and the CSC check of the unallocated referral.
  ASSERT_EQ(listed.alerts_size(), 3);
  bool found = false;
  for (const v1::Alert& a : listed.alerts()) {
    EXPECT_EQ(a.addressee(), "DS Queue");
    found |= a.id() == alert.id();
  }
  EXPECT_TRUE(found);
  EXPECT_THAT(engine_->Get(Call(Role::kOfficer, "DC 1"), alert.id()).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert taken, Acknowledge(alert.id(), manager));
  EXPECT_EQ(taken.state(), v1::ALERT_STATE_ACKNOWLEDGED);

  // Once allocated, the owner has it and the queue manager no longer does.
  v1::AllocateReferralRequest allocate;
  allocate.set_id(waiting.id());
  allocate.set_officer("DC 1");
  allocate.set_team("ocait");
  ASSERT_THAT(queue_->Allocate(Call(), allocate).status(), IsOk());
  CatchUp();
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::Alert owned, engine_->Get(Call(), alert.id()));
  EXPECT_EQ(owned.obligation().owner_officer(), "DC 1");
  EXPECT_EQ(owned.addressee(), "");
}

}  // namespace
TEST_P(AlertsTest, TheScannerWakesOnlyForADeadlineEarlierThanTheOneItSleepsUntil) {
  AlertScanner scanner(*engine_, clock_);
  engine_->SetDeadlineListener([&scanner](absl::Time due) { scanner.WakeFor(due); });
  scanner.Start();
  auto passes_reach = [&scanner](uint64_t n) {
    for (int i = 0; i < 500 && scanner.passes() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return scanner.passes() >= n;
  };
  ASSERT_TRUE(passes_reach(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // asleep: nothing is due
  const uint64_t settled = scanner.passes();

  // Followed clocks due in days: the scanner sleeps on (at most a minute, on this clock).
  Referral(clock_.Now());
  CatchUp();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(scanner.passes(), settled);

  // A clock already overdue: the follower raises its alert itself; the scanner sleeps on.
  const v1::Referral late = Referral(clock_.Now() - absl::Hours(24 * 30));
  CatchUp();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(scanner.passes(), settled);
  // A deadline earlier than the one it sleeps until: it wakes at once.
  ASSERT_THAT(
      engine_->Apply("direct", {FeedEntry{1,
                                          {FeedEvent(v1::OBLIGATION_EVENT_TYPE_OPENED, "R9/action",
                                                     clock_.Now() + absl::Seconds(1))}}}),
      IsOk());
  EXPECT_TRUE(passes_reach(settled + 1));
  scanner.Stop();
  v1::ListAlertsRequest request;
  VIGIL_ASSERT_OK_AND_ASSIGN(const v1::ListAlertsResponse listed, engine_->List(Call(), request));
  bool raised = false;
  for (const v1::Alert& alert : listed.alerts())
    raised |= alert.obligation().subject_id() == late.id();
  EXPECT_TRUE(raised);
}

INSTANTIATE_TEST_SUITE_P(Following, AlertsTest,
                         ::testing::Values(Following::kStream, Following::kStore),
                         [](const ::testing::TestParamInfo<Following>& param) {
                           return param.param == Following::kStream ? "Stream" : "Store";
                         });

}  // namespace vigil::alerts
