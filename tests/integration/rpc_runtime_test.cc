// RpcRuntime over a real store and in-process gRPC (the access log's service, whose listing is
// closed to officers): how Admit's refusals are audited and answered.
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/rpc.h"
#include "services/common/server.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;

class RpcRuntimeTest : public vigil::testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    notifier_.Attach(*store_);
    log_ = std::make_unique<audit::AuditLog>(*store_);
    RpcRuntimeOptions options;
    options.audit_store = store_.get();
    runtime_ = std::make_unique<RpcRuntime>(auth_, executor_, clock_, options);
    service_ = std::make_unique<audit::AuditServiceImpl>(*runtime_, *log_, notifier_);
    ServerOptions server;
    server.listen = "127.0.0.1:0";
    VIGIL_ASSERT_OK_AND_ASSIGN(
        host_,
        ServerHost::Start(server, {{v1::AuditService::service_full_name(), service_.get()}}));
    stub_ = v1::AuditService::NewStub(host_->InProcessChannel());
  }

  void TearDown() override {
    host_->Shutdown(absl::ZeroDuration());
    executor_.Shutdown();
  }

  FeedNotifier notifier_;
  DevHeaderAuthenticator auth_;
  Executor executor_{2, 100};
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<RpcRuntime> runtime_;
  std::unique_ptr<audit::AuditServiceImpl> service_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

// gRPC's thread only queues the refusal's audit record (Store::CommitAsync): it never waits for
// an fsync, so a flood of refused calls cannot hold the threads that receive every call. The
// answer comes from that commit, never before the record is durable. Here the store's committer
// is held in a callback: a thread that committed the record itself would answer at once.
TEST_F(RpcRuntimeTest, ARefusalIsAnsweredFromTheCommitOfItsAuditRecord) {
  absl::Notification holding;
  absl::Notification release;
  storage::Change hold;
  hold.Put(storage::Family::kEntities, "test/hold", "1");
  store_->CommitAsync(std::move(hold), [&](const absl::StatusOr<storage::CommitResult>&) {
    holding.Notify();
    release.WaitForNotification();
  });
  holding.WaitForNotification();
  const uint64_t before = store_->AuditHead();

  grpc::ClientContext context;
  context.AddMetadata("x-vigil-actor", "DC 100");
  context.AddMetadata("x-vigil-role", "officer");
  context.AddMetadata("x-vigil-force", "wessex");
  context.AddMetadata("x-vigil-purpose", "rpc runtime test");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ListAuditRecordsRequest request;
  v1::ListAuditRecordsResponse response;
  grpc::Status status;
  absl::Notification answered;
  stub_->async()->ListAuditRecords(&context, &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    answered.Notify();
  });
  EXPECT_FALSE(answered.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "answered while the committer was held: gRPC's thread committed the audit record "
         "itself ("
      << status.error_message() << ")";
  EXPECT_EQ(store_->AuditHead(), before) << "an audit record committed around the held committer";

  release.Notify();
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  ASSERT_EQ(store_->AuditHead(), before + 1);
  const v1::AuditRecord record = AuditRecordAt(before + 1);
  EXPECT_EQ(record.refusal(), v1::AUDIT_REFUSAL_ROLE);
  EXPECT_EQ(record.actor(), "DC 100");
  EXPECT_THAT(record.outcome(), HasSubstr("ListAuditRecords"));
}

}  // namespace
}  // namespace vigil
