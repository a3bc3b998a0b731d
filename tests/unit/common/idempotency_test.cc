#include "services/common/idempotency.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.pb.h"
#include "vigil/v1/rso.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class IdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.path = dir_.Sub("data");
    VIGIL_ASSERT_OK_AND_ASSIGN(store_, storage::Store::Open(options));
  }

  static CallContext Call(std::string actor = "DC 100", std::string force = "wessex",
                          std::string method = "vigil.v1.OffenderService/CreateOffender") {
    CallContext call;
    call.principal = Principal{std::move(actor), Role::kOfficer, std::move(force), "north"};
    call.purpose = "offender management";
    call.method = std::move(method);
    call.now = absl::FromUnixSeconds(1'800'000'000);
    return call;
  }

  static v1::CreateOffenderRequest Request(std::string name, std::string request_id = "req-1") {
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_display_name(std::move(name));
    request.set_request_id(std::move(request_id));
    return request;
  }

  // Stores `response` for `request` as a write would, in its own commit.
  void Store(const IdempotentRequest& request, absl::string_view response) {
    storage::Change change;
    StoreResponse("rso", request, response, change);
    VIGIL_ASSERT_OK(store_->Commit(change).status());
  }

  absl::StatusOr<std::optional<std::string>> Stored(const IdempotentRequest& request,
                                                    absl::string_view legacy_key = {}) {
    return StoredResponse(store_->Snapshot(), "rso", request, legacy_key);
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(IdempotencyTest, TheSameCallersSameRequestGetsTheStoredResponse) {
  const IdempotentRequest first = BindRequest(Call(), Request("Alice Secret"));
  EXPECT_EQ(first.request_id, "req-1");
  EXPECT_EQ(first.digest.size(), 32u);
  EXPECT_THAT(Stored(first), IsOk());
  EXPECT_EQ(*Stored(first), std::nullopt);
  Store(first, "the first response");
  EXPECT_THAT(*Stored(BindRequest(Call(), Request("Alice Secret"))),
              Optional(std::string("the first response")));
}

TEST_F(IdempotencyTest, TheDigestLeavesOutTheRequestIdAndCoversTheRpcAndBody) {
  const std::string digest = BindRequest(Call(), Request("A", "x")).digest;
  EXPECT_EQ(BindRequest(Call(), Request("A", "y")).digest, digest);
  EXPECT_NE(BindRequest(Call(), Request("B", "x")).digest, digest);
  EXPECT_NE(BindRequest(Call("DC 100", "wessex", "vigil.v1.OffenderService/UpdateOffender"),
                        Request("A", "x"))
                .digest,
            digest);
}

TEST_F(IdempotencyTest, TheSameIdWithAnotherRequestIsRefusedAndDisclosesNothing) {
  Store(BindRequest(Call(), Request("Alice Secret")), "Alice Secret's record");
  absl::StatusOr<std::optional<std::string>> other =
      Stored(BindRequest(Call(), Request("Someone Else")));
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kFailedPrecondition,
                              "request_id req-1 was already used for a different request; use a "
                              "new request_id"));
  EXPECT_THAT(Stored(BindRequest(
                  Call("DC 100", "wessex", "vigil.v1.AssessmentService/RecordArmsAssessment"),
                  Request("Alice Secret"))),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(IdempotencyTest, AnotherCallersSameIdIsAnotherKey) {
  Store(BindRequest(Call("DC 100"), Request("Alice Secret")), "Alice Secret's record");
  // DC 404 of the same force, even with DC 100's exact request: nothing stored for them.
  EXPECT_EQ(*Stored(BindRequest(Call("DC 404"), Request("Alice Secret"))), std::nullopt);
  // The same actor name in another force is another caller too.
  EXPECT_EQ(*Stored(BindRequest(Call("DC 100", "mercia"), Request("Alice Secret"))), std::nullopt);
  // And storing theirs does not collide with DC 100's.
  Store(BindRequest(Call("DC 404"), Request("Alice Secret")), "DC 404's record");
  EXPECT_THAT(*Stored(BindRequest(Call("DC 100"), Request("Alice Secret"))),
              Optional(std::string("Alice Secret's record")));
}

TEST_F(IdempotencyTest, AConcurrentFirstUseMakesTheSecondCommitAbort) {
  const IdempotentRequest request = BindRequest(Call(), Request("A"));
  storage::Change first, second;
  StoreResponse("rso", request, "one", first);
  StoreResponse("rso", request, "two", second);
  VIGIL_ASSERT_OK(store_->Commit(first).status());
  EXPECT_THAT(store_->Commit(second).status(), StatusIs(absl::StatusCode::kAborted));
}

TEST_F(IdempotencyTest, AnIdStoredBeforeBindingIsRefused) {
  storage::Change legacy;
  legacy.Put(storage::Family::kIndex, "legacy/wessex/req-1", "someone's response");
  VIGIL_ASSERT_OK(store_->Commit(legacy).status());
  EXPECT_THAT(Stored(BindRequest(Call(), Request("A")), "legacy/wessex/req-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("before request ids were bound to their caller")));
  EXPECT_EQ(*Stored(BindRequest(Call(), Request("A")), "legacy/wessex/other"), std::nullopt);
}

TEST_F(IdempotencyTest, NoRequestIdMeansNothingIsLookedUpOrStored) {
  const IdempotentRequest none = BindRequest(Call(), Request("A", ""));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(*Stored(none), std::nullopt);
  storage::Change change;
  StoreResponse("rso", none, "x", change);
  EXPECT_TRUE(change.empty());
}

TEST_F(IdempotencyTest, AReplayIsAuditedAsAConsultationMarkedAsAReplay) {
  const IdempotentRequest request = BindRequest(Call(), Request("A"));
  storage::AuditEntry entry = AuditReplay(Call(), request, {"R1"});
  v1::AuditRecord record;
  ASSERT_TRUE(record.ParseFromString(entry.body));
  EXPECT_EQ(record.action(), v1::AUDIT_ACTION_CONSULTATION);
  EXPECT_TRUE(record.replay());
  EXPECT_EQ(record.request_id(), "req-1");
  EXPECT_EQ(record.actor(), "DC 100");
  EXPECT_EQ(entry.force, "wessex");
  EXPECT_EQ(entry.subject_ids, std::vector<std::string>{"R1"});
}

TEST_F(IdempotencyTest, AnErasedResponseLeavesNothingButTheRefusalOfItsId) {
  v1::Offender alice;
  alice.set_id("ZQ1");
  alice.set_display_name("Alice Secret");
  const IdempotentRequest first = BindRequest(Call(), Request("Alice Secret"));
  Store(first, alice.SerializeAsString());
  const std::string key = IdempotencyKey("rso", first);
  std::optional<std::string> value = *store_->Snapshot().Get(storage::Family::kIndex, key);
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(absl::StartsWith(key, IdempotencyPrefix("rso", "wessex")));
  EXPECT_TRUE(StoredResponseHolds(*value, "ZQ1"));
  // Whole string fields only: a longer id or a prefix of it is another record.
  EXPECT_FALSE(StoredResponseHolds(*value, "ZQ"));
  EXPECT_FALSE(StoredResponseHolds(*value, "Q1"));
  EXPECT_FALSE(StoredResponseHolds(*value, "ZQ10"));

  const std::string erased = ErasedStoredResponse();
  EXPECT_FALSE(absl::StrContains(erased, "Alice"));
  EXPECT_FALSE(StoredResponseHolds(erased, "ZQ1"));
  storage::Change change;
  change.Put(storage::Family::kIndex, key, erased);
  VIGIL_ASSERT_OK(store_->Commit(change).status());
  EXPECT_THAT(Stored(first), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("concerned a record since erased")));
  // Nothing of the request stays either: any request with the id is refused the same way.
  EXPECT_EQ(erased.size(), 1u);
  EXPECT_THAT(Stored(BindRequest(Call(), Request("Someone Else"))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("since erased")));
}

}  // namespace
}  // namespace vigil
