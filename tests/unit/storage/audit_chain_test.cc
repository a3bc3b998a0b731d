// The audit chain detects altered, deleted and truncated records.
#include "storage/audit_chain.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/store.h"
#include "tests/support/closed_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::storage {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;

TEST(AuditChainHash, DependsOnPreviousHashSequenceAndBody) {
  const std::string genesis = GenesisHash();
  const std::string h = ChainHash(genesis, 1, "body");
  EXPECT_EQ(h.size(), kAuditHashBytes);
  EXPECT_NE(h, ChainHash(genesis, 2, "body"));
  EXPECT_NE(h, ChainHash(genesis, 1, "bodY"));
  EXPECT_NE(h, ChainHash(h, 1, "body"));
  EXPECT_EQ(h, ChainHash(genesis, 1, "body"));
  // The chain on disk: SHA-256 of the previous hash, the big-endian sequence and the content.
  EXPECT_EQ(absl::BytesToHexString(h),
            "38570e5ece5315d69b098a2db596ccb2149cded8f8990983b23fd6b1b3da146d");
}

TEST(AuditChainEnvelope, RoundTripsAndRejectsGarbage) {
  const std::string prev(kAuditHashBytes, 'p');
  const std::string hash(kAuditHashBytes, 'h');
  AuditEntry entry{"wessex", "DC 1", {"offender/1", "alert/7"}, "the body"};
  entry.national_security = true;
  const std::string envelope = EncodeAuditEnvelope(prev, hash, EncodeAuditContent(entry));
  EXPECT_EQ(AuditHashedContent(envelope), EncodeAuditContent(entry));
  absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(9, envelope);
  ASSERT_THAT(record.status(), IsOk());
  EXPECT_EQ(record->sequence, 9u);
  EXPECT_EQ(record->previous_hash, prev);
  EXPECT_EQ(record->hash, hash);
  EXPECT_EQ(record->body, "the body");
  ASSERT_TRUE(record->terms.has_value());
  EXPECT_EQ(record->terms->force, "wessex");
  EXPECT_EQ(record->terms->actor, "DC 1");
  EXPECT_THAT(record->terms->subject_ids, ::testing::ElementsAre("offender/1", "alert/7"));
  EXPECT_TRUE(record->terms->national_security);
  absl::StatusOr<std::optional<AuditTerms>> terms = DecodeAuditTerms(9, envelope);
  ASSERT_THAT(terms.status(), IsOk());
  ASSERT_TRUE(terms->has_value());
  EXPECT_THAT((*terms)->subject_ids, ::testing::ElementsAre("offender/1", "alert/7"));

  EXPECT_FALSE(DecodeAuditEnvelope(1, "short").ok());
  EXPECT_FALSE(DecodeAuditEnvelope(1, std::string(70, '\x03')).ok());
  // Terms longer than the envelope, and terms cut short.
  std::string overlong = envelope;
  overlong[1 + 2 * kAuditHashBytes] = '\x7f';
  EXPECT_FALSE(DecodeAuditEnvelope(1, overlong).ok());
  // Three bytes of terms: no flags, then a force said to be 5 bytes long but only 1.
  std::string cut = std::string(1, '\x02') + prev + hash + std::string("\0\0\0\x03", 4) +
                    std::string("\0\x05w", 3);
  EXPECT_FALSE(DecodeAuditEnvelope(1, cut).ok());
  // A length written with more varint bytes than it needs: one encoding per value only.
  std::string padded = std::string(1, '\x02') + prev + hash + std::string("\0\0\0\x05", 4) +
                       std::string("\0\x80\0\x01w", 5) + "body";
  EXPECT_FALSE(DecodeAuditEnvelope(1, padded).ok());
}

TEST(AuditChainEnvelope, ReadsFormatOneWithoutTerms) {
  // As schema 3 and earlier wrote: format 1, no terms (indexed in its own commit).
  const std::string prev(kAuditHashBytes, 'p');
  const std::string hash(kAuditHashBytes, 'h');
  const std::string envelope = std::string(1, '\x01') + prev + hash + "old body";
  absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(3, envelope);
  ASSERT_THAT(record.status(), IsOk());
  EXPECT_EQ(record->body, "old body");
  EXPECT_FALSE(record->terms.has_value());
  absl::StatusOr<std::optional<AuditTerms>> terms = DecodeAuditTerms(3, envelope);
  ASSERT_THAT(terms.status(), IsOk());
  EXPECT_FALSE(terms->has_value());
}

TEST(AuditChainEnvelope, PrefixesFollowForceActorSubjectsAndNationalSecurity) {
  EXPECT_THAT(
      AuditIndexPrefixes(AuditTerms{"wessex", "DC 1", {"offender/1"}, false}),
      ::testing::ElementsAre(AuditByForcePrefix("wessex"), AuditByActorPrefix("wessex", "DC 1"),
                             AuditBySubjectPrefix("wessex", "offender/1")));
  EXPECT_THAT(AuditIndexPrefixes(AuditTerms{"", "someone", {"offender/1"}, true}),
              ::testing::ElementsAre(AuditNationalSecurityPrefix()));
  EXPECT_THAT(AuditIndexPrefixes(AuditTerms{"", "someone", {}, false}), ::testing::IsEmpty());
}

// Tampering is done with a plain RocksDB handle, as an attacker with file access would.
class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = dir_.Sub("data");
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_THAT(store.status(), IsOk());
    for (int i = 0; i < 10; ++i) {
      Change change;
      change.SetAudit(AuditEntry{"wessex",
                                 "DC 1",
                                 {absl::StrCat("offender/", i)},
                                 absl::StrCat("consulted offender ", i)});
      ASSERT_THAT((*store)->Commit(change).status(), IsOk());
    }
  }

  // Runs `edit` on the audit and meta families of the closed store.
  template <typename Edit>
  void Tamper(Edit edit) {
    vigil::testing::EditClosedStore(
        dir_.Sub("data"),
        [&](rocksdb::DB* db, std::map<std::string, rocksdb::ColumnFamilyHandle*>& families) {
          edit(db, families.at("audit"), families.at("meta"));
        });
  }

  AuditChainReport Verify() {
    StoreOptions options;
    options.path = dir_.Sub("data");
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    EXPECT_THAT(store.status(), IsOk());
    absl::StatusOr<AuditChainReport> report = (*store)->Snapshot().VerifyAuditChain();
    EXPECT_THAT(report.status(), IsOk());
    return *report;
  }

  vigil::testing::TempDir dir_;
};

TEST_F(AuditTamperTest, IntactChainVerifies) {
  const AuditChainReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 10u);
}

TEST_F(AuditTamperTest, AlteredBodyIsFoundAtItsSequence) {
  Tamper([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* audit, rocksdb::ColumnFamilyHandle*) {
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), audit, AuditKey(4), &value).ok());
    value.back() ^= 1;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), audit, AuditKey(4), value).ok());
  });
  const AuditChainReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_broken_sequence, 4u);
  EXPECT_EQ(report.records_checked, 3u);
  EXPECT_THAT(report.problem, HasSubstr("hash"));
}

TEST_F(AuditTamperTest, AlteredIndexTermsAreFound) {
  // Moving a record out of its subject's listing (its terms name another subject, the body and
  // hash kept) breaks the chain at that record: the hash covers the terms.
  Tamper([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* audit, rocksdb::ColumnFamilyHandle*) {
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), audit, AuditKey(4), &value).ok());
    absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(4, value);
    ASSERT_TRUE(record.ok() && record->terms.has_value());
    const std::string moved =
        EncodeAuditContent(AuditEntry{"wessex", "DC 1", {"offender/elsewhere"}, record->body});
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), audit, AuditKey(4),
                        EncodeAuditEnvelope(record->previous_hash, record->hash, moved))
                    .ok());
  });
  const AuditChainReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_broken_sequence, 4u);
  EXPECT_THAT(report.problem, HasSubstr("hash"));
}

TEST_F(AuditTamperTest, DeletedRecordIsFound) {
  Tamper([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* audit, rocksdb::ColumnFamilyHandle*) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), audit, AuditKey(6)).ok());
  });
  const AuditChainReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_broken_sequence, 6u);
  EXPECT_THAT(report.problem, HasSubstr("missing"));
}

TEST_F(AuditTamperTest, RecomputedForgeryBreaksTheNextLink) {
  // Rewriting a record with a correct hash of its new body still breaks the following link.
  Tamper([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* audit, rocksdb::ColumnFamilyHandle*) {
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), audit, AuditKey(5), &value).ok());
    absl::StatusOr<StoredAuditRecord> record = DecodeAuditEnvelope(5, value);
    ASSERT_TRUE(record.ok());
    const std::string forged =
        EncodeAuditContent(AuditEntry{"wessex", "DC 1", {}, "nothing to see here"});
    const std::string forged_hash = ChainHash(record->previous_hash, 5, forged);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), audit, AuditKey(5),
                        EncodeAuditEnvelope(record->previous_hash, forged_hash, forged))
                    .ok());
  });
  const AuditChainReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_broken_sequence, 6u);
}

TEST_F(AuditTamperTest, TruncatedTailIsFoundAgainstTheHead) {
  Tamper([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* audit, rocksdb::ColumnFamilyHandle*) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), audit, AuditKey(10)).ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), audit, AuditKey(9)).ok());
  });
  const AuditChainReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.records_checked, 8u);
  EXPECT_EQ(report.first_broken_sequence, 9u);
  EXPECT_THAT(report.problem, HasSubstr("head"));
}

}  // namespace
}  // namespace vigil::storage
