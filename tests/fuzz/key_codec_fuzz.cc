// Fuzzes every decoder of bytes that come from disk.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "storage/audit_chain.h"
#include "storage/key_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  if (absl::StatusOr<vigil::storage::Deadline> d = vigil::storage::DecodeDeadlineKey(input);
      d.ok()) {
    // Whatever decodes must encode back to the same bytes.
    if (vigil::storage::EncodeDeadlineKey(*d) != input) __builtin_trap();
  }
  (void)vigil::storage::DecodeEventKey("rso", input);
  (void)vigil::storage::DecodeAuditKey(input);
  (void)vigil::storage::DecodeAuditIndexSequence(input);
  if (absl::StatusOr<vigil::storage::StoredAuditRecord> record =
          vigil::storage::DecodeAuditEnvelope(1, input);
      record.ok() && record->terms.has_value()) {
    // Whatever decodes with terms must encode back to the same bytes.
    vigil::storage::AuditEntry entry{record->terms->force, record->terms->actor,
                                     record->terms->subject_ids, record->body,
                                     record->terms->national_security};
    if (vigil::storage::EncodeAuditEnvelope(record->previous_hash, record->hash,
                                            vigil::storage::EncodeAuditContent(entry)) != input) {
      __builtin_trap();
    }
  }
  absl::string_view rest = input;
  absl::string_view value;
  while (vigil::storage::GetLengthPrefixed(&rest, &value)) {
    if (value.size() > input.size()) __builtin_trap();
  }
  return 0;
}
