// The audit trail end to end (issue #15): the real vigild and a real gRPC client. A request id
// is its caller's own: another officer reusing it never receives the first officer's record, the
// owner's replay is answered from the store and audited, and the id with another request is
// refused.
#include <signal.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "base/crypto/jwt.h"
#include "base/crypto/signature.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
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
    // (The alerts engine's following of Alice's clocks is filed here too, under itself.)
    if (r.action() == v1::AUDIT_ACTION_COLLECTION && r.actor() == "DC 100") ++collections;
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

// The real person through every hop, and vigild's own work under each force it concerns
// (issue #15 part 3): an alert stream records each page it delivers with what it discloses; a
// supervisor's backlog read reaches the owning context under the supervisor, relayed by vigild;
// the alerts engine's records sit in each force's own log, as `system`; and the force name of
// vigild's store-wide records cannot be claimed.
TEST_F(AuditEndToEndTest, EveryHopIsRecordedUnderThePersonAndVigildsWorkUnderEachForce) {
  // One offender in each force, registered long ago: their clocks are overdue at once, so the
  // alerts engine raises alerts in both forces.
  auto long_ago = [](v1::CreateOffenderRequest request) {
    request.mutable_offender()->mutable_registered_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 800)));
    return request;
  };
  v1::Offender wendy, mark;
  grpc::Status s = offenders_->CreateOffender(As("DC 100").get(),
                                              long_ago(Registration("Wendy Westgate", "")), &wendy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = offenders_->CreateOffender(As("DC 7", "officer", "mercia").get(),
                                 long_ago(Registration("Mark Marsh", "")), &mark);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // A supervisor follows wessex's alert stream until Wendy's first alert arrives.
  std::set<std::string> streamed;
  {
    std::unique_ptr<grpc::ClientContext> context = As("DS Holt", "supervisor");
    auto reader = v1::AlertService::NewStub(vigild_.channel())
                      ->Subscribe(context.get(), v1::SubscribeRequest());
    v1::AlertEvent event;
    while (reader->Read(&event)) {
      streamed.insert(event.alert().id());
      EXPECT_EQ(event.alert().force(), "wessex");
      if (event.alert().obligation().subject_id() == wendy.id()) break;
    }
    context->TryCancel();
    reader->Finish();
  }
  ASSERT_FALSE(streamed.empty());

  // The same supervisor reads the backlog's items: the backlog asks the owners for them.
  auto backlog = v1::BacklogService::NewStub(vigild_.channel());
  v1::ListBacklogItemsResponse items;
  s = backlog->ListBacklogItems(As("DS Holt", "supervisor").get(), v1::ListBacklogItemsRequest(),
                                &items);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(items.items_size(), 0);

  auto names = [](const v1::AuditRecord& r, const std::string& subject) {
    return std::find(r.subject_ids().begin(), r.subject_ids().end(), subject) !=
           r.subject_ids().end();
  };
  std::set<std::string> delivered;
  bool owner_read_under_supervisor = false, engine_named_wendy = false;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    EXPECT_FALSE(absl::StartsWith(r.actor(), "backlog for")) << r.DebugString();
    EXPECT_FALSE(names(r, mark.id())) << "a mercia subject in wessex's log: " << r.DebugString();
    if (r.actor() == "DS Holt" && r.rpc() == "vigil.v1.AlertService/Subscribe") {
      delivered.insert(r.subject_ids().begin(), r.subject_ids().end());
    }
    if (r.actor() == "DS Holt" && r.rpc() == "vigil.v1.ObligationFeed/ListOverdue") {
      EXPECT_EQ(r.role(), "supervisor");
      EXPECT_EQ(r.via(), "vigild");
      EXPECT_EQ(r.purpose(), "audit e2e");
      owner_read_under_supervisor = true;
    }
    if (r.actor() == "vigild alerts") {
      EXPECT_EQ(r.role(), "system");
      EXPECT_EQ(r.force(), "wessex");
      engine_named_wendy |= names(r, wendy.id());
    }
  }
  // Every alert streamed was recorded as delivered to the subscriber, with its subject.
  for (const std::string& id : streamed) EXPECT_TRUE(delivered.contains(id)) << id;
  EXPECT_TRUE(delivered.contains(wendy.id()));
  EXPECT_TRUE(owner_read_under_supervisor);
  EXPECT_TRUE(engine_named_wendy);

  // Mercia's log holds the engine's work on Mark, and nothing of Wendy.
  bool engine_named_mark = false;
  for (int attempt = 0; attempt < 100 && !engine_named_mark; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(100));
    for (const v1::AuditRecord& r : AuditOf("mercia")) {
      EXPECT_FALSE(names(r, wendy.id())) << r.DebugString();
      if (r.actor() == "vigild alerts" && r.role() == "system" && names(r, mark.id())) {
        engine_named_mark = true;
      }
    }
  }
  EXPECT_TRUE(engine_named_mark);

  // No caller can claim the force of vigild's store-wide records to read them.
  v1::ListAuditRecordsResponse all;
  s = audit_->ListAuditRecords(As("Auditor A", "auditor", "all", "DPA review").get(),
                               v1::ListAuditRecordsRequest(), &all);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("reserved to vigild's own services"));
}

// vigild with a low read limit, so that a burst of reads is refused.
class AuditRefusalsEndToEndTest : public AuditEndToEndTest {
 protected:
  void SetUp() override {
    ASSERT_THAT(vigild_.Start({"--read-rate", "1", "--read-burst", "4"}), IsOk());
    offenders_ = v1::OffenderService::NewStub(vigild_.channel());
    audit_ = v1::AuditService::NewStub(vigild_.channel());
  }

  static std::unique_ptr<grpc::ClientContext> Officer(const std::string& actor,
                                                      const std::string& team,
                                                      const std::string& force = "wessex",
                                                      const std::string& purpose = "audit e2e") {
    auto context = As(actor, "officer", force, purpose);
    context->AddMetadata("x-vigil-team", team);
    return context;
  }

  grpc::Status Get(std::unique_ptr<grpc::ClientContext> context, const std::string& id) {
    v1::GetOffenderRequest request;
    request.set_id(id);
    v1::Offender offender;
    return offenders_->GetOffender(context.get(), request, &offender);
  }

  // The national security log, read by a national auditor.
  std::vector<v1::AuditRecord> NationalLog() {
    v1::ListAuditRecordsRequest request;
    request.set_national_security_log(true);
    request.mutable_page()->set_page_size(1000);
    v1::ListAuditRecordsResponse page;
    const grpc::Status s = audit_->ListAuditRecords(
        As("NA 1", "national-auditor", "national", "security review").get(), request, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return std::vector<v1::AuditRecord>(page.records().begin(), page.records().end());
  }
};

bool Has(const std::vector<v1::AuditRecord>& records, const std::string& actor,
         v1::AuditRefusal kind, const std::string& subject = "") {
  for (const v1::AuditRecord& r : records) {
    if (r.actor() != actor || r.refusal() != kind || r.outcome().empty()) continue;
    if (subject.empty() || std::find(r.subject_ids().begin(), r.subject_ids().end(), subject) !=
                               r.subject_ids().end()) {
      return true;
    }
  }
  return false;
}

TEST_F(AuditRefusalsEndToEndTest, EveryKindOfRefusalIsInTheLog) {
  v1::CreateOffenderRequest create = Registration("Dana Kept", "");
  create.mutable_offender()->set_id("R1");
  v1::Offender created;
  grpc::Status s = offenders_->CreateOffender(As("PS 1", "supervisor").get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Role: an officer may not read the access log.
  v1::ListAuditRecordsResponse page;
  EXPECT_EQ(
      audit_
          ->ListAuditRecords(Officer("DC 100", "north").get(), v1::ListAuditRecordsRequest(), &page)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Purpose: personal data without x-vigil-purpose.
  EXPECT_EQ(Get(Officer("DC 100", "north", "wessex", ""), "R1").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Scope: another team's record, and a probe from another force.
  EXPECT_EQ(Get(Officer("DC 200", "south"), "R1").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status probe = Get(Officer("DC 9", "north", "mercia"), "R1");
  EXPECT_EQ(probe.error_code(), grpc::StatusCode::NOT_FOUND);
  // The prober learns nothing beyond what any unknown id answers.
  const grpc::Status unknown = Get(Officer("DC 9", "north", "mercia"), "NO-SUCH");
  EXPECT_EQ(probe.error_message(),
            absl::StrReplaceAll(unknown.error_message(), {{"NO-SUCH", "R1"}}));
  // Unauthenticated, with a subject to name: a malformed identity.
  auto bad = As("DC 666", "chief-constable");
  EXPECT_EQ(Get(std::move(bad), "R1").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Rate limited: reads beyond the burst.
  grpc::Status limited;
  for (int i = 0; i < 20 && limited.ok(); ++i) limited = Get(Officer("DC 100", "north"), "R1");
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  const std::vector<v1::AuditRecord> wessex = AuditOf("wessex");
  EXPECT_TRUE(Has(wessex, "DC 100", v1::AUDIT_REFUSAL_ROLE));
  EXPECT_TRUE(Has(wessex, "DC 100", v1::AUDIT_REFUSAL_PURPOSE_MISSING));
  EXPECT_TRUE(Has(wessex, "DC 200", v1::AUDIT_REFUSAL_OUT_OF_SCOPE, "R1"));
  EXPECT_TRUE(Has(wessex, "DC 100", v1::AUDIT_REFUSAL_RATE_LIMITED));
  // The probe is in the prober's force and in the national security log, not in wessex's.
  EXPECT_FALSE(Has(wessex, "DC 9", v1::AUDIT_REFUSAL_OUT_OF_SCOPE));
  EXPECT_TRUE(Has(AuditOf("mercia"), "DC 9", v1::AUDIT_REFUSAL_OUT_OF_SCOPE, "R1"));
  const std::vector<v1::AuditRecord> national = NationalLog();
  EXPECT_TRUE(Has(national, "DC 9", v1::AUDIT_REFUSAL_OUT_OF_SCOPE, "R1"));
  EXPECT_TRUE(Has(national, "DC 9", v1::AUDIT_REFUSAL_OUT_OF_SCOPE, "NO-SUCH"));
  EXPECT_TRUE(Has(national, "DC 666", v1::AUDIT_REFUSAL_UNAUTHENTICATED));
  for (const v1::AuditRecord& r : national) {
    EXPECT_TRUE(r.national_security());
    // Neither the probe's record nor anything else there says whether R1 exists.
    EXPECT_THAT(r.outcome(), Not(HasSubstr("Dana")));
    EXPECT_NE(r.actor(), "PS 1");
  }
  // Only the national auditor reads it.
  v1::ListAuditRecordsRequest national_request;
  national_request.set_national_security_log(true);
  EXPECT_EQ(audit_
                ->ListAuditRecords(As("Auditor A", "auditor", "wessex", "DPA review").get(),
                                   national_request, &page)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// vigild with an audit witness: a directory and an Ed25519 key outside the data directory.
class AuditWitnessEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::GenerateEd25519Key();
    ASSERT_THAT(key.status(), IsOk());
    ASSERT_THAT(WritePrivateFile(key_path_, *crypto::PrivateKeyToPem(**key)), IsOk());
    public_key_ = *crypto::ReadPublicKeyPem(*crypto::PublicKeyToPem(**key));
  }

  testing::RunResult RunVigild(std::vector<std::string> args) {
    const std::vector<std::string> base = {testing::VigildPath(), "--data-dir", dir_.Sub("data"),
                                           "--listen", "127.0.0.1:0"};
    args.insert(args.begin(), base.begin(), base.end());
    absl::StatusOr<testing::RunResult> result = testing::Run(args, absl::Seconds(30));
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : testing::RunResult{};
  }

  vigil::testing::TempDir dir_;
  std::string key_path_ = dir_.Sub("audit-signing.key");
  crypto::EvpPkeyPtr public_key_;
};

TEST_F(AuditWitnessEndToEndTest, AMissingOrMisplacedWitnessIsRefusedAtStartup) {
  const testing::RunResult missing =
      RunVigild({"--audit-witness-dir", dir_.Sub("no-such-dir"), "--audit-signing-key", key_path_});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("--audit-witness-dir: " + dir_.Sub("no-such-dir") +
                                        " is not a directory: create it"));
  const testing::RunResult no_key = RunVigild({"--audit-witness-dir", dir_.path()});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.output, HasSubstr("give --audit-signing-key too"));
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("data")), IsOk());
  const testing::RunResult inside =
      RunVigild({"--audit-witness-dir", dir_.Sub("data"), "--audit-signing-key", key_path_});
  EXPECT_EQ(inside.exit_code, 2);
  EXPECT_THAT(inside.output, HasSubstr("must live outside it"));
}

TEST_F(AuditWitnessEndToEndTest, VigildAppendsSignedCheckpointsOfTheChainHead) {
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("witness")), IsOk());
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start({"--audit-witness-dir", dir_.Sub("witness"), "--audit-signing-key",
                            key_path_, "--audit-checkpoint-records", "1"}),
              IsOk());
  auto offenders = v1::OffenderService::NewStub(vigild.channel());
  for (int i = 0; i < 3; ++i) {
    v1::Offender created;
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_display_name(absl::StrCat("Person ", i));
    request.mutable_offender()->set_owner_officer("DC 100");
    request.mutable_offender()->set_team("north");
    request.mutable_offender()->mutable_registered_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 30)));
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("x-vigil-actor", "PS 1");
    context->AddMetadata("x-vigil-role", "supervisor");
    context->AddMetadata("x-vigil-force", "wessex");
    context->AddMetadata("x-vigil-purpose", "witness e2e");
    ASSERT_TRUE(offenders->CreateOffender(context.get(), request, &created).ok());
  }
  ASSERT_THAT(vigild.Stop(SIGTERM).status(), IsOk());  // a last checkpoint of the final head
  absl::StatusOr<std::string> witness = ReadSmallFile(dir_.Sub("witness/audit-checkpoints.log"));
  ASSERT_THAT(witness.status(), IsOk());
  std::vector<std::string> lines = absl::StrSplit(*witness, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  // Each line is signed: "vigil-audit-checkpoint v1 SEQ HASH TIME SIGNATURE".
  uint64_t last = 0;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ');
    ASSERT_EQ(fields.size(), 6u) << line;
    const size_t cut = line.rfind(' ');
    EXPECT_THAT(crypto::VerifyEd25519(*public_key_, line.substr(0, cut),
                                      *crypto::Base64UrlDecode(fields[5])),
                IsOk());
    last = std::stoull(fields[2]);
  }
  EXPECT_GE(last, 3u);
  // Without a witness, vigild warns at startup.
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("plain")), IsOk());
  VigildProcess unwitnessed(dir_.Sub("plain"));
  ASSERT_THAT(unwitnessed.Start(), IsOk());
  EXPECT_THAT(unwitnessed.log(), HasSubstr("--audit-witness-dir is not set"));
}

TEST_F(AuditWitnessEndToEndTest, VerifyWithTheWitnessCatchesAWholeStoreRewrite) {
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("witness")), IsOk());
  const std::string public_key = dir_.Sub("audit-signing.pub");
  ASSERT_THAT(WritePrivateFile(public_key, *crypto::PublicKeyToPem(*public_key_)), IsOk());
  auto register_three = [](VigildProcess& vigild, const std::string& prefix) {
    auto offenders = v1::OffenderService::NewStub(vigild.channel());
    for (int i = 0; i < 3; ++i) {
      v1::CreateOffenderRequest request;
      request.mutable_offender()->set_display_name(absl::StrCat(prefix, " ", i));
      request.mutable_offender()->set_owner_officer("DC 100");
      request.mutable_offender()->set_team("north");
      request.mutable_offender()->mutable_registered_time()->set_seconds(
          absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 30)));
      grpc::ClientContext context;
      context.AddMetadata("x-vigil-actor", "PS 1");
      context.AddMetadata("x-vigil-role", "supervisor");
      context.AddMetadata("x-vigil-force", "wessex");
      context.AddMetadata("x-vigil-purpose", "witness e2e");
      v1::Offender created;
      EXPECT_TRUE(offenders->CreateOffender(&context, request, &created).ok());
    }
  };
  const testing::Identity auditor("Auditor A", "auditor", "wessex", "DPA check");
  const std::vector<std::string> verify = {
      "audit", "verify", "--witness", dir_.Sub("witness"), "--public-key", public_key};

  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("original")), IsOk());
  VigildProcess original(dir_.Sub("original"));
  ASSERT_THAT(original.Start({"--audit-witness-dir", dir_.Sub("witness"), "--audit-signing-key",
                              key_path_, "--audit-checkpoint-records", "1"}),
              IsOk());
  register_three(original, "Genuine");
  ASSERT_THAT(original.Stop(SIGTERM).status(), IsOk());
  ASSERT_THAT(original.Start(
                  {"--audit-witness-dir", dir_.Sub("witness"), "--audit-signing-key", key_path_}),
              IsOk());
  const testing::RunResult intact = testing::RunVigil(original.address(), verify, auditor);
  EXPECT_EQ(intact.exit_code, 0) << intact.output;
  EXPECT_THAT(intact.output, HasSubstr("signed witness checkpoints match"));
  ASSERT_THAT(original.Stop(SIGTERM).status(), IsOk());

  // The forgery: a store whose every record and hash, and its head, were written afresh. Its own
  // chain verifies; against the witness it does not.
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("forged")), IsOk());
  VigildProcess forged(dir_.Sub("forged"));
  ASSERT_THAT(forged.Start(), IsOk());
  register_three(forged, "Forged");
  const testing::RunResult chain_only =
      testing::RunVigil(forged.address(), {"audit", "verify"}, auditor);
  EXPECT_EQ(chain_only.exit_code, 0) << chain_only.output;
  const testing::RunResult caught = testing::RunVigil(forged.address(), verify, auditor);
  EXPECT_EQ(caught.exit_code, 1) << caught.output;
  EXPECT_THAT(caught.output, HasSubstr("audit chain BROKEN at record "));
  EXPECT_THAT(caught.output, HasSubstr(": witness checkpoint "));

  // An edited witness line is refused before anything is sent.
  absl::StatusOr<std::string> lines = ReadSmallFile(dir_.Sub("witness/audit-checkpoints.log"));
  ASSERT_THAT(lines.status(), IsOk());
  std::string edited = *lines;
  edited[std::string("vigil-audit-checkpoint v1 ").size()] = '7';
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("edited")), IsOk());
  ASSERT_THAT(WritePrivateFile(dir_.Sub("edited/audit-checkpoints.log"), edited), IsOk());
  const testing::RunResult refused = testing::RunVigil(
      forged.address(),
      {"audit", "verify", "--witness", dir_.Sub("edited"), "--public-key", public_key}, auditor);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("witness line 1"));
}

}  // namespace
}  // namespace vigil
