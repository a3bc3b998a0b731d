// The real `vigil` CLI against a real vigild.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.pb.h"

namespace vigil {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::VigilCliPath;
using ::vigil::testing::VigildProcess;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    // Every service but alerts, which audits the feeds it follows (the audit tests count).
    ASSERT_THAT(vigild_->Start({"--services", "audit,rso,ocait,backlog,admin"}), IsOk());
  }

  RunResult Vigil(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {VigilCliPath(), "--server", vigild_->address()});
    absl::StatusOr<RunResult> result = testing::Run(args, absl::Seconds(60), env);
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : RunResult{};
  }

  const std::vector<std::string> auditor_ = {"VIGIL_ACTOR=Auditor A", "VIGIL_ROLE=auditor",
                                             "VIGIL_FORCE=wessex", "VIGIL_PURPOSE=e2e"};
  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
};

TEST_F(CliTest, HealthListsServingServices) {
  RunResult r = Vigil({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("(server)"));
  for (const char* service :
       {"AuditService", "OffenderService", "AssessmentService", "AdminService"}) {
    EXPECT_THAT(r.output, ContainsRegex(absl::StrCat("vigil\\.v1\\.", service, " +SERVING")));
  }
}

TEST_F(CliTest, HealthWithoutAServerExitsThreeWithAHint) {
  absl::StatusOr<RunResult> r =
      testing::Run({VigilCliPath(), "--server", "127.0.0.1:1", "--timeout", "2", "health"});
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_THAT(r->output, HasSubstr("is vigild running"));
}

TEST_F(CliTest, MissingIdentityExplainsHowToGiveIt) {
  RunResult r = Vigil({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(r.output, HasSubstr("VIGIL_ACTOR"));
}

TEST_F(CliTest, AMissingPurposeNamesTheFlagThatGivesIt) {
  RunResult r = Vigil({"offender", "list"},
                      {"VIGIL_ACTOR=DS Holt", "VIGIL_ROLE=supervisor", "VIGIL_FORCE=wessex"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(r.output, HasSubstr("hint: say why with --purpose"));
}

TEST_F(CliTest, AuditVerifyAndListFromEnvironmentIdentity) {
  RunResult list = Vigil({"audit", "list"}, auditor_);
  EXPECT_EQ(list.exit_code, 0) << list.output;
  RunResult json = Vigil({"audit", "list", "-o", "json"}, auditor_);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  v1::ListAuditRecordsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.output, &parsed).ok())
      << json.output;
  ASSERT_EQ(parsed.records_size(), 1);  // the first listing
  EXPECT_EQ(parsed.records(0).actor(), "Auditor A");
  RunResult verify = Vigil({"audit", "verify"}, auditor_);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // The policy stored at first start, and the two listings.
  EXPECT_THAT(verify.output, HasSubstr("audit chain OK: 3 records verified"));
}

TEST_F(CliTest, FlagsOverrideEnvironmentAndConflictsAreUsageErrors) {
  RunResult denied = Vigil({"audit", "list", "--role", "officer"}, auditor_);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.output, HasSubstr("PERMISSION_DENIED"));
  RunResult both = Vigil({"audit", "list", "--subject", "a", "--actor", "b"}, auditor_);
  EXPECT_EQ(both.exit_code, 2);
  RunResult unknown = Vigil({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  RunResult bad_time = Vigil({"audit", "list", "--from", "yesterday"}, auditor_);
  EXPECT_EQ(bad_time.exit_code, 2) << "a bad flag value is bad usage";
  EXPECT_THAT(bad_time.output, HasSubstr("'yesterday' is not a date"));
  EXPECT_THAT(bad_time.output, HasSubstr("-30d"));
}

TEST_F(CliTest, UnknownVerbsSuggestTheNearestAndShowIsGet) {
  const std::vector<std::string> supervisor = {"VIGIL_ACTOR=Insp Reid", "VIGIL_ROLE=supervisor",
                                               "VIGIL_FORCE=wessex", "VIGIL_PURPOSE=e2e"};
  RunResult top = Vigil({"offendr", "list"}, supervisor);
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_THAT(top.output, HasSubstr("unknown command 'offendr' for 'vigil'; did you mean "
                                    "'offender'?"));
  RunResult verb = Vigil({"offender", "shw", "R1"}, supervisor);
  EXPECT_EQ(verb.exit_code, 2);
  EXPECT_THAT(verb.output, HasSubstr("for 'vigil offender'; did you mean"));
  EXPECT_THAT(verb.output, HasSubstr("'show'"));
  RunResult nothing_near = Vigil({"offender", "zzzzzz"}, supervisor);
  EXPECT_EQ(nothing_near.exit_code, 2);
  EXPECT_THAT(nothing_near.output, HasSubstr("its commands: "));
  // `show` reaches the server as `get` does: the same NOT_FOUND for an unknown id.
  for (const char* verb_name : {"get", "show"}) {
    RunResult shown = Vigil({"offender", verb_name, "NO-SUCH-ID"}, supervisor);
    EXPECT_EQ(shown.exit_code, 1) << verb_name << ": " << shown.output;
    EXPECT_THAT(shown.output, HasSubstr("NOT_FOUND")) << verb_name;
  }
  RunResult referral = Vigil({"referral", "show", "NO-SUCH-ID"}, supervisor);
  EXPECT_THAT(referral.output, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace vigil
