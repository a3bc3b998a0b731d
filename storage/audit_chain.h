// The hash chain that makes the audit log tamper-evident. Each record's stored value is an
// envelope around the caller's serialized record (the body, opaque to storage):
//
//   envelope := format:uint8 (= 1) | previous_hash:32 | hash:32 | body
//   hash     := SHA-256(previous_hash | sequence:fixed64 big-endian | body)
//
// The first record's previous_hash is 32 zero bytes. Altering a body, deleting or reordering
// records, or truncating the log (checked against meta "audit_head") breaks the chain.
#ifndef VIGIL_STORAGE_AUDIT_CHAIN_H_
#define VIGIL_STORAGE_AUDIT_CHAIN_H_

#include <cstdint>
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

// One stored record as read back.
struct StoredAuditRecord {
  uint64_t sequence = 0;
  std::string previous_hash;
  std::string hash;
  std::string body;
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

std::string ChainHash(absl::string_view previous_hash, uint64_t sequence, absl::string_view body);

std::string EncodeAuditEnvelope(absl::string_view previous_hash, absl::string_view hash,
                                absl::string_view body);
// InvalidArgument when `value` is not a well-formed envelope.
absl::StatusOr<StoredAuditRecord> DecodeAuditEnvelope(uint64_t sequence, absl::string_view value);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_AUDIT_CHAIN_H_
