// Retention and erasure end to end (issue #15 part 6): the real vigild and real gRPC clients.
// A record is due for review under the force's schedule, a review keeps it with a reason, and an
// erasure of a record no longer managed removes every byte of the subject's name from the whole
// data directory (tables, logs, everything) while vigild keeps serving: the feed keeps its
// sequences, the audit chain verifies, the erasure is in the log with its reason, and the
// caller's retries of earlier requests learn nothing of the erased record.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/obligations.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/retention.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::VigildProcess;

// Unique enough that no other byte sequence of a store could hold it by chance.
constexpr char kName[] = "Zebedee Quixotic-Marchbanks";
constexpr char kSurname[] = "Quixotic-Marchbanks";
constexpr char kReferralName[] = "Ottoline Vexborough";

// The files under `dir` holding `needle`.
std::vector<std::string> FilesHolding(const std::string& dir, absl::string_view needle) {
  std::vector<std::string> holding;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (absl::StrContains(bytes, needle)) holding.push_back(entry.path().filename().string());
  }
  return holding;
}

class RetentionEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(vigild_.Start(), IsOk());
    Connect();
  }

  // Stubs on vigild's current channel (a restart serves on a new port).
  void Connect() {
    offenders_ = v1::OffenderService::NewStub(vigild_.channel());
    visits_ = v1::VisitService::NewStub(vigild_.channel());
    referrals_ = v1::ReferralService::NewStub(vigild_.channel());
    retention_ = v1::RetentionService::NewStub(vigild_.channel());
    audit_ = v1::AuditService::NewStub(vigild_.channel());
    feed_ = v1::ObligationFeed::NewStub(vigild_.channel());
  }

  static std::unique_ptr<grpc::ClientContext> As(const std::string& actor, const std::string& role,
                                                 const std::string& purpose = "retention e2e",
                                                 const std::string& force = "wessex") {
    auto context = std::make_unique<grpc::ClientContext>();
    testing::AddIdentity(*context, {actor, role, force, purpose});
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return context;
  }
  static std::unique_ptr<grpc::ClientContext> Admin() { return As("FA 1", "force-admin"); }

  // The same request each time (a retry), registered 400 days before the test began.
  v1::CreateOffenderRequest Registration() const {
    v1::CreateOffenderRequest request;
    request.set_request_id("reg-zq");
    request.mutable_offender()->set_id("ZQ1");
    request.mutable_offender()->set_display_name(kName);
    request.mutable_offender()->set_owner_officer("DC 100");
    request.mutable_offender()->set_team("north");
    *request.mutable_offender()->mutable_registered_time() =
        ToProtoTime(started_ - absl::Hours(24 * 400));
    return request;
  }

  v1::ListDueForReviewResponse DueIn(absl::Duration from_now) {
    v1::ListDueForReviewRequest request;
    *request.mutable_as_of() = ToProtoTime(absl::Now() + from_now);
    v1::ListDueForReviewResponse response;
    const grpc::Status s = retention_->ListDueForReview(Admin().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  std::vector<v1::AuditRecord> AuditOf(const std::string& subject) {
    v1::ListAuditRecordsRequest request;
    request.set_subject_id(subject);
    request.mutable_page()->set_page_size(1000);
    v1::ListAuditRecordsResponse page;
    const grpc::Status s =
        audit_->ListAuditRecords(As("DPO 1", "auditor", "erasure check").get(), request, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {page.records().begin(), page.records().end()};
  }

  const absl::Time started_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  vigil::testing::TempDir dir_;
  VigildProcess vigild_{dir_.path()};
  std::unique_ptr<v1::OffenderService::Stub> offenders_;
  std::unique_ptr<v1::VisitService::Stub> visits_;
  std::unique_ptr<v1::ReferralService::Stub> referrals_;
  std::unique_ptr<v1::RetentionService::Stub> retention_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::ObligationFeed::Stub> feed_;
};

TEST_F(RetentionEndToEndTest, AnErasedOffendersNameIsNowhereInTheDataDirectory) {
  // Registered, visited, then deceased: the record stops being managed.
  v1::Offender offender;
  grpc::Status s =
      offenders_->CreateOffender(As("DC 100", "officer").get(), Registration(), &offender);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RecordVisitRequest visit;
  visit.set_request_id("visit-zq");
  visit.set_offender_id("ZQ1");
  *visit.mutable_visit_time() = ToProtoTime(absl::Now() - absl::Hours(24 * 10));
  visit.add_officers("DC 100");
  visit.set_outcome(v1::VISIT_OUTCOME_SEEN);
  visit.set_notes(absl::StrCat("Spoke with ", kName, " at home"));
  v1::Visit recorded;
  s = visits_->RecordVisit(As("DC 100", "officer").get(), visit, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Another force's offender with the same id (ids are unique only within a force).
  v1::CreateOffenderRequest theirs = Registration();
  theirs.mutable_offender()->set_display_name("Mercia Person");
  v1::Offender mercia;
  s = offenders_->CreateOffender(As("DC 100", "officer", "mercia check", "mercia").get(), theirs,
                                 &mercia);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Still managed: the erasure is refused, and the refusal is in the log.
  v1::EraseRecordRequest erase;
  erase.set_record_type(v1::RECORD_TYPE_OFFENDER);
  erase.set_record_id("ZQ1");
  erase.set_reason("MoPI review 2026/14: subject deceased, no public protection purpose remains");
  erase.set_request_id("erase-zq");
  v1::EraseRecordResponse erased;
  s = retention_->EraseRecord(Admin().get(), erase, &erased);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(),
              HasSubstr("offender ZQ1 is still managed (status OFFENDER_STATUS_ACTIVE_COMMUNITY)"));

  v1::Offender current;
  v1::GetOffenderRequest get;
  get.set_id("ZQ1");
  ASSERT_TRUE(offenders_->GetOffender(As("DC 100", "officer").get(), get, &current).ok());
  v1::UpdateOffenderRequest deceased;
  *deceased.mutable_offender() = current;
  deceased.mutable_offender()->set_status(v1::OFFENDER_STATUS_DECEASED);
  deceased.mutable_update_mask()->add_paths("status");
  deceased.set_request_id("deceased-zq");
  s = offenders_->UpdateOffender(As("DS 1", "supervisor").get(), deceased, &current);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(current.obligations_size(), 0);
  EXPECT_TRUE(current.retention().has_last_activity_time());

  // Group 1: due ten years after the last activity, not before.
  EXPECT_EQ(DueIn(absl::Hours(24 * 365 * 9)).records_size(), 0);
  v1::ListDueForReviewResponse due = DueIn(absl::Hours(24 * 366 * 10 + 48));
  ASSERT_EQ(due.records_size(), 1);
  EXPECT_EQ(due.records(0).record_id(), "ZQ1");
  EXPECT_EQ(due.records(0).display_name(), kName);
  EXPECT_EQ(due.records(0).group(), v1::RETENTION_GROUP_1);
  EXPECT_EQ(due.records(0).still_managed(), "");

  // A review keeps it, with a reason that must not carry the name, until the date it sets.
  v1::ReviewRecordRequest review;
  review.set_record_type(v1::RECORD_TYPE_OFFENDER);
  review.set_record_id("ZQ1");
  review.set_reason(absl::StrCat("keep ", kSurname, "'s file"));
  v1::RecordRetention kept;
  s = retention_->ReviewRecord(Admin().get(), review, &kept);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason: must not repeat the subject's name"));
  review.set_reason("inquest pending; review again in a year");
  *review.mutable_next_review_time() = ToProtoTime(absl::Now() + absl::Hours(24 * 365));
  s = retention_->ReviewRecord(Admin().get(), review, &kept);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(kept.review_time().seconds(), review.next_review_time().seconds());
  EXPECT_TRUE(kept.has_last_review_time());
  EXPECT_EQ(DueIn(absl::Hours(24 * 364)).records_size(), 0);
  EXPECT_EQ(DueIn(absl::Hours(24 * 366)).records_size(), 1);

  // Erasure: refused to an officer, and without a reason.
  s = retention_->EraseRecord(As("DC 100", "officer").get(), erase, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::EraseRecordRequest no_reason = erase;
  no_reason.clear_reason();
  s = retention_->EraseRecord(Admin().get(), no_reason, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason"));
  ASSERT_FALSE(FilesHolding(vigild_.data_dir(), kSurname).empty())
      << "the name must be on disk before the erasure, or the check below proves nothing";

  s = retention_->EraseRecord(Admin().get(), erase, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(erased.record_id(), "ZQ1");
  EXPECT_GE(erased.keys_removed(), 3);        // the record, its indexes, the visit, the history
  EXPECT_GE(erased.events_redacted(), 3);     // registration, visit, death
  EXPECT_GE(erased.responses_redacted(), 3);  // the three requests' stored answers
  EXPECT_TRUE(erased.compacted()) << erased.compaction_error();

  // Nothing of the name anywhere in the data directory, while vigild runs and after a restart.
  EXPECT_THAT(FilesHolding(vigild_.data_dir(), kSurname), ::testing::IsEmpty());
  ASSERT_THAT(vigild_.Restart(), IsOk());
  Connect();
  EXPECT_THAT(FilesHolding(vigild_.data_dir(), kSurname), ::testing::IsEmpty());

  // The record is gone; the caller's retries learn nothing of it.
  s = offenders_->GetOffender(As("DC 100", "officer").get(), get, &current);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = offenders_->CreateOffender(As("DC 100", "officer").get(), Registration(), &offender);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("since erased"));
  // The erasure's own retry returns its first answer.
  v1::EraseRecordResponse again;
  s = retention_->EraseRecord(Admin().get(), erase, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.keys_removed(), erased.keys_removed());
  EXPECT_TRUE(again.compacted());

  // Mercia's ZQ1 is untouched: its record, and its feed events (read by mercia's system).
  v1::Offender still;
  ASSERT_TRUE(
      offenders_->GetOffender(As("DC 100", "officer", "mercia check", "mercia").get(), get, &still)
          .ok());
  EXPECT_EQ(still.display_name(), "Mercia Person");
  {
    v1::WatchObligationsRequest watch;
    watch.set_context("rso");
    auto context = As("mercia-system", "system", "mercia check", "mercia");
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    auto reader = feed_->WatchObligations(context.get(), watch);
    v1::ObligationEvent event;
    int mercias = 0;
    while (reader->Read(&event)) {
      if (event.obligation().subject_id() == "ZQ1") ++mercias;
    }
    EXPECT_GT(mercias, 0) << "wessex's erasure redacted mercia's events";
  }

  // Wessex's feed, read from the start, names ZQ1 nowhere.
  {
    v1::WatchObligationsRequest watch;
    watch.set_context("rso");
    auto context = As("force-system", "system");
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    auto reader = feed_->WatchObligations(context.get(), watch);
    v1::ObligationEvent event;
    while (reader->Read(&event)) EXPECT_NE(event.obligation().subject_id(), "ZQ1");
  }

  // The log keeps the erasure (with its reason, by the force-admin) and the refusal, and the
  // chain still verifies.
  bool erasure = false, refusal = false;
  for (const v1::AuditRecord& r : AuditOf("ZQ1")) {
    EXPECT_THAT(r.DebugString(), ::testing::Not(HasSubstr(kSurname)));
    if (r.action() != v1::AUDIT_ACTION_ERASURE) continue;
    EXPECT_EQ(r.actor(), "FA 1");
    EXPECT_EQ(r.reason(), erase.reason());
    if (r.outcome().empty()) erasure = true;
    if (absl::StrContains(r.outcome(), "still managed")) refusal = true;
  }
  EXPECT_TRUE(erasure);
  EXPECT_TRUE(refusal);
  v1::VerifyAuditChainResponse verified;
  s = audit_->VerifyAuditChain(As("DPO 1", "auditor", "erasure check").get(),
                               v1::VerifyAuditChainRequest(), &verified);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(verified.ok()) << verified.problem();

  // The store itself: the rso feed keeps every sequence from 1 to its head, and exactly the
  // events the erasure counted are redacted.
  ASSERT_THAT(vigild_.Stop(SIGTERM).status(), IsOk());
  storage::StoreOptions options;
  options.path = vigild_.data_dir();
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
  ASSERT_THAT(store.status(), IsOk());
  absl::StatusOr<std::vector<storage::FeedEvent>> events =
      (*store)->Snapshot().ReadEvents("rso", 0, 100000);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_EQ(events->size(), (*store)->EventHead("rso"));
  int redacted = 0;
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].sequence, i + 1) << "a gap in the feed";
    v1::ObligationEventBatch batch;
    ASSERT_TRUE(batch.ParseFromString((*events)[i].payload));
    if (batch.redacted()) ++redacted;
  }
  EXPECT_EQ(redacted, erased.events_redacted());
}

TEST_F(RetentionEndToEndTest, AClosedReferralIsErasedAndAnOpenOneIsNot) {
  v1::CreateReferralRequest create;
  create.set_request_id("ref-ov");
  create.mutable_referral()->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
  *create.mutable_referral()->mutable_received_time() =
      ToProtoTime(absl::Now() - absl::Hours(24 * 3));
  create.mutable_referral()->set_subject_display_name(kReferralName);
  v1::SubjectIdentifier* account = create.mutable_referral()->add_identifiers();
  account->set_type(v1::IDENTIFIER_TYPE_ACCOUNT);
  account->set_value("vexborough.ottoline.77");
  v1::Referral referral;
  grpc::Status s = referrals_->CreateReferral(As("DC 9", "officer").get(), create, &referral);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::EraseRecordRequest erase;
  erase.set_record_type(v1::RECORD_TYPE_REFERRAL);
  erase.set_record_id(referral.id());
  erase.set_reason("MoPI review: no further action, clear period passed");
  erase.set_request_id("erase-ov");
  v1::EraseRecordResponse erased;
  s = retention_->EraseRecord(Admin().get(), erase, &erased);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("is still open (state REFERRAL_STATE_RECEIVED)"));

  v1::CloseReferralRequest close;
  close.set_id(referral.id());
  close.set_outcome(v1::REFERRAL_OUTCOME_NO_FURTHER_ACTION);
  close.set_reason("no offence disclosed");
  s = referrals_->CloseReferral(As("DS 1", "supervisor").get(), close, &referral);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Through the CLI, as a force-admin would: Group 2 by default, due ten years after it closed.
  const testing::Identity admin{"FA 1", "force-admin", "wessex", "MoPI review 2026/15"};
  testing::RunResult listed = testing::RunVigil(
      vigild_.address(), {"retention", "due", "--type", "referral", "--as-of", "+3655d"}, admin);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr(referral.id()));
  EXPECT_THAT(listed.output, HasSubstr("1 records due for review"));
  listed = testing::RunVigil(vigild_.address(), {"retention", "due", "--as-of", "+3000d"}, admin);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("0 records due for review"));

  // Two pages of one: the second page follows the first's as_of and order.
  {
    v1::Offender other;
    ASSERT_TRUE(
        offenders_->CreateOffender(As("DC 100", "officer").get(), Registration(), &other).ok());
    v1::ListDueForReviewRequest paged;
    *paged.mutable_as_of() = ToProtoTime(absl::Now() + absl::Hours(24 * 366 * 10 + 48));
    paged.mutable_page()->set_page_size(1);
    std::vector<std::string> ids;
    do {
      v1::ListDueForReviewResponse page;
      const grpc::Status listed_page = retention_->ListDueForReview(Admin().get(), paged, &page);
      ASSERT_TRUE(listed_page.ok()) << listed_page.error_message();
      for (const v1::RecordRetention& r : page.records()) ids.push_back(r.record_id());
      paged.mutable_page()->set_page_token(page.next_page_token());
    } while (!paged.page().page_token().empty() && ids.size() < 5);
    EXPECT_THAT(ids, ::testing::UnorderedElementsAre("ZQ1", referral.id()));
    // Without an as_of the token carries the first page's now.
    paged.clear_as_of();
    paged.mutable_page()->clear_page_token();
    v1::ListDueForReviewResponse none;
    ASSERT_TRUE(retention_->ListDueForReview(Admin().get(), paged, &none).ok());
    EXPECT_EQ(none.records_size(), 0);
  }

  ASSERT_FALSE(FilesHolding(vigild_.data_dir(), "Vexborough").empty());
  testing::RunResult result =
      testing::RunVigil(vigild_.address(),
                        {"retention", "erase", "referral", referral.id(), "--reason",
                         "MoPI review: no further action, clear period passed"},
                        admin);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr(absl::StrCat("referral ", referral.id(), " erased")));
  EXPECT_THAT(result.output, HasSubstr("no file of the data directory holds the erased data"));
  EXPECT_THAT(FilesHolding(vigild_.data_dir(), "Vexborough"), ::testing::IsEmpty());
  EXPECT_THAT(FilesHolding(vigild_.data_dir(), "vexborough.ottoline"), ::testing::IsEmpty());
  // The same command again returns the first answer (its default request id).
  result = testing::RunVigil(vigild_.address(),
                             {"retention", "erase", "referral", referral.id(), "--reason",
                              "MoPI review: no further action, clear period passed"},
                             admin);
  EXPECT_EQ(result.exit_code, 0) << result.output;

  // The queue's counts no longer include it.
  v1::CountReferralsResponse counts;
  s = referrals_->CountReferrals(As("DS 1", "supervisor").get(), v1::CountReferralsRequest(),
                                 &counts);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(counts.counts_size(), 0) << counts.DebugString();
}

TEST_F(RetentionEndToEndTest, BadRequestsNameTheFieldAndEveryRpcNeedsAPurpose) {
  v1::EraseRecordRequest erase;
  erase.set_record_id("NOPE");
  erase.set_reason("r");
  erase.set_request_id("e1");
  v1::EraseRecordResponse erased;
  grpc::Status s = retention_->EraseRecord(Admin().get(), erase, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("record_type"));
  erase.set_record_type(v1::RECORD_TYPE_OFFENDER);
  erase.clear_request_id();
  s = retention_->EraseRecord(Admin().get(), erase, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("request_id"));
  erase.set_request_id("e1");
  s = retention_->EraseRecord(Admin().get(), erase, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ReviewRecordRequest review;
  review.set_record_type(v1::RECORD_TYPE_OFFENDER);
  review.set_record_id("NOPE");
  review.set_reason("r");
  v1::RecordRetention kept;
  s = retention_->ReviewRecord(As("FA 1", "force-admin", "").get(), review, &kept);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("x-vigil-purpose"));

  // A review date in the past, or past the group's interval.
  v1::Offender offender;
  ASSERT_TRUE(
      offenders_->CreateOffender(As("DC 100", "officer").get(), Registration(), &offender).ok());
  review.set_record_id("ZQ1");
  *review.mutable_next_review_time() = ToProtoTime(absl::Now() - absl::Hours(1));
  s = retention_->ReviewRecord(Admin().get(), review, &kept);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("next_review_time: must be after now"));
  *review.mutable_next_review_time() = ToProtoTime(absl::Now() + absl::Hours(24 * 366 * 11));
  s = retention_->ReviewRecord(Admin().get(), review, &kept);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Pages: a token from another query is refused.
  v1::ListDueForReviewRequest list;
  list.mutable_page()->set_page_token("garbage");
  v1::ListDueForReviewResponse due;
  s = retention_->ListDueForReview(Admin().get(), list, &due);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
}

}  // namespace
}  // namespace vigil
