// The hash chain that makes the audit log tamper-evident. Each record's stored value is an
// envelope around the caller's serialized record (the body, opaque to storage):
//
//   envelope := format:uint8 (= 2) | previous_hash:32 | hash:32 | content
//   content  := terms_size:fixed32 big-endian | terms | body
//   terms    := flags:uint8 (bit 0: national_security) | lp(force) | lp(actor) | lp(subject_id)*
//   hash     := SHA-256(previous_hash | sequence:fixed64 big-endian | content)
//
// The terms are what the record is listed under (AuditIndexPrefixes): the store's indexer
// writes the index entries from them after the commit, and reads of the index take the records
// it has not reached yet from their terms. The hash covers them, so a record cannot be moved
// out of a subject's listing unnoticed. Format 1 (schema 3 and before) has no terms (content is
// the body alone): its records were indexed in their own commit. Terms are canonical (one
// encoding per value), so what decodes encodes back to the same bytes.
//
// The first record's previous_hash is 32 zero bytes. Altering a body, deleting or reordering
// records, or truncating the log (checked against meta "audit_head") breaks the chain.
#ifndef VIGIL_STORAGE_AUDIT_CHAIN_H_
#define VIGIL_STORAGE_AUDIT_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::storage {

inline constexpr size_t kAuditHashBytes = 32;

// What a service hands to Change::SetAudit. Storage indexes the record by force, actor and
// subject ids, chains it, and stores `body` byte for byte.
struct AuditEntry {
  std::string force;
  std::string actor;
  std::vector<std::string> subject_ids;
  std::string body;
  // Also index the record in the national security log (AuditNationalSecurityPrefix): a
  // cross-force probe, a credential that did not verify. A record with an empty force (whose
  // force is unknown or unverified) is indexed there only.
  bool national_security = false;
};

// What one record is listed under: its AuditEntry's force, actor, subjects and
// national_security.
struct AuditTerms {
  std::string force;
  std::string actor;
  std::vector<std::string> subject_ids;
  bool national_security = false;
};

// One stored record as read back.
struct StoredAuditRecord {
  uint64_t sequence = 0;
  std::string previous_hash;
  std::string hash;
  std::string body;
  // Absent in a format 1 envelope, whose record was indexed when committed.
  std::optional<AuditTerms> terms;
};

// The result of walking the chain.
struct AuditChainReport {
  bool ok = true;
  uint64_t records_checked = 0;
  // 0 when ok; otherwise the first sequence that fails to verify (or the missing one).
  uint64_t first_broken_sequence = 0;
  std::string problem;
};

// The all-zero hash that precedes the first record.
std::string GenesisHash();

// The hash of a record with `content` (AuditHashedContent) after `previous_hash`.
std::string ChainHash(absl::string_view previous_hash, uint64_t sequence,
                      absl::string_view content);

// The index prefixes (key_codec.h: AuditBy*Prefix, AuditNationalSecurityPrefix) a record with
// `terms` is listed under; each of its index keys is one of them followed by its sequence. A
// record with a force is in that force's log, by actor and by each subject; one marked
// national_security is also in the national security log; one with no force only there.
std::vector<std::string> AuditIndexPrefixes(const AuditTerms& terms);

// The content of `entry`'s format 2 envelope: its terms and body.
std::string EncodeAuditContent(const AuditEntry& entry);
// A format 2 envelope around `content` (EncodeAuditContent).
std::string EncodeAuditEnvelope(absl::string_view previous_hash, absl::string_view hash,
                                absl::string_view content);
// What an envelope's hash covers after the previous hash and sequence: everything after its
// two hashes (format 1: the body; format 2: the content). Empty when `value` is too short.
absl::string_view AuditHashedContent(absl::string_view value);
// InvalidArgument when `value` is not a well-formed envelope (format 1 or 2).
absl::StatusOr<StoredAuditRecord> DecodeAuditEnvelope(uint64_t sequence, absl::string_view value);
// Only the terms of an envelope, without copying its body: nullopt for format 1.
absl::StatusOr<std::optional<AuditTerms>> DecodeAuditTerms(uint64_t sequence,
                                                           absl::string_view value);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_AUDIT_CHAIN_H_
