// A deterministic synthetic force for demonstrations and load tests: offenders across teams and
// officers with a realistic risk mix and history (some overdue, one team flat-diarised), their
// plans and recent visits, and a referral queue ageing back to 2019, one referral in ten about a
// registered offender. The same seed gives the
// same data; rows carry stable references, so loading twice adds nothing.
#ifndef VIGIL_CLIENTS_CLI_DEMO_DATA_H_
#define VIGIL_CLIENTS_CLI_DEMO_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "vigil/v1/ocait.pb.h"
#include "vigil/v1/rso.pb.h"
#include "vigil/v1/visits.pb.h"

namespace vigil::cli {

struct DemoOptions {
  int offenders = 300;
  int referrals = 150;
  int teams = 4;
  int officers_per_team = 5;
  uint64_t seed = 20261123;
  // Dates are generated relative to this instant.
  absl::Time now = absl::Now();
  // Distinguishes several synthetic forces' references (for national-scale loads).
  std::string prefix = "DEMO";
};

struct DemoData {
  std::vector<v1::OffenderImportRow> offenders;
  // Oldest first per offender: about one offender in four has an earlier plan a year before
  // the current one (an RMP history), and many current plans predate the imported last review.
  std::vector<v1::RecordRiskManagementPlanRequest> plans;
  // Sent after the plans, as a sergeant: about half the current plans signed off; the rest
  // leave their sign-off clock running.
  std::vector<v1::SignOffRiskManagementPlanRequest> sign_offs;
  std::vector<v1::RecordVisitRequest> visits;
  std::vector<v1::ReferralImportRow> referrals;
  // Sent after the referrals are imported: refreshes (each of the four checks recorded, some
  // not possible) and regrades upward that found access to children.
  std::vector<v1::RecordIntelRefreshRequest> refreshes;
};

DemoData GenerateDemo(const DemoOptions& options);

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_DEMO_DATA_H_
