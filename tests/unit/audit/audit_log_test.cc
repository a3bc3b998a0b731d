#include "services/audit/audit_log.h"

#include "base/proto_time.h"
#include "base/status_macros.h"
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

  // DC 9 of mercia asking for offender/7, not in their force: a refusal in the national
  // security log.
  void RecordCrossForceProbe() {
    CallContext prober = Call("mercia", "DC 9", Role::kOfficer);
    prober.method = "vigil.v1.OffenderService/GetOffender";
    storage::Change probe;
    probe.SetAudit(prober.Audit(v1::AUDIT_ACTION_CONSULTATION, {"offender/7"}, "not found in force",
                                v1::AUDIT_REFUSAL_OUT_OF_SCOPE, /*national_security=*/true));
    ASSERT_THAT(store_->Commit(probe).status(), IsOk());
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
  ASSERT_NO_FATAL_FAILURE(RecordCrossForceProbe());

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

// Every record an export yields, batch by batch, and the batches' sizes.
struct Exported {
  std::vector<v1::AuditRecord> records;
  std::vector<int> batch_sizes;
};

absl::StatusOr<Exported> ExportAll(AuditLog& log, const CallContext& call,
                                   const v1::ExportAuditRecordsRequest& request) {
  VIGIL_ASSIGN_OR_RETURN(const AuditFilter filter, DecodeFilter(request));
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<AuditExport> exporter, log.StartExport(call, filter));
  Exported exported;
  uint64_t after = 0;
  for (;;) {
    VIGIL_ASSIGN_OR_RETURN(AuditExport::Batch batch, exporter->Next(after, call.now));
    EXPECT_GE(batch.cursor, after);
    after = batch.cursor;
    if (batch.response.records_size() > 0) {
      exported.batch_sizes.push_back(batch.response.records_size());
    }
    for (v1::AuditRecord& r : *batch.response.mutable_records()) {
      exported.records.push_back(std::move(r));
    }
    if (batch.done) return exported;
  }
}

// The records of `force`'s log from `after` on (sequence > after), listed in full.
std::vector<v1::AuditRecord> RecordsAfter(storage::Store& store, uint64_t after) {
  std::vector<v1::AuditRecord> records;
  const storage::ReadView view = store.Snapshot();
  for (uint64_t seq = after + 1; seq <= store.AuditHead(); ++seq) {
    absl::StatusOr<std::optional<storage::StoredAuditRecord>> stored = view.AuditRecord(seq);
    EXPECT_TRUE(stored.ok() && stored->has_value());
    if (!stored.ok() || !stored->has_value()) break;
    v1::AuditRecord& record = records.emplace_back();
    EXPECT_TRUE(record.ParseFromString((*stored)->body));
  }
  return records;
}

CallContext Exporter(std::string force = "wessex", std::string actor = "DPO 1",
                     Role role = Role::kAuditor) {
  CallContext call;
  call.principal = Principal{std::move(actor), role, std::move(force)};
  call.purpose = "subject access request SAR-42";
  call.method = "vigil.v1.AuditService/ExportAuditRecords";
  call.now = absl::FromUnixSeconds(1'800'000'000);
  return call;
}

TEST_F(AuditLogTest, ASubjectAccessExportYieldsEveryAccessOldestFirstInBoundedBatches) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  const int kAccesses = 2 * AuditExport::kBatchRecords + 17;
  for (int i = 0; i < kAccesses; ++i) {
    Consult("wessex", absl::StrCat("DC ", i % 7), "offender/1", t0 + absl::Seconds(i));
    if (i % 100 == 0) Consult("wessex", "DC 1", "offender/2", t0 + absl::Seconds(i));
  }
  // A refusal recorded against the subject belongs to its access history too.
  CallContext refused = Call("wessex", "DC 200", Role::kOfficer);
  refused.method = "vigil.v1.OffenderService/GetOffender";
  storage::Change change;
  change.SetAudit(refused.Audit(v1::AUDIT_ACTION_CONSULTATION, {"offender/1"},
                                "outside team south's caseload", v1::AUDIT_REFUSAL_OUT_OF_SCOPE));
  ASSERT_THAT(store_->Commit(change).status(), IsOk());
  const uint64_t head = store_->AuditHead();

  v1::ExportAuditRecordsRequest request;
  request.set_subject_id("offender/1");
  VIGIL_ASSERT_OK_AND_ASSIGN(Exported exported, ExportAll(*log_, Exporter(), request));
  ASSERT_EQ(exported.records.size(), static_cast<size_t>(kAccesses + 1));
  EXPECT_THAT(exported.batch_sizes,
              ElementsAre(AuditExport::kBatchRecords, AuditExport::kBatchRecords, 18));
  for (size_t i = 1; i < exported.records.size(); ++i) {
    EXPECT_LT(exported.records[i - 1].sequence(), exported.records[i].sequence());
  }
  for (const v1::AuditRecord& r : exported.records) {
    EXPECT_THAT(r.subject_ids(), ::testing::Contains("offender/1"));
    EXPECT_EQ(r.hash().size(), 32u);
  }
  EXPECT_EQ(exported.records.back().refusal(), v1::AUDIT_REFUSAL_OUT_OF_SCOPE);
  EXPECT_EQ(exported.records.back().actor(), "DC 200");

  // The export is in the log: first its request, naming the filter and the subject, then one
  // disclosure per batch naming the subjects it disclosed; none of them in the export itself.
  const std::vector<v1::AuditRecord> after = RecordsAfter(*store_, head);
  ASSERT_EQ(after.size(), 4u);
  for (const v1::AuditRecord& r : after) {
    EXPECT_EQ(r.action(), v1::AUDIT_ACTION_DISCLOSURE);
    EXPECT_EQ(r.actor(), "DPO 1");
    EXPECT_EQ(r.rpc(), "vigil.v1.AuditService/ExportAuditRecords");
    EXPECT_EQ(r.purpose(), "subject access request SAR-42");
    EXPECT_EQ(r.export_filter(), "subject_id=offender/1");
    EXPECT_THAT(r.subject_ids(), ElementsAre("offender/1"));
  }
  // And a DPO listing the subject's accesses later sees the export among them.
  v1::ListAuditRecordsRequest list;
  list.set_actor("DPO 1");
  absl::StatusOr<v1::ListAuditRecordsResponse> listed = log_->List(Call("wessex"), list);
  ASSERT_THAT(listed.status(), IsOk());
  EXPECT_EQ(listed->records_size(), 4);
}

TEST_F(AuditLogTest, AnExportIsTheLogAsItStoodWhenItBegan) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < 3; ++i) Consult("wessex", "DC 1", "offender/1", t0 + absl::Minutes(i));
  VIGIL_ASSERT_OK_AND_ASSIGN(const AuditFilter filter,
                             DecodeFilter(v1::ExportAuditRecordsRequest()));
  VIGIL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AuditExport> exporter,
                             log_->StartExport(Exporter(), filter));
  Consult("wessex", "DC 1", "offender/1", t0 + absl::Minutes(10));  // after the export began
  VIGIL_ASSERT_OK_AND_ASSIGN(AuditExport::Batch batch,
                             exporter->Next(0, absl::FromUnixSeconds(1'800'000'100)));
  EXPECT_TRUE(batch.done);
  ASSERT_EQ(batch.response.records_size(), 3);
  EXPECT_EQ(batch.response.records(2).sequence(), 3u);
  EXPECT_EQ(RecordsAfter(*store_, 3).front().export_filter(), "every record");
}

TEST_F(AuditLogTest, AnExportOfAnUnknownSubjectIsEmptyAndStillAudited) {
  Consult("wessex", "DC 1", "offender/1", absl::FromUnixSeconds(1'700'000'000));
  v1::ExportAuditRecordsRequest request;
  request.set_subject_id("offender/none");
  *request.mutable_from() = ToProtoTime(absl::FromUnixSeconds(1'600'000'000));
  VIGIL_ASSERT_OK_AND_ASSIGN(Exported exported, ExportAll(*log_, Exporter(), request));
  EXPECT_TRUE(exported.records.empty());
  const std::vector<v1::AuditRecord> after = RecordsAfter(*store_, 1);
  ASSERT_EQ(after.size(), 1u);  // the request; no batch disclosed anything
  EXPECT_EQ(after[0].export_filter(), "subject_id=offender/none from=2020-09-13T12:26:40Z");
  EXPECT_THAT(after[0].subject_ids(), ElementsAre("offender/none"));
}

TEST_F(AuditLogTest, AnExportReadsOnlyTheCallersForce) {
  Consult("wessex", "DC 1", "offender/7", absl::FromUnixSeconds(1'700'000'000));
  Consult("mercia", "DC 2", "offender/8", absl::FromUnixSeconds(1'700'000'000));
  v1::ExportAuditRecordsRequest request;
  request.set_subject_id("offender/7");
  VIGIL_ASSERT_OK_AND_ASSIGN(Exported mercia, ExportAll(*log_, Exporter("mercia"), request));
  EXPECT_TRUE(mercia.records.empty());
  VIGIL_ASSERT_OK_AND_ASSIGN(Exported all,
                             ExportAll(*log_, Exporter("mercia"), v1::ExportAuditRecordsRequest()));
  for (const v1::AuditRecord& r : all.records) EXPECT_EQ(r.force(), "mercia");
  EXPECT_EQ(all.records.front().actor(), "DC 2");
}

TEST_F(AuditLogTest, TheNationalLogIsExportedOnlyByTheNationalAuditorAndRefusalsAreAudited) {
  ASSERT_NO_FATAL_FAILURE(RecordCrossForceProbe());
  v1::ExportAuditRecordsRequest request;
  request.set_national_security_log(true);
  for (Role role : {Role::kAuditor, Role::kForceAdmin}) {
    const uint64_t head = store_->AuditHead();
    EXPECT_THAT(ExportAll(*log_, Exporter("wessex", "DPO 1", role), request),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("national-auditor")));
    const std::vector<v1::AuditRecord> refusal = RecordsAfter(*store_, head);
    ASSERT_EQ(refusal.size(), 1u);
    EXPECT_EQ(refusal[0].refusal(), v1::AUDIT_REFUSAL_ROLE);
    EXPECT_EQ(refusal[0].rpc(), "vigil.v1.AuditService/ExportAuditRecords");
  }
  VIGIL_ASSERT_OK_AND_ASSIGN(
      Exported national,
      ExportAll(*log_, Exporter("national", "NA 1", Role::kNationalAuditor), request));
  ASSERT_EQ(national.records.size(), 1u);
  EXPECT_EQ(national.records[0].actor(), "DC 9");
}

TEST_F(AuditLogTest, ExportFiltersAreCheckedAsTheListingsAre) {
  v1::ExportAuditRecordsRequest both;
  both.set_subject_id("offender/1");
  both.set_actor("DC 1");
  EXPECT_THAT(DecodeFilter(both),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  v1::ExportAuditRecordsRequest backwards;
  *backwards.mutable_from() = ToProtoTime(absl::FromUnixSeconds(2000));
  *backwards.mutable_to() = ToProtoTime(absl::FromUnixSeconds(1000));
  EXPECT_THAT(DecodeFilter(backwards),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("to: is before from")));
  v1::ExportAuditRecordsRequest window;
  window.set_actor("DC 1");
  *window.mutable_from() = ToProtoTime(absl::FromUnixSeconds(1000));
  *window.mutable_to() = ToProtoTime(absl::FromUnixSeconds(2000));
  VIGIL_ASSERT_OK_AND_ASSIGN(const AuditFilter filter, DecodeFilter(window));
  EXPECT_EQ(filter.Describe(), "actor=DC 1 from=1970-01-01T00:16:40Z to=1970-01-01T00:33:20Z");
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
