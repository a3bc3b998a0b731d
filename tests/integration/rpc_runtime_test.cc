// RpcRuntime over a real store and in-process gRPC (the access log's service, whose listing is
// closed to officers): how Admit's refusals are audited and answered.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
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

// A refused call in flight: an officer listing the access log (closed to officers).
struct RefusedCall {
  grpc::ClientContext context;
  v1::ListAuditRecordsRequest request;
  v1::ListAuditRecordsResponse response;
  grpc::Status status;
  absl::Notification answered;

  RefusedCall(v1::AuditService::Stub& stub, const std::string& actor) {
    context.AddMetadata("x-vigil-actor", actor);
    context.AddMetadata("x-vigil-role", "officer");
    context.AddMetadata("x-vigil-force", "wessex");
    context.AddMetadata("x-vigil-purpose", "rpc runtime test");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stub.async()->ListAuditRecords(&context, &request, &response, [this](grpc::Status s) {
      status = std::move(s);
      answered.Notify();
    });
  }
  // A test that failed part-way leaves calls unanswered: the callback must not outlive this.
  ~RefusedCall() {
    if (answered.HasBeenNotified()) return;
    context.TryCancel();
    answered.WaitForNotification();
  }
};

// Holds the store's committer in a commit callback until released: a change queued with
// CommitAsync then waits, where a thread committing its own change would lead its group itself.
class HeldCommitter {
 public:
  explicit HeldCommitter(storage::Store& store) {
    storage::Change hold;
    hold.Put(storage::Family::kEntities, "test/hold", "1");
    store.CommitAsync(std::move(hold), [this](const absl::StatusOr<storage::CommitResult>&) {
      holding_.Notify();
      release_.WaitForNotification();
    });
    holding_.WaitForNotification();
  }
  ~HeldCommitter() { Release(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  absl::Notification holding_;
  absl::Notification release_;
};

// gRPC's thread only queues the refusal's audit record (Store::CommitAsync): it never waits for
// an fsync, so a flood of refused calls cannot hold the threads that receive every call. The
// answer comes from that commit, never before the record is durable. Here the store's committer
// is held: a thread that committed the record itself would answer at once.
TEST_F(RpcRuntimeTest, ARefusalIsAnsweredFromTheCommitOfItsAuditRecord) {
  HeldCommitter held(*store_);
  const uint64_t before = store_->AuditHead();

  RefusedCall call(*stub_, "DC 100");
  EXPECT_FALSE(call.answered.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "answered while the committer was held: gRPC's thread committed the audit record "
         "itself ("
      << call.status.error_message() << ")";
  EXPECT_EQ(store_->AuditHead(), before) << "an audit record committed around the held committer";
  EXPECT_EQ(runtime_->in_flight(), 1) << "a call waiting for its audit record is in flight";

  held.Release();
  ASSERT_TRUE(call.answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << call.status.error_message();
  ASSERT_EQ(store_->AuditHead(), before + 1);
  const v1::AuditRecord record = AuditRecordAt(before + 1);
  EXPECT_EQ(record.refusal(), v1::AUDIT_REFUSAL_ROLE);
  EXPECT_EQ(record.actor(), "DC 100");
  EXPECT_THAT(record.outcome(), HasSubstr("ListAuditRecords"));
  EXPECT_TRUE(runtime_->WaitIdle(absl::Seconds(10))) << runtime_->in_flight() << " still in flight";
}

// A stream is refused the same way (AdmitStream): ExportAuditRecords, closed to officers, ends
// only once the refusal's audit record is committed.
TEST_F(RpcRuntimeTest, ARefusedStreamEndsFromTheCommitOfItsAuditRecord) {
  HeldCommitter held(*store_);
  const uint64_t before = store_->AuditHead();

  grpc::ClientContext context;
  context.AddMetadata("x-vigil-actor", "DC 100");
  context.AddMetadata("x-vigil-role", "officer");
  context.AddMetadata("x-vigil-force", "wessex");
  context.AddMetadata("x-vigil-purpose", "rpc runtime test");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status;
  absl::Notification ended;
  std::thread reader([&] {
    std::unique_ptr<grpc::ClientReader<v1::ExportAuditRecordsResponse>> stream =
        stub_->ExportAuditRecords(&context, v1::ExportAuditRecordsRequest());
    v1::ExportAuditRecordsResponse page;
    while (stream->Read(&page)) {
    }
    status = stream->Finish();
    ended.Notify();
  });
  EXPECT_FALSE(ended.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "ended while the committer was held: gRPC's thread committed the audit record itself ("
      << status.error_message() << ")";
  EXPECT_EQ(store_->AuditHead(), before);

  held.Release();
  EXPECT_TRUE(ended.WaitForNotificationWithTimeout(absl::Seconds(60)));
  if (!ended.HasBeenNotified()) context.TryCancel();
  reader.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  ASSERT_EQ(store_->AuditHead(), before + 1);
  EXPECT_EQ(AuditRecordAt(before + 1).refusal(), v1::AUDIT_REFUSAL_ROLE);
  EXPECT_TRUE(runtime_->WaitIdle(absl::Seconds(10))) << runtime_->in_flight() << " still in flight";
}

// At most as many refused calls wait for their audit records as the pool holds (2 workers and
// 100 queued here); the rest are committed by the receiving thread, waiting, so a flood queues
// no more than that. Every one is answered once its record is committed.
TEST_F(RpcRuntimeTest, RefusedCallsBeyondThePoolsCapacityWaitOnTheReceivingThread) {
  const size_t capacity = executor_.capacity();
  HeldCommitter held(*store_);
  const uint64_t before = store_->AuditHead();

  std::vector<std::unique_ptr<RefusedCall>> calls;
  for (size_t i = 0; i < capacity + 3; ++i) {
    calls.push_back(std::make_unique<RefusedCall>(*stub_, absl::StrCat("DC ", i)));
  }
  // Every call reaches the server within moments; those over the cap block their thread.
  for (int i = 0; i < 200 && static_cast<size_t>(runtime_->in_flight()) < capacity; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(static_cast<size_t>(runtime_->in_flight()), capacity);
  for (const auto& call : calls) EXPECT_FALSE(call->answered.HasBeenNotified());

  held.Release();
  for (const auto& call : calls) {
    ASSERT_TRUE(call->answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_EQ(call->status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(store_->AuditHead(), before + capacity + 3);
  EXPECT_TRUE(runtime_->WaitIdle(absl::Seconds(10))) << runtime_->in_flight() << " still in flight";
}

}  // namespace
}  // namespace vigil
