// The grammar of every key vigil writes to RocksDB, and the helpers that build them. The byte
// layouts below are on disk: DO NOT CHANGE THEM. A change of layout needs a new schema version
// and a migration (storage/store.cc).
//
// Column family `deadlines`:
//   deadline key   := space:uint8 | due_micros:int64-ordered | kind:uint8 | obligation_id
//   where int64-ordered is the value's two's complement with the sign bit flipped, stored as a
//   fixed64 big-endian, so that bytewise order equals numeric order, including before 1970.
//   Iterating one space from the front yields the earliest-due obligation first; ties are
//   ordered by kind, then by id bytes. `space` partitions the index between owners.
// Column family `events`:
//   event key      := context | 0x00 | sequence:fixed64 big-endian
// Column family `audit`:
//   audit key      := sequence:fixed64 big-endian
// Column family `index`, prefix "audit/" (reserved for the audit chain's own indexes):
//   by force       := "audit/f/" | lp(force) | sequence:fixed64 big-endian
//   by subject     := "audit/s/" | lp(force) | lp(subject_id) | sequence:fixed64 big-endian
//   by actor       := "audit/a/" | lp(force) | lp(actor) | sequence:fixed64 big-endian
//   national       := "audit/n/" | sequence:fixed64 big-endian   (the national security log)
//   where lp(x) := varint32 length | bytes, so that one value's keys form a contiguous prefix.
// Column family `meta`:
//   "schema_version"        -> decimal
//   "audit_head"            -> sequence:fixed64 | sha256:32
//   "audit_indexed"         -> sequence:fixed64 (every record up to it has its index entries)
//   "event_head/" | context -> sequence:fixed64
//   "counter/" | name       -> value:int64 two's complement fixed64 big-endian
#ifndef VIGIL_STORAGE_KEY_CODEC_H_
#define VIGIL_STORAGE_KEY_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil::storage {

// Owners of partitions of the deadline index. Stored on disk: never renumber.
enum class DeadlineSpace : uint8_t {
  kRso = 1,     // ARMS, RMP review, home visit and notification clocks
  kOcait = 2,   // referral action, intelligence refresh and CSC check clocks
  kAlerts = 3,  // the alerts context's own escalation steps
  kTesting = 255,
};

// One entry of the deadline index. `due` is kept to the microsecond; finer parts are
// truncated toward the past. Times outside the int64 microsecond range saturate.
struct Deadline {
  DeadlineSpace space = DeadlineSpace::kTesting;
  absl::Time due;
  uint8_t kind = 0;
  std::string id;

  friend bool operator==(const Deadline&, const Deadline&) = default;
};

// Fixed-width big-endian helpers. Decode functions read exactly 8 bytes from `p`.
void PutFixed64BE(std::string* dst, uint64_t value);
uint64_t DecodeFixed64BE(const char* p);
void PutOrderedInt64(std::string* dst, int64_t value);
int64_t DecodeOrderedInt64(const char* p);

// lp(x): a varint32 length then the bytes. GetLengthPrefixed consumes from `input` and fails
// on truncation.
void PutLengthPrefixed(std::string* dst, absl::string_view value);
// lp(value) as a string, for building keys with StrCat.
std::string LengthPrefixed(absl::string_view value);
bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value);

int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

std::string EncodeDeadlineKey(const Deadline& deadline);
// InvalidArgument when `key` is not a deadline key (too short, unknown space is allowed).
absl::StatusOr<Deadline> DecodeDeadlineKey(absl::string_view key);
// A key that sorts before every key of `space` whose due time is >= `due`, and after every key
// of `space` due earlier: a seek target or an exclusive scan bound.
std::string DeadlineSeekKey(DeadlineSpace space, absl::Time due);

// InvalidArgument unless `context` is 1-64 bytes of [a-z0-9_.-].
absl::Status ValidateEventContext(absl::string_view context);
std::string EventKey(absl::string_view context, uint64_t sequence);
std::string EventPrefix(absl::string_view context);
// Returns the sequence of an event key of `context`; InvalidArgument otherwise.
absl::StatusOr<uint64_t> DecodeEventKey(absl::string_view context, absl::string_view key);

std::string AuditKey(uint64_t sequence);
absl::StatusOr<uint64_t> DecodeAuditKey(absl::string_view key);

// Audit index keys. The *Prefix forms omit the trailing sequence.
std::string AuditByForcePrefix(absl::string_view force);
std::string AuditBySubjectPrefix(absl::string_view force, absl::string_view subject_id);
std::string AuditByActorPrefix(absl::string_view force, absl::string_view actor);
// The national security log: every record with AuditEntry::national_security, of every force.
std::string AuditNationalSecurityPrefix();
// The sequence at the end of any audit index key.
absl::StatusOr<uint64_t> DecodeAuditIndexSequence(absl::string_view key);

inline constexpr absl::string_view kSchemaVersionKey = "schema_version";
inline constexpr absl::string_view kAuditHeadKey = "audit_head";
inline constexpr absl::string_view kAuditIndexedKey = "audit_indexed";
inline constexpr absl::string_view kEventHeadPrefix = "event_head/";
inline constexpr absl::string_view kCounterPrefix = "counter/";
inline constexpr absl::string_view kAuditIndexPrefix = "audit/";

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_KEY_CODEC_H_
