#include "services/audit/audit_log.h"

#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_service.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.path = dir_.Sub("data");
    absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
    log_ = std::make_unique<AuditLog>(*store_);
  }

  static CallContext Call(std::string force, std::string actor = "Auditor A",
                          Role role = Role::kAuditor) {
    CallContext call;
    call.principal = Principal{std::move(actor), role, std::move(force)};
    call.purpose = "DPA compliance review";
    call.method = "vigil.v1.AuditService/ListAuditRecords";
    call.now = absl::FromUnixSeconds(1'800'000'000);
    return call;
  }

  // Records that `actor` of `force` consulted `subject` at `when`.
  void Consult(const std::string& force, const std::string& actor, const std::string& subject,
               absl::Time when) {
    CallContext call = Call(force, actor, Role::kOfficer);
    call.now = when;
    call.method = "vigil.v1.OffenderService/GetOffender";
    storage::Change change;
    change.SetAudit(call.Audit(v1::AUDIT_ACTION_CONSULTATION, {subject}));
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, ListsOnlyTheCallersForceBySubject) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  Consult("wessex", "DC 1", "offender/7", t0);
  Consult("mercia", "DC 2", "offender/7", t0);
  Consult("wessex", "DC 3", "offender/8", t0);
  Consult("wessex", "DC 3", "offender/7", t0 + absl::Hours(1));

  v1::ListAuditRecordsRequest request;
  request.set_subject_id("offender/7");
  absl::StatusOr<v1::ListAuditRecordsResponse> response = log_->List(Call("wessex"), request);
  ASSERT_THAT(response.status(), IsOk());
  ASSERT_EQ(response->records_size(), 2);
  EXPECT_EQ(response->records(0).actor(), "DC 1");
  EXPECT_EQ(response->records(0).sequence(), 1u);
  EXPECT_EQ(response->records(0).rpc(), "vigil.v1.OffenderService/GetOffender");
  EXPECT_EQ(response->records(0).hash().size(), 32u);
  EXPECT_EQ(response->records(1).actor(), "DC 3");
  EXPECT_EQ(response->records(1).previous_hash().size(), 32u);
}

TEST_F(AuditLogTest, TheNationalSecurityLogIsReadOnlyByTheNationalAuditor) {
  Consult("wessex", "DC 1", "offender/7", absl::FromUnixSeconds(1'700'000'000));
  CallContext prober = Call("mercia", "DC 9", Role::kOfficer);
  prober.method = "vigil.v1.OffenderService/GetOffender";
  storage::Change probe;
  probe.SetAudit(prober.Audit(v1::AUDIT_ACTION_CONSULTATION, {"offender/7"}, "not found in force",
                              v1::AUDIT_REFUSAL_OUT_OF_SCOPE, /*national_security=*/true));
  ASSERT_THAT(store_->Commit(probe).status(), IsOk());

  v1::ListAuditRecordsRequest request;
  request.set_national_security_log(true);
  EXPECT_THAT(log_->List(Call("wessex"), request),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("national-auditor")));
  absl::StatusOr<v1::ListAuditRecordsResponse> national =
      log_->List(Call("national", "NA 1", Role::kNationalAuditor), request);
  ASSERT_THAT(national.status(), IsOk());
  ASSERT_EQ(national->records_size(), 1);
  EXPECT_EQ(national->records(0).actor(), "DC 9");
  EXPECT_EQ(national->records(0).force(), "mercia");
  EXPECT_EQ(national->records(0).refusal(), v1::AUDIT_REFUSAL_OUT_OF_SCOPE);
  request.set_actor("DC 1");
  EXPECT_EQ(log_->List(Call("national", "NA 1", Role::kNationalAuditor), request)->records_size(),
            0);
  // The probe is in the prober's force's log too, and never in the probed force's.
  v1::ListAuditRecordsRequest mercia;
  mercia.set_actor("DC 9");
  EXPECT_EQ(log_->List(Call("mercia"), mercia)->records_size(), 1);
  EXPECT_EQ(log_->List(Call("wessex"), mercia)->records_size(), 0);
}

TEST_F(AuditLogTest, TheListingIsItselfAuditedWithTheSubjectsItDisclosed) {
  Consult("wessex", "DC 1", "offender/7", absl::FromUnixSeconds(1'700'000'000));
  v1::ListAuditRecordsRequest request;
  request.set_actor("DC 1");
  ASSERT_THAT(log_->List(Call("wessex"), request).status(), IsOk());

  v1::ListAuditRecordsRequest by_auditor;
  by_auditor.set_actor("Auditor A");
  absl::StatusOr<v1::ListAuditRecordsResponse> response = log_->List(Call("wessex"), by_auditor);
  ASSERT_THAT(response.status(), IsOk());
  ASSERT_EQ(response->records_size(), 1);
  const v1::AuditRecord& listing = response->records(0);
  EXPECT_EQ(listing.action(), v1::AUDIT_ACTION_CONSULTATION);
  EXPECT_EQ(listing.purpose(), "DPA compliance review");
  EXPECT_EQ(listing.role(), "auditor");
  EXPECT_THAT(listing.subject_ids(), ElementsAre("offender/7"));
}

TEST_F(AuditLogTest, PagesFollowEachOtherAndTokensAreBoundToTheirQuery) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < 7; ++i) Consult("wessex", "DC 1", "offender/1", t0 + absl::Minutes(i));
  v1::ListAuditRecordsRequest request;
  request.set_subject_id("offender/1");
  request.mutable_page()->set_page_size(3);
  std::vector<uint64_t> seen;
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<v1::ListAuditRecordsResponse> response = log_->List(Call("wessex"), request);
    ASSERT_THAT(response.status(), IsOk());
    for (const auto& record : response->records()) seen.push_back(record.sequence());
    if (response->next_page_token().empty()) break;
    request.mutable_page()->set_page_token(response->next_page_token());
  }
  // The seven consultations, then the listings of the first pages, which disclosed offender/1
  // and so are themselves indexed under it.
  ASSERT_GE(seen.size(), 7u);
  EXPECT_THAT(std::vector<uint64_t>(seen.begin(), seen.begin() + 7),
              ElementsAre(1, 2, 3, 4, 5, 6, 7));
  for (size_t i = 7; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);

  v1::ListAuditRecordsRequest first;
  first.set_subject_id("offender/1");
  first.mutable_page()->set_page_size(3);
  absl::StatusOr<v1::ListAuditRecordsResponse> page = log_->List(Call("wessex"), first);
  ASSERT_THAT(page.status(), IsOk());
  v1::ListAuditRecordsRequest other;
  other.set_subject_id("offender/2");
  other.mutable_page()->set_page_token(page->next_page_token());
  EXPECT_THAT(log_->List(Call("wessex"), other),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  // The same token in another force's hands is refused too.
  first.mutable_page()->set_page_token(page->next_page_token());
  EXPECT_THAT(log_->List(Call("mercia"), first), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditLogTest, TimeWindowIsHalfOpen) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < 4; ++i) Consult("wessex", "DC 1", "offender/1", t0 + absl::Hours(i));
  v1::ListAuditRecordsRequest request;
  request.set_subject_id("offender/1");
  *request.mutable_from() = ToProtoTime(t0 + absl::Hours(1));
  *request.mutable_to() = ToProtoTime(t0 + absl::Hours(3));
  absl::StatusOr<v1::ListAuditRecordsResponse> response = log_->List(Call("wessex"), request);
  ASSERT_THAT(response.status(), IsOk());
  ASSERT_EQ(response->records_size(), 2);
  EXPECT_EQ(response->records(0).sequence(), 2u);
  EXPECT_EQ(response->records(1).sequence(), 3u);
}

TEST_F(AuditLogTest, BadRequestsNameTheFieldAndWriteNothing) {
  v1::ListAuditRecordsRequest both;
  both.set_subject_id("offender/1");
  both.set_actor("DC 1");
  EXPECT_THAT(log_->List(Call("wessex"), both),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  v1::ListAuditRecordsRequest backwards;
  *backwards.mutable_from() = ToProtoTime(absl::FromUnixSeconds(2000));
  *backwards.mutable_to() = ToProtoTime(absl::FromUnixSeconds(1000));
  EXPECT_THAT(log_->List(Call("wessex"), backwards),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("to: is before from")));
  v1::ListAuditRecordsRequest negative;
  negative.mutable_page()->set_page_size(-5);
  EXPECT_THAT(log_->List(Call("wessex"), negative),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  EXPECT_EQ(store_->AuditHead(), 0u);
}

TEST_F(AuditLogTest, VerifyReportsAnIntactChain) {
  for (int i = 0; i < 3; ++i) Consult("wessex", "DC 1", "offender/1", absl::FromUnixSeconds(i));
  absl::StatusOr<v1::VerifyAuditChainResponse> response =
      log_->Verify(Call("wessex"), v1::VerifyAuditChainRequest());
  ASSERT_THAT(response.status(), IsOk());
  EXPECT_TRUE(response->ok());
  EXPECT_EQ(response->records_checked(), 3u);
  EXPECT_EQ(store_->AuditHead(), 4u);  // the verification is audited

  // Against a witness's checkpoints: the one that matches passes, another hash is a rewrite.
  VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<storage::StoredAuditRecord> second,
                             store_->Snapshot().AuditRecord(2));
  v1::VerifyAuditChainRequest witnessed;
  v1::AuditCheckpoint* checkpoint = witnessed.add_checkpoints();
  checkpoint->set_sequence(2);
  checkpoint->set_hash(second->hash);
  response = log_->Verify(Call("wessex"), witnessed);
  ASSERT_THAT(response.status(), IsOk());
  EXPECT_TRUE(response->ok());
  EXPECT_EQ(response->checkpoints_checked(), 1u);
  checkpoint->set_hash(std::string(32, 'x'));
  response = log_->Verify(Call("wessex"), witnessed);
  ASSERT_THAT(response.status(), IsOk());
  EXPECT_FALSE(response->ok());
  EXPECT_EQ(response->first_broken_sequence(), 2u);
  EXPECT_THAT(response->problem(), HasSubstr("rewritten"));
}

TEST(AuditServiceSpecs, EveryRpcDeclaresWhoMayCallIt) {
  const google::protobuf::ServiceDescriptor* service =
      v1::VerifyAuditChainRequest::descriptor()->file()->FindServiceByName("AuditService");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name = absl::StrCat(service->full_name(), "/", service->method(i)->name());
    bool declared = false;
    for (const RpcSpec& spec : AuditServiceImpl::Specs()) {
      if (spec.method == name) {
        declared = true;
        EXPECT_FALSE(spec.roles.empty()) << name << " admits nobody";
      }
    }
    EXPECT_TRUE(declared) << name << " has no RpcSpec";
  }
}

}  // namespace
}  // namespace vigil::audit
