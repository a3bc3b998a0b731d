#include "services/audit/witness.h"

#include "absl/strings/str_cat.h"
#include "base/crypto/signature.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::audit {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VIGIL_ASSERT_OK_AND_ASSIGN(key_, crypto::GenerateEd25519Key());
    VIGIL_ASSERT_OK_AND_ASSIGN(std::string pem, crypto::PublicKeyToPem(*key_));
    VIGIL_ASSERT_OK_AND_ASSIGN(public_key_, crypto::ReadPublicKeyPem(pem));
    VIGIL_ASSERT_OK_AND_ASSIGN(std::string private_pem, crypto::PrivateKeyToPem(*key_));
    private_pem_ = private_pem;
  }

  std::unique_ptr<storage::Store> OpenStore(const std::string& name) {
    storage::StoreOptions options;
    options.path = dir_.Sub(name);
    absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
    EXPECT_THAT(store.status(), IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  static void Append(storage::Store& store, const std::string& body) {
    storage::Change change;
    change.SetAudit(storage::AuditEntry{"wessex", "DC 1", {"R1"}, body});
    ASSERT_THAT(store.Commit(change).status(), IsOk());
  }

  crypto::EvpPkeyPtr SigningKey() { return *crypto::ReadPrivateKeyPem(private_pem_); }

  std::string WitnessFile() {
    absl::StatusOr<std::string> contents =
        ReadSmallFile(dir_.Sub("witness") + "/" + std::string(kWitnessFileName));
    EXPECT_THAT(contents.status(), IsOk());
    return contents.ok() ? *contents : "";
  }

  vigil::testing::TempDir dir_;
  crypto::EvpPkeyPtr key_;
  crypto::EvpPkeyPtr public_key_;
  std::string private_pem_;
};

TEST_F(WitnessTest, AFullRewriteOfTheStoreIsCaughtByTheSignedCheckpoints) {
  std::unique_ptr<storage::Store> store = OpenStore("data");
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("witness")), IsOk());
  AuditWitness::Options options;
  options.dir = dir_.Sub("witness");
  options.every_records = 3;
  VIGIL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AuditWitness> witness,
                             AuditWitness::Open(*store, SigningKey(), options));
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 7; ++i) {
    Append(*store, absl::StrCat("consultation ", i));
    ASSERT_THAT(witness->MaybeCheckpoint(t0).status(), IsOk());
  }
  // The first record at once (it anchors the chain), then every three records; nothing more
  // while the head stays where the last checkpoint was.
  VIGIL_ASSERT_OK_AND_ASSIGN(bool written, witness->MaybeCheckpoint(t0, /*force=*/true));
  EXPECT_FALSE(written);
  Append(*store, "consultation 7");
  VIGIL_ASSERT_OK_AND_ASSIGN(written, witness->MaybeCheckpoint(t0 + absl::Minutes(5)));
  EXPECT_TRUE(written);  // five minutes after the last one

  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<AuditCheckpoint> checkpoints,
                             crypto::ReadCheckpoints(WitnessFile(), *public_key_));
  ASSERT_EQ(checkpoints.size(), 4u);
  EXPECT_EQ(checkpoints[0].sequence, 1u);
  EXPECT_EQ(checkpoints[1].sequence, 4u);
  EXPECT_EQ(checkpoints[2].sequence, 7u);
  EXPECT_EQ(checkpoints[3].sequence, 8u);
  EXPECT_EQ(checkpoints[3].time, t0 + absl::Minutes(5));
  VIGIL_ASSERT_OK_AND_ASSIGN(WitnessReport intact,
                             VerifyAgainstCheckpoints(store->Snapshot(), checkpoints));
  EXPECT_TRUE(intact.ok);
  EXPECT_EQ(intact.checkpoints_checked, 4u);

  // The rewritten store: the same number of records, one of them edited, every hash and the
  // head recomputed. Its own chain verifies; the witness does not.
  std::unique_ptr<storage::Store> rewritten = OpenStore("rewritten");
  for (int i = 0; i < 8; ++i) {
    Append(*rewritten, i == 1 ? "nothing to see" : absl::StrCat("consultation ", i));
  }
  VIGIL_ASSERT_OK_AND_ASSIGN(storage::AuditChainReport chain,
                             rewritten->Snapshot().VerifyAuditChain());
  EXPECT_TRUE(chain.ok);
  VIGIL_ASSERT_OK_AND_ASSIGN(WitnessReport caught,
                             VerifyAgainstCheckpoints(rewritten->Snapshot(), checkpoints));
  EXPECT_FALSE(caught.ok);
  EXPECT_EQ(caught.first_mismatched_sequence, 4u);  // record 2 was edited
  EXPECT_THAT(caught.problem, HasSubstr("rewritten"));

  // A truncated store is caught too.
  std::unique_ptr<storage::Store> truncated = OpenStore("truncated");
  for (int i = 0; i < 5; ++i) Append(*truncated, absl::StrCat("consultation ", i));
  VIGIL_ASSERT_OK_AND_ASSIGN(WitnessReport short_chain,
                             VerifyAgainstCheckpoints(truncated->Snapshot(), checkpoints));
  EXPECT_FALSE(short_chain.ok);
  EXPECT_EQ(short_chain.first_mismatched_sequence, 7u);
}

TEST_F(WitnessTest, AnEditedCheckpointOrAnotherKeyDoesNotVerify) {
  std::unique_ptr<storage::Store> store = OpenStore("data");
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("witness")), IsOk());
  AuditWitness::Options options;
  options.dir = dir_.Sub("witness");
  VIGIL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AuditWitness> witness,
                             AuditWitness::Open(*store, SigningKey(), options));
  Append(*store, "one");
  ASSERT_THAT(witness->MaybeCheckpoint(absl::Now(), /*force=*/true).status(), IsOk());
  std::string contents = WitnessFile();
  ASSERT_THAT(crypto::ReadCheckpoints(contents, *public_key_).status(), IsOk());

  std::string edited = contents;
  edited[std::string("vigil-audit-checkpoint v1 ").size()] = '9';  // the sequence
  EXPECT_THAT(crypto::ReadCheckpoints(edited, *public_key_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("witness line 1")));
  VIGIL_ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other, crypto::GenerateEd25519Key());
  EXPECT_THAT(crypto::ReadCheckpoints(contents, *other),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not verify")));
}

TEST_F(WitnessTest, AMissingDirectoryOrAKeyOfAnotherKindIsRefused) {
  std::unique_ptr<storage::Store> store = OpenStore("data");
  AuditWitness::Options options;
  options.dir = dir_.Sub("nowhere");
  EXPECT_THAT(AuditWitness::Open(*store, SigningKey(), options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--audit-witness-dir: " + dir_.Sub("nowhere"))));
  ASSERT_THAT(CreatePrivateDirectory(dir_.Sub("witness")), IsOk());
  options.dir = dir_.Sub("witness");
  VIGIL_ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr ec, crypto::GenerateEcP256Key());
  EXPECT_THAT(AuditWitness::Open(*store, std::move(ec), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
}

}  // namespace
}  // namespace vigil::audit
