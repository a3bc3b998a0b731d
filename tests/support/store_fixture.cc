#include "tests/support/store_fixture.h"

#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "tests/support/status_matchers.h"

namespace vigil::testing {

absl::Time Day(int y, int m, int d, int hour) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hour, 0, 0), absl::UTCTimeZone());
}

void StoreFixture::SetUp() {
  clock_.Set(Day(2026, 11, 23));
  absl::StatusOr<absl::TimeZone> zone = policy::ForceTimeZone();
  ASSERT_TRUE(zone.ok()) << zone.status();
  zone_ = *zone;
  OpenStore();
}

void StoreFixture::OpenStore() {
  policies_.reset();
  store_.reset();
  storage::StoreOptions options;
  options.path = dir_.Sub("data");
  options.migrations = migrations_;
  VIGIL_ASSERT_OK_AND_ASSIGN(store_, storage::Store::Open(options));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      policies_, policy::PolicyRegistry::Open(*store_, clock_, policy::DefaultPolicy(), "test"));
}

absl::Time StoreFixture::LocalEndOf(int y, int m, int d) const {
  return policy::EndOfLocalDay(absl::CivilDay(y, m, d), zone_);
}

absl::CivilDay StoreFixture::LocalDayOf(absl::Time t) const { return policy::LocalDay(t, zone_); }

int64_t StoreFixture::OpenInCell(storage::DeadlineSpace space, absl::string_view force,
                                 absl::string_view team, absl::string_view officer,
                                 v1::ObligationKind kind, v1::RiskLevel risk) const {
  int64_t open = 0;
  const absl::Status scanned = store_->Snapshot().ScanDeadlines(
      space, absl::InfinitePast(), absl::InfiniteFuture(),
      [&](const storage::Deadline&, absl::string_view value) {
        v1::Obligation o;
        EXPECT_TRUE(o.ParseFromArray(value.data(), static_cast<int>(value.size())));
        open += o.force() == force && o.team() == team && o.owner_officer() == officer &&
                o.kind() == kind && o.risk_level() == risk;
        return true;
      });
  EXPECT_TRUE(scanned.ok()) << scanned;
  return open;
}

v1::AuditRecord StoreFixture::AuditRecordAt(uint64_t sequence) const {
  v1::AuditRecord record;
  const absl::StatusOr<std::optional<storage::StoredAuditRecord>> stored =
      store_->Snapshot().AuditRecord(sequence);
  if (!stored.ok()) {
    ADD_FAILURE() << "audit record " << sequence << ": " << stored.status();
  } else if (!stored->has_value()) {
    ADD_FAILURE() << "no audit record " << sequence;
  } else if (!record.ParseFromString((*stored)->body)) {
    ADD_FAILURE() << "audit record " << sequence << " does not parse";
  }
  return record;
}

}  // namespace vigil::testing
