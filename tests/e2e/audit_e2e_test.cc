// The audit trail end to end (issue #15): the real vigild and a real gRPC client. A request id
// is its caller's own: another officer reusing it never receives the first officer's record, the
// owner's replay is answered from the store and audited, and the id with another request is
// refused. Exports and subject access requests through the real CLI, and an export of 100,000
// records in bounded memory.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/crypto/jwt.h"
#include "base/crypto/signature.h"
#include "base/files.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "storage/store.h"
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
    testing::AddIdentity(*context, {actor, role, force, purpose});
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
  // Incrementally: from after the witness's latest checkpoint, or from a record with a
  // checkpoint before it; a record with none before it is refused naming the field.
  std::vector<std::string> incremental = verify;
  incremental.insert(incremental.end(), {"--from", "latest"});
  const testing::RunResult latest = testing::RunVigil(original.address(), incremental, auditor);
  EXPECT_EQ(latest.exit_code, 0) << latest.output;
  EXPECT_THAT(latest.output, HasSubstr("records verified from record "));
  // The first checkpoint's record + 1 ("vigil-audit-checkpoint v1 SEQUENCE ...").
  absl::StatusOr<std::string> witnessed = ReadSmallFile(dir_.Sub("witness/audit-checkpoints.log"));
  ASSERT_THAT(witnessed.status(), IsOk());
  const std::vector<std::string> first_line = absl::StrSplit(*witnessed, ' ');
  ASSERT_GE(first_line.size(), 3u);
  uint64_t first_checkpoint = 0;
  ASSERT_TRUE(absl::SimpleAtoi(first_line[2], &first_checkpoint));
  incremental.back() = absl::StrCat(first_checkpoint + 1);
  const testing::RunResult from_first = testing::RunVigil(original.address(), incremental, auditor);
  EXPECT_EQ(from_first.exit_code, 0) << from_first.output;
  EXPECT_THAT(from_first.output,
              HasSubstr(absl::StrCat("records verified from record ", first_checkpoint + 1)));
  incremental.back() = "999999";
  const testing::RunResult unanchored = testing::RunVigil(original.address(), incremental, auditor);
  EXPECT_NE(unanchored.exit_code, 0) << unanchored.output;
  EXPECT_THAT(unanchored.output, HasSubstr("from_sequence"));
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
  std::vector<std::string> forged_latest = verify;
  forged_latest.insert(forged_latest.end(), {"--from", "latest"});
  const testing::RunResult caught_incrementally =
      testing::RunVigil(forged.address(), forged_latest, auditor);
  EXPECT_EQ(caught_incrementally.exit_code, 1) << caught_incrementally.output;
  EXPECT_THAT(caught_incrementally.output, HasSubstr("audit chain BROKEN at record "));

  // An edited witness line is refused before anything is sent.
  absl::StatusOr<std::string> lines = ReadSmallFile(dir_.Sub("witness/audit-checkpoints.log"));
  ASSERT_THAT(lines.status(), IsOk());
  std::string edited = *lines;
  // The first checkpoint's sequence, another digit in its first place (whatever it was).
  char& digit = edited[std::string("vigil-audit-checkpoint v1 ").size()];
  digit = digit == '7' ? '8' : '7';
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("edited")), IsOk());
  ASSERT_THAT(WritePrivateFile(dir_.Sub("edited/audit-checkpoints.log"), edited), IsOk());
  const testing::RunResult refused = testing::RunVigil(
      forged.address(),
      {"audit", "verify", "--witness", dir_.Sub("edited"), "--public-key", public_key}, auditor);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("witness line 1"));
}

// The records of an export written by `vigil audit export` as JSON lines.
std::vector<v1::AuditRecord> ReadJsonLines(const std::string& path) {
  std::vector<v1::AuditRecord> records;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::string line;
  while (std::getline(in, line)) {
    v1::AuditRecord& record = records.emplace_back();
    const auto parsed = google::protobuf::util::JsonStringToMessage(line, &record);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString() << ": " << line.substr(0, 200);
  }
  return records;
}

bool Names(const v1::AuditRecord& record, const std::string& subject) {
  return std::find(record.subject_ids().begin(), record.subject_ids().end(), subject) !=
         record.subject_ids().end();
}

class AuditExportEndToEndTest : public AuditEndToEndTest {
 protected:
  // Registers R1 in team north, read by its officer three times and refused to an officer of
  // another team once.
  void RegisterAndReadR1() {
    v1::CreateOffenderRequest create = Registration("Erin Exported", "");
    create.mutable_offender()->set_id("R1");
    v1::Offender created;
    grpc::Status s = offenders_->CreateOffender(As("PS 1", "supervisor").get(), create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::GetOffenderRequest get;
    get.set_id("R1");
    for (int i = 0; i < 3; ++i) {
      auto officer = As("DC 100");
      officer->AddMetadata("x-vigil-team", "north");
      v1::Offender read;
      s = offenders_->GetOffender(officer.get(), get, &read);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    auto outsider = As("DC 200");
    outsider->AddMetadata("x-vigil-team", "south");
    v1::Offender refused;
    ASSERT_EQ(offenders_->GetOffender(outsider.get(), get, &refused).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  testing::RunResult Export(std::vector<std::string> args, const testing::Identity& who = kDpo) {
    args.insert(args.begin(), {"audit", "export"});
    return testing::RunVigil(vigild_.address(), std::move(args), who);
  }

  // The status an export stream ends with, called directly.
  grpc::Status ExportStatus(const v1::ExportAuditRecordsRequest& request) {
    auto context = As("DPO 1", "auditor", "wessex", "SAR-17");
    auto reader = audit_->ExportAuditRecords(context.get(), request);
    v1::ExportAuditRecordsResponse batch;
    while (reader->Read(&batch)) {
    }
    return reader->Finish();
  }

  // The export records `actor` left in wessex's log.
  std::vector<v1::AuditRecord> ExportsBy(const std::string& actor) {
    std::vector<v1::AuditRecord> exports;
    for (const v1::AuditRecord& r : AuditOf("wessex")) {
      if (r.actor() == actor && r.rpc() == "vigil.v1.AuditService/ExportAuditRecords") {
        exports.push_back(r);
      }
    }
    return exports;
  }

  static inline const testing::Identity kDpo{"DPO 1", "auditor", "wessex", "SAR-17"};
};

TEST_F(AuditExportEndToEndTest, ASubjectAccessRequestListsEveryAccessToTheSubjectOldestFirst) {
  ASSERT_NO_FATAL_FAILURE(RegisterAndReadR1());
  const std::string jsonl = dir_.Sub("r1.jsonl");
  const testing::RunResult result = Export({"--subject", "R1", "--output", jsonl});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::vector<v1::AuditRecord> records = ReadJsonLines(jsonl);
  EXPECT_THAT(result.output,
              HasSubstr(absl::StrCat("exported ", records.size(), " records to ", jsonl)));
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_TRUE(Names(records[i], "R1"));
    EXPECT_EQ(records[i].hash().size(), 32u);
    if (i > 0) {
      EXPECT_LT(records[i - 1].sequence(), records[i].sequence());
    }
  }
  // The people's accesses, in order (vigild's own records about R1 may sit between them).
  std::vector<v1::AuditRecord> people;
  for (const v1::AuditRecord& r : records) {
    if (r.actor() == "PS 1" || r.actor() == "DC 100" || r.actor() == "DC 200") people.push_back(r);
  }
  ASSERT_EQ(people.size(), 5u);
  EXPECT_EQ(people[0].actor(), "PS 1");
  EXPECT_EQ(people[0].action(), v1::AUDIT_ACTION_COLLECTION);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(people[i].actor(), "DC 100");
    EXPECT_EQ(people[i].action(), v1::AUDIT_ACTION_CONSULTATION);
  }
  EXPECT_EQ(people[4].actor(), "DC 200");
  EXPECT_EQ(people[4].refusal(), v1::AUDIT_REFUSAL_OUT_OF_SCOPE);

  // The same as CSV: a header, then one row per record, in the same order; and now also the
  // first export's two records (its request and its batch), which disclosed R1's history.
  const std::string csv = dir_.Sub("r1.csv");
  const testing::RunResult as_csv = Export({"--subject", "R1", "-o", "csv", "--output", csv});
  ASSERT_EQ(as_csv.exit_code, 0) << as_csv.output;
  absl::StatusOr<std::string> text = ReadSmallFile(csv);
  ASSERT_THAT(text.status(), IsOk());
  const std::vector<std::string> rows = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 1 + records.size() + 2) << *text;
  EXPECT_THAT(rows.back(), HasSubstr(",DPO 1,auditor,wessex,"));
  // The batch disclosed R1 and whatever else its records name (the alerts engine's records
  // about R1 name its alerts too).
  EXPECT_THAT(rows.back(), ::testing::ContainsRegex(",disclosure,([^,]*;)?R1(;[^,]*)?,SAR-17,"));
  EXPECT_THAT(rows[0], ::testing::StartsWith("sequence,time,actor,role,force,"));
  EXPECT_THAT(rows[1], ::testing::StartsWith(absl::StrCat(records[0].sequence(), ",")));
  const auto refusal_row = std::find_if(rows.begin(), rows.end(), [](const std::string& row) {
    return absl::StrContains(row, ",DC 200,officer,wessex,south,");
  });
  ASSERT_NE(refusal_row, rows.end()) << *text;
  EXPECT_THAT(*refusal_row, HasSubstr(",out-of-scope,"));

  // Each export is in the log before anything was sent, naming the filter and the subject, and
  // then once per batch with the subjects it disclosed: a DPO sees who exported whose history.
  const std::vector<v1::AuditRecord> exports = ExportsBy("DPO 1");
  ASSERT_EQ(exports.size(), 4u);  // two exports: request and one batch each
  for (const v1::AuditRecord& r : exports) {
    EXPECT_EQ(r.action(), v1::AUDIT_ACTION_DISCLOSURE);
    EXPECT_EQ(r.export_filter(), "subject_id=R1");
    EXPECT_EQ(r.purpose(), "SAR-17");
    EXPECT_TRUE(Names(r, "R1"));
  }
}

TEST_F(AuditExportEndToEndTest, BadRequestsAreRefusedClearlyAndRefusalsAudited) {
  ASSERT_NO_FATAL_FAILURE(RegisterAndReadR1());

  // A reversed time range: the server names `to`; the CLI says so before asking.
  v1::ExportAuditRecordsRequest reversed;
  *reversed.mutable_from() = ToProtoTime(absl::FromUnixSeconds(1'800'000'000));
  *reversed.mutable_to() = ToProtoTime(absl::FromUnixSeconds(1'700'000'000));
  grpc::Status status = ExportStatus(reversed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "to: is before from");
  testing::RunResult result = Export({"--from", "2026-02-01", "--to", "2026-01-01"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--to: is before --from"));

  // Subject and actor together: refused by the server as by `audit list`, and by the CLI.
  v1::ExportAuditRecordsRequest both;
  both.set_subject_id("R1");
  both.set_actor("DC 100");
  status = ExportStatus(both);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("subject_id"));
  EXPECT_EQ(Export({"--subject", "R1", "--actor", "DC 100"}).exit_code, 2);

  // An unknown subject: an empty export, exit 0, and still in the log.
  const std::string unknown = dir_.Sub("unknown.jsonl");
  result = Export({"--subject", "NO-SUCH", "--output", unknown});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("exported 0 records"));
  EXPECT_TRUE(ReadJsonLines(unknown).empty());
  std::vector<v1::AuditRecord> exports = ExportsBy("DPO 1");
  ASSERT_EQ(exports.size(), 1u);
  EXPECT_EQ(exports[0].export_filter(), "subject_id=NO-SUCH");

  // Another force's records cannot be asked for: the export reads the caller's force only.
  const std::string mercia = dir_.Sub("mercia.jsonl");
  result = Export({"--subject", "R1", "--output", mercia},
                  testing::Identity("DPO 9", "auditor", "mercia", "SAR-17"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(ReadJsonLines(mercia).empty());
  // The national security log is for the national auditor: refused and audited.
  result = Export({"--national"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.output, HasSubstr("PERMISSION_DENIED: national_security_log"));
  // So is any role but auditor, force-admin and national-auditor.
  result = Export({"--subject", "R1"}, testing::Identity("DC 100", "officer", "wessex", "curious"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.output, HasSubstr("PERMISSION_DENIED"));
  exports = ExportsBy("DPO 1");
  ASSERT_EQ(exports.size(), 2u);
  EXPECT_EQ(exports[1].refusal(), v1::AUDIT_REFUSAL_ROLE);
  bool officer_refused = false;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    officer_refused = officer_refused || (r.actor() == "DC 100" &&
                                          r.rpc() == "vigil.v1.AuditService/ExportAuditRecords" &&
                                          r.refusal() == v1::AUDIT_REFUSAL_ROLE);
  }
  EXPECT_TRUE(officer_refused);

  // A bad --output path and a format other than jsonl or csv: bad usage, nothing asked.
  result = Export({"--subject", "R1", "--output", dir_.Sub("no-such-dir/r1.jsonl")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output,
              HasSubstr("--output " + dir_.Sub("no-such-dir/r1.jsonl") + ": cannot create"));
  EXPECT_THAT(result.output, HasSubstr("No such file or directory"));
  result = Export({"--subject", "R1", "-o", "json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("jsonl"));
  EXPECT_EQ(ExportsBy("DPO 1").size(), 2u);
}

// Writes `count` consultations of wessex's offenders straight into the store at `path` (no
// vigild running), from 16 threads so that they group-commit; each a second after the last
// from `start`. Their sequences are 1..count.
absl::Status SeedAuditLog(const std::string& path, int count, absl::Time start) {
  storage::StoreOptions options;
  options.path = path;
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(options));
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<absl::Status> failed(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < count && failed[t].ok(); i += kThreads) {
        v1::AuditRecord record;
        *record.mutable_time() = ToProtoTime(start + absl::Seconds(i));
        record.set_actor(absl::StrCat("DC ", 100 + i % 40));
        record.set_role("officer");
        record.set_force("wessex");
        record.set_team(i % 2 == 0 ? "north" : "south");
        record.set_rank("officer");
        record.set_action(v1::AUDIT_ACTION_CONSULTATION);
        record.add_subject_ids(absl::StrCat("R", i % 2000));
        // Purposes and reasons as long as people write them (each at most 500 characters).
        record.set_purpose(absl::StrCat(
            "MAPPA level 2 meeting ", i % 365,
            ": review of the risk management plan, the home visit schedule and the device "
            "checks before the next unannounced visit; the offender reported a change of "
            "address and a new partner with two children in the household, so the ARMS "
            "reassessment is brought forward and children's social care asked for a check; "
            "the sergeant asked for the last three visit records and the intelligence refresh "
            "notes to be read before the multi-agency meeting on Thursday morning"));
        record.set_cross_team_reason(
            "covering the north team's caseload while its offender manager is on leave, as "
            "agreed with the duty inspector for the week");
        record.set_request_id(absl::StrCat("req-", i));
        record.set_rpc("vigil.v1.OffenderService/GetOffender");
        storage::AuditEntry entry;
        entry.force = record.force();
        entry.actor = record.actor();
        entry.subject_ids = {record.subject_ids().begin(), record.subject_ids().end()};
        entry.body = record.SerializeAsString();
        storage::Change change;
        change.SetAudit(std::move(entry));
        failed[t] = store->Commit(change).status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& s : failed) VIGIL_RETURN_IF_ERROR(s);
  return store->Close();
}

// A field of /proc/PID/status in KiB ("VmHWM", "VmRSS"); -1 when unreadable.
int64_t StatusKib(pid_t pid, absl::string_view field) {
  absl::StatusOr<std::string> status = ReadSmallFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) continue;
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib)) {
      return kib;
    }
  }
  return -1;
}

// "Export of 100,000 records streams in bounded memory" (issue #15). Its own ctest,
// audit_export_100k (label e2e), runs it; vigild_e2e_tests leaves it out (DISABLED_) so that
// binary stays quick.
TEST(AuditExportScaleTest, DISABLED_AnExportOf100000RecordsStreamsInBoundedMemory) {
  constexpr int kRecords = 100'000;
  vigil::testing::TempDir dir;
  ASSERT_THAT(CreatePrivateDirectory(dir.Sub("data")), IsOk());
  const absl::Time start = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01
  const absl::Time seeding = absl::Now();
  ASSERT_THAT(SeedAuditLog(dir.Sub("data"), kRecords, start), IsOk());
  std::cout << "seeded " << kRecords << " audit records in " << absl::Now() - seeding << "\n";

  VigildProcess vigild(dir.path());
  ASSERT_THAT(vigild.Start(), IsOk());
  // A first small export warms the paths an export takes; then the peak is measured from here.
  const testing::Identity dpo("DPO 1", "auditor", "wessex", "DPA 2018 s.62 review");
  testing::RunResult warm = testing::RunVigil(
      vigild.address(), {"audit", "export", "--subject", "R7", "--output", dir.Sub("warm.jsonl")},
      dpo);
  ASSERT_EQ(warm.exit_code, 0) << warm.output;
  // Resetting the peak (clear_refs 5) lets VmHWM measure this export alone; where that is not
  // allowed, the peak is compared with the resident size now, which only overstates growth.
  { std::ofstream(absl::StrCat("/proc/", vigild.pid(), "/clear_refs")) << "5"; }
  const int64_t rss_before = StatusKib(vigild.pid(), "VmRSS");
  ASSERT_GT(rss_before, 0);

  const std::string out = dir.Sub("all.jsonl");
  const absl::Time began = absl::Now();
  const testing::RunResult result = testing::RunVigil(
      vigild.address(),
      {"audit", "export", "--from", "2026-01-01", "--to", "2026-01-03", "--output", out}, dpo,
      absl::Minutes(5));
  const absl::Duration took = absl::Now() - began;
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const int64_t peak = StatusKib(vigild.pid(), "VmHWM");
  const int64_t growth_kib = peak - rss_before;

  const std::vector<v1::AuditRecord> records = ReadJsonLines(out);
  ASSERT_EQ(records.size(), static_cast<size_t>(kRecords));
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].sequence() != i + 1) {
      ADD_FAILURE() << "record " << i << " has sequence " << records[i].sequence();
      break;
    }
  }
  const std::filesystem::path path(out);
  const int64_t json_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  std::cout << "exported " << kRecords << " records (" << json_bytes / (1 << 20)
            << " MiB of JSON lines) in " << took << ": "
            << static_cast<int64_t>(kRecords / absl::ToDoubleSeconds(took))
            << " records/s; vigild RSS " << rss_before / 1024 << " MiB before, peak " << peak / 1024
            << " MiB during (growth " << growth_kib / 1024 << " MiB)\n";
  // Measured on 2 busy cores: 26 MiB of growth for 96 MiB of JSON (and 36 MiB for 300,000
  // records, 291 MiB: the rest is mostly the memtable holding the export's own audit records
  // until RocksDB flushes them). Holding the records would take more than their JSON. The
  // bound leaves room for a slower, busier machine.
  EXPECT_LT(growth_kib, 48 * 1024);
  EXPECT_GT(json_bytes, int64_t{80} << 20);
}

}  // namespace
}  // namespace vigil
