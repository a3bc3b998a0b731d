// The real vigild binary, started on a free port in a per-test directory, driven by a real
// gRPC client.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::testing::Identity;
using ::vigil::testing::IsOk;
using ::vigil::testing::VigildPath;
using ::vigil::testing::VigildProcess;

// The identity headers, and a deadline.
void Identify(grpc::ClientContext& context, const Identity& id) {
  vigil::testing::AddIdentity(context, id);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

Identity Auditor() { return Identity{"Auditor A", "auditor", "wessex", "DPA review"}; }

class VigildTest : public ::testing::Test {
 protected:
  // The audit tests count records: vigild hosts no service that audits on its own (alerts
  // audits the feeds it follows).
  const std::vector<std::string> args_ = {"--services", "audit,admin"};

  void SetUp() override {
    vigild_ = std::make_unique<VigildProcess>(dir_.path());
    ASSERT_THAT(vigild_->Start(args_), IsOk());
    audit_ = v1::AuditService::NewStub(vigild_->channel());
  }

  grpc::Status ListAudit(const Identity& id, const v1::ListAuditRecordsRequest& request,
                         v1::ListAuditRecordsResponse* response) {
    grpc::ClientContext context;
    Identify(context, id);
    return audit_->ListAuditRecords(&context, request, response);
  }

  grpc::Status Verify(const Identity& id, v1::VerifyAuditChainResponse* response) {
    grpc::ClientContext context;
    Identify(context, id);
    return audit_->VerifyAuditChain(&context, v1::VerifyAuditChainRequest(), response);
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

TEST_F(VigildTest, ReportsServingOverallAndPerService) {
  auto health = grpc::health::v1::Health::NewStub(vigild_->channel());
  for (const std::string& service : {std::string(), std::string("vigil.v1.AuditService")}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("vigil.v1.NoSuchService");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(VigildTest, CallWithoutIdentityIsUnauthenticated) {
  v1::VerifyAuditChainResponse response;
  const grpc::Status status = Verify(Identity{"", "", "", ""}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("x-vigil-actor"));
}

TEST_F(VigildTest, MalformedIdentityIsUnauthenticated) {
  v1::VerifyAuditChainResponse response;
  const grpc::Status status = Verify(Identity{"DC 1", "chief-constable", "wessex", ""}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("not a role"));
}

TEST_F(VigildTest, RoleOutsideTheRpcsDeclarationIsPermissionDenied) {
  v1::ListAuditRecordsResponse response;
  const grpc::Status status = ListAudit(Identity{"DC 1", "officer", "wessex", "curious"},
                                        v1::ListAuditRecordsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("auditor"));
}

TEST_F(VigildTest, PersonalDataWithoutPurposeIsInvalidArgument) {
  Identity id = Auditor();
  id.purpose.clear();
  v1::ListAuditRecordsResponse response;
  const grpc::Status status = ListAudit(id, v1::ListAuditRecordsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("x-vigil-purpose"));
}

TEST_F(VigildTest, BadRequestFieldIsNamed) {
  v1::ListAuditRecordsRequest request;
  request.set_subject_id("offender/1");
  request.set_actor("DC 1");
  v1::ListAuditRecordsResponse response;
  const grpc::Status status = ListAudit(Auditor(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("subject_id"));
}

TEST_F(VigildTest, ListingsAreAuditedChainedAndKeptAcrossRestartAndKill) {
  for (int i = 0; i < 3; ++i) {
    v1::ListAuditRecordsResponse response;
    ASSERT_TRUE(ListAudit(Auditor(), v1::ListAuditRecordsRequest(), &response).ok());
    EXPECT_EQ(response.records_size(), i);  // each listing sees the ones before it
  }
  ASSERT_THAT(vigild_->Restart(), IsOk());
  audit_ = v1::AuditService::NewStub(vigild_->channel());
  v1::ListAuditRecordsResponse response;
  ASSERT_TRUE(ListAudit(Auditor(), v1::ListAuditRecordsRequest(), &response).ok());
  ASSERT_EQ(response.records_size(), 3);
  EXPECT_EQ(response.records(0).actor(), "Auditor A");
  EXPECT_EQ(response.records(0).purpose(), "DPA review");
  EXPECT_EQ(response.records(2).rpc(), "vigil.v1.AuditService/ListAuditRecords");

  vigild_->Kill();
  ASSERT_THAT(vigild_->Start(args_), IsOk());
  audit_ = v1::AuditService::NewStub(vigild_->channel());
  v1::VerifyAuditChainResponse verify;
  ASSERT_TRUE(Verify(Auditor(), &verify).ok());
  EXPECT_TRUE(verify.ok()) << verify.problem();
  // The policy stored at first start, and every acknowledged listing, survived kill -9.
  EXPECT_EQ(verify.records_checked(), 5u);
}

TEST_F(VigildTest, OversizedMessageIsRejectedAndTheServerCarriesOn) {
  v1::ListAuditRecordsRequest request;
  request.set_subject_id(std::string(5 << 20, 'x'));
  v1::ListAuditRecordsResponse response;
  const grpc::Status status = ListAudit(Auditor(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::VerifyAuditChainResponse verify;
  EXPECT_TRUE(Verify(Auditor(), &verify).ok());
}

TEST_F(VigildTest, SigtermDrainsClosesAndExitsZero) {
  absl::StatusOr<int> code = vigild_->Stop(SIGTERM);
  ASSERT_THAT(code.status(), IsOk());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(vigild_->log(), HasSubstr("stopped cleanly"));
  ASSERT_THAT(vigild_->Start(args_), IsOk());
  code = vigild_->Stop(SIGINT);
  ASSERT_THAT(code.status(), IsOk());
  EXPECT_EQ(*code, 0);
}

TEST_F(VigildTest, SecondProcessOnTheSameDataDirIsRefused) {
  absl::StatusOr<testing::RunResult> result = vigil::testing::Run(
      {VigildPath(), "--data-dir", vigild_->data_dir(), "--listen", "127.0.0.1:0"});
  ASSERT_THAT(result.status(), IsOk());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_THAT(result->output, HasSubstr("in use by another process"));
}

TEST_F(VigildTest, PortInUseIsAClearError) {
  vigil::testing::TempDir other;
  absl::StatusOr<testing::RunResult> result = vigil::testing::Run(
      {VigildPath(), "--data-dir", other.Sub("data"), "--listen", vigild_->address()});
  ASSERT_THAT(result.status(), IsOk());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_THAT(result->output, HasSubstr("cannot listen on " + vigild_->address()));
}

class VigildStartupTest : public ::testing::Test {
 protected:
  testing::RunResult RunVigild(std::vector<std::string> args) {
    args.insert(args.begin(), VigildPath());
    absl::StatusOr<testing::RunResult> result = vigil::testing::Run(args);
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : testing::RunResult{};
  }
  vigil::testing::TempDir dir_;
};

TEST_F(VigildStartupTest, BacklogWithoutItsOwnersSaysWhatItLeavesOut) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start({"--services", "backlog,admin", "--feed-address", "ocait=127.0.0.1:9"}),
              IsOk());
  EXPECT_THAT(vigild.log(), HasSubstr("backlog: rso is not hosted here and has no --feed-address"));
  EXPECT_THAT(vigild.log(), Not(HasSubstr("backlog: ocait is not hosted")));
}

TEST_F(VigildStartupTest, UnknownFlagIsAUsageError) {
  testing::RunResult r = RunVigild({"--data-dirr", dir_.Sub("data")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--data-dirr"));
}

TEST_F(VigildStartupTest, HelpExitsZero) {
  testing::RunResult r = RunVigild({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--data-dir"));
}

TEST_F(VigildStartupTest, UnknownServiceIsNamed) {
  testing::RunResult r = RunVigild({"--data-dir", dir_.Sub("data"), "--services", "audit,bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown service 'bogus'"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data")));
}

TEST_F(VigildStartupTest, DevAuthOffLoopbackIsRefused) {
  testing::RunResult r = RunVigild({"--data-dir", dir_.Sub("data"), "--listen", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("loopback"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data")));
}

TEST_F(VigildStartupTest, UnusableDataDirIsAClearError) {
  std::ofstream(dir_.Sub("file")) << "x";
  testing::RunResult r =
      RunVigild({"--data-dir", dir_.Sub("file/data"), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Not a directory"));
}

TEST_F(VigildStartupTest, ForeignDataDirIsRefusedUntouched) {
  std::filesystem::create_directories(dir_.Sub("home"));
  std::ofstream(dir_.Sub("home/notes.txt")) << "x";
  testing::RunResult r = RunVigild({"--data-dir", dir_.Sub("home"), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("not a vigil store"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.Sub("home")),
                          std::filesystem::directory_iterator()),
            1);
}

}  // namespace
}  // namespace vigil
