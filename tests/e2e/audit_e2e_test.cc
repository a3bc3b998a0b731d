// The audit trail end to end (issue #15): the real vigild and a real gRPC client. A request id
// is its caller's own: another officer reusing it never receives the first officer's record, the
// owner's replay is answered from the store and audited, and the id with another request is
// refused.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::testing::IsOk;
using ::vigil::testing::VigildProcess;

class AuditEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(vigild_.Start(), IsOk());
    offenders_ = v1::OffenderService::NewStub(vigild_.channel());
    audit_ = v1::AuditService::NewStub(vigild_.channel());
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& actor,
                                                 const std::string& role = "officer",
                                                 const std::string& force = "wessex",
                                                 const std::string& purpose = "audit e2e") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("x-vigil-actor", actor);
    context->AddMetadata("x-vigil-role", role);
    context->AddMetadata("x-vigil-force", force);
    if (!purpose.empty()) context->AddMetadata("x-vigil-purpose", purpose);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  static v1::CreateOffenderRequest Registration(const std::string& name,
                                                const std::string& request_id) {
    v1::CreateOffenderRequest request;
    request.set_request_id(request_id);
    request.mutable_offender()->set_display_name(name);
    request.mutable_offender()->set_owner_officer("DC 100");
    request.mutable_offender()->set_team("north");
    request.mutable_offender()->mutable_registered_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 30)));
    return request;
  }

  // Every audit record of `force`, read by its auditor.
  std::vector<v1::AuditRecord> AuditOf(const std::string& force) {
    std::vector<v1::AuditRecord> records;
    v1::ListAuditRecordsRequest request;
    request.mutable_page()->set_page_size(1000);
    do {
      v1::ListAuditRecordsResponse page;
      const grpc::Status s = audit_->ListAuditRecords(
          As("Auditor A", "auditor", force, "DPA review").get(), request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      records.insert(records.end(), page.records().begin(), page.records().end());
      request.mutable_page()->set_page_token(page.next_page_token());
    } while (!request.page().page_token().empty());
    return records;
  }

  vigil::testing::TempDir dir_;
  VigildProcess vigild_{dir_.path()};
  std::unique_ptr<v1::OffenderService::Stub> offenders_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

TEST_F(AuditEndToEndTest, AReusedRequestIdIsNeverAnotherCallersReplayAndReplaysAreAudited) {
  const v1::CreateOffenderRequest alice = Registration("Alice Secret", "req-1");
  v1::Offender first;
  grpc::Status s = offenders_->CreateOffender(As("DC 100").get(), alice, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // DC 404 sends DC 100's request id: a registration of their own, nothing of Alice's.
  v1::Offender theirs;
  s = offenders_->CreateOffender(As("DC 404").get(), Registration("Bob Other", "req-1"), &theirs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(theirs.id(), first.id());
  EXPECT_EQ(theirs.display_name(), "Bob Other");
  EXPECT_THAT(theirs.DebugString(), Not(HasSubstr("Alice Secret")));

  // DC 100's own retry of the same request is answered from the store.
  v1::Offender again;
  s = offenders_->CreateOffender(As("DC 100").get(), alice, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.id(), first.id());

  // DC 100 reusing the id for another request is refused with nothing of the first.
  v1::Offender refused;
  s = offenders_->CreateOffender(As("DC 100").get(), Registration("Carol New", "req-1"), &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "request_id req-1 was already used for a different request; use a new request_id");
  EXPECT_THAT(s.error_details(), Not(HasSubstr("Alice")));

  // The log: DC 100's collection and replay of Alice's record; DC 404 never touched it.
  int collections = 0, replays = 0;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    const bool about_alice = std::find(r.subject_ids().begin(), r.subject_ids().end(),
                                       first.id()) != r.subject_ids().end();
    if (!about_alice) continue;
    EXPECT_NE(r.actor(), "DC 404");
    if (r.action() == v1::AUDIT_ACTION_COLLECTION) ++collections;
    if (r.replay()) {
      ++replays;
      EXPECT_EQ(r.actor(), "DC 100");
      EXPECT_EQ(r.action(), v1::AUDIT_ACTION_CONSULTATION);
      EXPECT_EQ(r.request_id(), "req-1");
      EXPECT_EQ(r.rpc(), "vigil.v1.OffenderService/CreateOffender");
    }
  }
  EXPECT_EQ(collections, 1);
  EXPECT_EQ(replays, 1);
}

}  // namespace
}  // namespace vigil
