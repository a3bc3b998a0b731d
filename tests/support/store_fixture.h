// The fixture the integration tests of the contexts share: a real store in the test's own
// temporary directory, a policy registry over it holding the built-in national default, a
// manual clock the test moves, and the forces' time zone with the local-day helpers that
// due dates are stated in (services/policy/calendar.h).
//
//   class VisitsTest : public vigil::testing::StoreFixture {
//    protected:
//     void SetUp() override {
//       ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
//       offenders_ = std::make_unique<rso::OffenderStore>(*store_, *policies_, zone_);
//     }
//     std::unique_ptr<rso::OffenderStore> offenders_;  // destroyed before the store
//   };
#ifndef VIGIL_TESTS_SUPPORT_STORE_FIXTURE_H_
#define VIGIL_TESTS_SUPPORT_STORE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.pb.h"
#include "vigil/v1/obligations.pb.h"

namespace vigil::testing {

// `hour`:00 UTC on the civil day y-m-d (noon unless given).
absl::Time Day(int y, int m, int d, int hour = 12);

class StoreFixture : public ::testing::Test {
 protected:
  // Sets the clock to Day(2026, 11, 23) and opens the store and the registry (OpenStore).
  void SetUp() override;

  // Opens the store in dir_/data with migrations_ (again, on a second call: whatever refers
  // to the store or the registry must be reset first), and the registry over it with the
  // built-in default policy. Fails the test (fatally) when either cannot be opened.
  void OpenStore();

  // The first instant of the local day after y-m-d in zone_: when a duty due on y-m-d falls due
  // (policy::EndOfLocalDay).
  absl::Time LocalEndOf(int y, int m, int d) const;
  // The local day `t` falls on in zone_.
  absl::CivilDay LocalDayOf(absl::Time t) const;

  // How many obligations of `space` are open in one backlog cell (force, team, officer, kind,
  // risk), counted in the deadline index, where each open obligation is.
  int64_t OpenInCell(storage::DeadlineSpace space, absl::string_view force, absl::string_view team,
                     absl::string_view officer, v1::ObligationKind kind, v1::RiskLevel risk) const;
  // The audit record at `sequence` of the chain. Fails the test, and returns an empty record,
  // when there is none or it does not parse.
  v1::AuditRecord AuditRecordAt(uint64_t sequence) const;

  TempDir dir_;  // declared first: it outlives the store in it
  ManualClock clock_;
  absl::TimeZone zone_;  // the forces' (Europe/London)
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<policy::PolicyRegistry> policies_;
  // What OpenStore opens the store with (StoreOptions::migrations); a subclass that needs the
  // ledger's sets it in its constructor. Default: none.
  std::vector<storage::Migration> migrations_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SUPPORT_STORE_FIXTURE_H_
