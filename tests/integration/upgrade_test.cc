// A store written by the previous release (tests/data/store-0.1.0.tar.gz) opened by this one:
// nothing acknowledged is lost, every force keeps the policy it ran on, and the upgrade itself
// is audited with the chain still verifying.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/obligations/ledger.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "services/rso/offender_store.h"
#include "services/rso/register.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(absl::FromCivil(absl::CivilDay(2026, 12, 2), absl::UTCTimeZone()));
    absl::StatusOr<testing::RunResult> untar = testing::Run(
        {"/bin/tar", "-xzf", std::string(VIGIL_SOURCE_DIR) + "/tests/data/store-0.1.0.tar.gz", "-C",
         dir_.path()});
    ASSERT_THAT(untar.status(), IsOk());
    ASSERT_EQ(untar->exit_code, 0) << untar->output;
    Open();
  }

  void Open() {
    policies_.reset();
    store_.reset();
    storage::StoreOptions options;
    options.path = dir_.Sub("data");
    options.create_if_missing = false;
    options.migrations = LedgerMigrations();
    VIGIL_ASSERT_OK_AND_ASSIGN(store_, storage::Store::Open(options));
    VIGIL_ASSERT_OK_AND_ASSIGN(
        policies_,
        policy::PolicyRegistry::Open(*store_, clock_, policy::DefaultPolicy(), "built-in default",
                                     policy::PolicyRegistry::Adopt::kWhenNone));
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<policy::PolicyRegistry> policies_;
};

TEST_F(UpgradeTest, EveryForceKeepsTheStoreWidePolicyItRanOnAsItsOwn) {
  // In 0.1.0 eastshire's admin stored v2 (very-high-risk visits every 3,650 days) for the whole
  // store; after the upgrade each force holds that history and changes only its own.
  for (const char* force : {"wessex", "eastshire"}) {
    EXPECT_EQ(policies_->Current(force)->version(), "v2") << force;
    EXPECT_EQ(policies_->Current(force)->visit_interval_days().very_high(), 3650) << force;
    VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<v1::PolicyVersion> versions, policies_->List(force));
    ASSERT_EQ(versions.size(), 2u) << force;
    EXPECT_EQ(versions[0].force(), force);
  }
  v1::Policy national = policy::DefaultPolicy();
  CallContext call;
  call.principal = Principal{"Admin West", Role::kForceAdmin, "wessex"};
  call.now = clock_.Now();
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy set, policies_->Set(call, national));
  EXPECT_EQ(set.version(), "v3");
  EXPECT_EQ(policies_->Current("wessex")->visit_interval_days().very_high(), 30);
  EXPECT_EQ(policies_->Current("eastshire")->visit_interval_days().very_high(), 3650);
  // A force the old store never saw follows the national default: the version vigild loaded,
  // not the one eastshire's admin set.
  EXPECT_EQ(policies_->Current("mercia")->version(), "v1");
  EXPECT_EQ(policies_->Current("mercia")->visit_interval_days().very_high(), 30);

  // Once migrated, always migrated: a restart changes nothing.
  Open();
  EXPECT_EQ(policies_->Current("wessex")->version(), "v3");
  EXPECT_EQ(policies_->Current("eastshire")->version(), "v2");
}

TEST_F(UpgradeTest, TheLedgerMovesToContextPrefixedKeysWithNothingLost) {
  EXPECT_EQ(store_->schema_version(), storage::kSchemaVersion);
  const storage::ReadView view = store_->Snapshot();
  // Nothing is left under schema 1's unprefixed keys.
  int old_keys = 0;
  ASSERT_THAT(view.ScanPrefix(storage::Family::kIndex, "due/", {},
                              [&](absl::string_view, absl::string_view) {
                                ++old_keys;
                                return true;
                              }),
              IsOk());
  EXPECT_EQ(old_keys, 0);
  int64_t old_counters = 0;
  ASSERT_THAT(view.ScanCounters("open/",
                                [&](absl::string_view, int64_t v) {
                                  old_counters += v;
                                  return true;
                                }),
              IsOk());
  EXPECT_EQ(old_counters, 0);
  // Schema 2 counted every open obligation once under its context, as the deadline index
  // (never moved) has it, and schema 7 dropped those counters; schema 5 dropped the due indexes
  // by team and by officer.
  for (auto [context, space] : {std::pair{"rso", storage::DeadlineSpace::kRso},
                                std::pair{"ocait", storage::DeadlineSpace::kOcait}}) {
    SCOPED_TRACE(context);
    int64_t open = 0;
    ASSERT_THAT(view.ScanDeadlines(space, absl::InfinitePast(), absl::InfiniteFuture(),
                                   [&](const storage::Deadline&, absl::string_view) {
                                     ++open;
                                     return true;
                                   }),
                IsOk());
    EXPECT_GT(open, 50);
    int64_t counted = 0;
    ASSERT_THAT(view.ScanCounters(absl::StrCat(context, "/open/"),
                                  [&](absl::string_view, int64_t v) {
                                    counted += v;
                                    return true;
                                  }),
                IsOk());
    EXPECT_EQ(counted, 0);
    for (const char* index : {"/due/t/", "/due/o/"}) {
      int64_t indexed = 0;
      ASSERT_THAT(view.ScanPrefix(storage::Family::kIndex, absl::StrCat(context, index), {},
                                  [&](absl::string_view, absl::string_view) {
                                    ++indexed;
                                    return true;
                                  }),
                  IsOk());
      EXPECT_EQ(indexed, 0) << index;
    }
    // Schema 3 gave every open obligation its open interval in the history, and schema 6 took
    // them out again (the open versions are the deadline index's): nothing has ended yet.
    int64_t intervals = 0;
    ASSERT_THAT(view.ScanPrefix(storage::Family::kIndex, absl::StrCat(context, "/hist/"), {},
                                [&](absl::string_view, absl::string_view) {
                                  ++intervals;
                                  return true;
                                }),
                IsOk());
    EXPECT_EQ(intervals, 0);
  }
}

TEST_F(UpgradeTest, AnOldStoreOpenedWithoutTheMigrationIsRefused) {
  policies_.reset();
  store_.reset();
  testing::TempDir other;
  absl::StatusOr<testing::RunResult> untar = testing::Run(
      {"/bin/tar", "-xzf", std::string(VIGIL_SOURCE_DIR) + "/tests/data/store-0.1.0.tar.gz", "-C",
       other.path()});
  ASSERT_THAT(untar.status(), IsOk());
  storage::StoreOptions options;
  options.path = other.Sub("data");
  options.create_if_missing = false;
  EXPECT_THAT(storage::Store::Open(options).status(),
              ::vigil::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                         ::testing::HasSubstr("upgrades it only when opened by "
                                                              "vigild")));
}

TEST_F(UpgradeTest, TheOldRecordsAndTheirAuditChainSurviveTheUpgrade) {
  VIGIL_ASSERT_OK_AND_ASSIGN(storage::AuditChainReport report,
                             store_->Snapshot().VerifyAuditChain());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_GT(report.records_checked, 100u);
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> forces, store_->Snapshot().AuditedForces());
  EXPECT_THAT(forces, ::testing::IsSupersetOf({"eastshire", "wessex"}));
  // Schema 4: the old records were indexed in their own commits, and the indexer starts after
  // them rather than walking the whole chain again.
  EXPECT_GE(store_->AuditIndexed(), report.records_checked - 10);
  ASSERT_THAT(store_->CatchUpAuditIndex(), IsOk());
  EXPECT_EQ(store_->AuditIndexed(), store_->AuditHead());
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<storage::StoredAuditRecord> last,
                             store_->Snapshot().AuditRecord(store_->AuditHead()));
  ASSERT_TRUE(last.has_value() && last->terms.has_value());
  if (!last->terms->force.empty()) {
    std::vector<uint64_t> listed;
    ASSERT_THAT(store_->Snapshot().ScanAuditIndex(storage::AuditByForcePrefix(last->terms->force),
                                                  last->sequence - 1,
                                                  [&](uint64_t s) {
                                                    listed.push_back(s);
                                                    return true;
                                                  }),
                IsOk());
    EXPECT_THAT(listed, ::testing::ElementsAre(last->sequence));
  }
  EXPECT_GT(store_->EventHead("rso"), 0u);
  EXPECT_GT(store_->EventHead("ocait"), 0u);
}

TEST_F(UpgradeTest, ARequestIdStoredBy010IsRefusedRatherThanAnsweredToAnyone) {
  // 0.1.0 kept a response under the force and request id alone: "req/rso/" lp(force) lp(id).
  std::string force, request_id;
  ASSERT_THAT(store_->Snapshot().ScanPrefix(storage::Family::kIndex, "req/rso/", {},
                                            [&](absl::string_view key, absl::string_view) {
                                              absl::string_view rest = key.substr(8), f, id;
                                              if (!storage::GetLengthPrefixed(&rest, &f) ||
                                                  !storage::GetLengthPrefixed(&rest, &id)) {
                                                return true;
                                              }
                                              force = std::string(f);
                                              request_id = std::string(id);
                                              return false;
                                            }),
              IsOk());
  ASSERT_FALSE(request_id.empty()) << "the 0.1.0 fixture holds request ids";

  rso::OffenderStore offenders(*store_, *policies_, *policy::ForceTimeZone());
  rso::Register reg(offenders);
  CallContext call;
  call.principal = Principal{"Insp Reid", Role::kSupervisor, force};
  call.purpose = "upgrade test";
  call.method = "vigil.v1.OffenderService/RecordTrigger";
  call.now = clock_.Now();
  v1::RecordTriggerRequest trigger;
  trigger.set_offender_id("ANY");
  trigger.set_type(v1::TRIGGER_TYPE_NEW_INTELLIGENCE);
  trigger.mutable_time()->set_seconds(absl::ToUnixSeconds(clock_.Now() - absl::Hours(1)));
  trigger.set_request_id(request_id);
  const uint64_t audit_head = store_->AuditHead();
  EXPECT_THAT(reg.RecordTrigger(call, trigger),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("before request ids were bound to their caller")));
  EXPECT_EQ(store_->AuditHead(), audit_head);
  // A new id works as ever (here: the offender is unknown, which is audited).
  trigger.set_request_id("after-the-upgrade");
  EXPECT_THAT(reg.RecordTrigger(call, trigger), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vigil
