#include "storage/audit_chain.h"

#include "absl/strings/str_cat.h"
#include "base/crypto/digest.h"
#include "base/status_macros.h"
#include "storage/key_codec.h"

namespace vigil::storage {
namespace {

// Format 1: no terms (the record's index entries were written in its own commit).
constexpr char kFormatInlineIndexed = 1;
constexpr char kFormatWithTerms = 2;
constexpr size_t kHashesEnd = 1 + 2 * kAuditHashBytes;
constexpr char kNationalSecurityFlag = 1;

// The parts of an envelope, as views into it.
struct EnvelopeParts {
  absl::string_view previous_hash;
  absl::string_view hash;
  std::optional<absl::string_view> terms;  // format 2 only
  absl::string_view body;
};

absl::StatusOr<EnvelopeParts> SplitEnvelope(uint64_t sequence, absl::string_view value) {
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("audit record ", sequence, " has a malformed envelope"));
  };
  if (value.size() < kHashesEnd) return malformed();
  EnvelopeParts parts;
  parts.previous_hash = value.substr(1, kAuditHashBytes);
  parts.hash = value.substr(1 + kAuditHashBytes, kAuditHashBytes);
  if (value[0] == kFormatInlineIndexed) {
    parts.body = value.substr(kHashesEnd);
    return parts;
  }
  if (value[0] != kFormatWithTerms || value.size() < kHashesEnd + 4) return malformed();
  uint32_t terms_size = 0;
  for (size_t i = 0; i < 4; ++i) {
    terms_size = (terms_size << 8) | static_cast<uint8_t>(value[kHashesEnd + i]);
  }
  if (terms_size > value.size() - kHashesEnd - 4) return malformed();
  parts.terms = value.substr(kHashesEnd + 4, terms_size);
  parts.body = value.substr(kHashesEnd + 4 + terms_size);
  return parts;
}

std::string EncodeTerms(const AuditTerms& terms) {
  std::string encoded(1, terms.national_security ? kNationalSecurityFlag : 0);
  PutLengthPrefixed(&encoded, terms.force);
  PutLengthPrefixed(&encoded, terms.actor);
  for (const std::string& subject : terms.subject_ids) PutLengthPrefixed(&encoded, subject);
  return encoded;
}

absl::StatusOr<AuditTerms> ParseTerms(uint64_t sequence, absl::string_view terms) {
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("audit record ", sequence, " has malformed index terms"));
  };
  // No flag but national_security is defined.
  if (terms.empty() || (terms[0] & ~kNationalSecurityFlag) != 0) return malformed();
  const absl::string_view all = terms;
  AuditTerms parsed;
  parsed.national_security = (terms[0] & kNationalSecurityFlag) != 0;
  terms.remove_prefix(1);
  absl::string_view force, actor;
  if (!GetLengthPrefixed(&terms, &force) || !GetLengthPrefixed(&terms, &actor)) return malformed();
  parsed.force = std::string(force);
  parsed.actor = std::string(actor);
  absl::string_view rest = terms;
  while (!rest.empty()) {
    absl::string_view subject;
    if (!GetLengthPrefixed(&rest, &subject)) return malformed();
    parsed.subject_ids.emplace_back(subject);
  }
  // One encoding per value (no over-long length varints): the hash covers these bytes.
  if (EncodeTerms(parsed) != all) return malformed();
  return parsed;
}

}  // namespace

std::string GenesisHash() { return std::string(kAuditHashBytes, '\0'); }

std::string ChainHash(absl::string_view previous_hash, uint64_t sequence,
                      absl::string_view content) {
  std::string sequence_bytes;
  PutFixed64BE(&sequence_bytes, sequence);
  // SHA-256 over memory fails only when OpenSSL cannot allocate, and then the process stops
  // rather than write a record whose hash is not its own.
  return crypto::Sha256({previous_hash, sequence_bytes, content});
}

std::vector<std::string> AuditIndexPrefixes(const AuditTerms& terms) {
  std::vector<std::string> prefixes;
  if (!terms.force.empty()) {
    prefixes.reserve(2 + terms.subject_ids.size() + (terms.national_security ? 1 : 0));
    prefixes.push_back(AuditByForcePrefix(terms.force));
    prefixes.push_back(AuditByActorPrefix(terms.force, terms.actor));
    for (const std::string& subject : terms.subject_ids) {
      prefixes.push_back(AuditBySubjectPrefix(terms.force, subject));
    }
  }
  if (terms.national_security) prefixes.push_back(AuditNationalSecurityPrefix());
  return prefixes;
}

std::string EncodeAuditContent(const AuditEntry& entry) {
  const std::string terms =
      EncodeTerms(AuditTerms{entry.force, entry.actor, entry.subject_ids, entry.national_security});
  std::string content;
  content.reserve(4 + terms.size() + entry.body.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    content.push_back(static_cast<char>((terms.size() >> shift) & 0xff));
  }
  content.append(terms);
  content.append(entry.body);
  return content;
}

std::string EncodeAuditEnvelope(absl::string_view previous_hash, absl::string_view hash,
                                absl::string_view content) {
  std::string value;
  value.reserve(kHashesEnd + content.size());
  value.push_back(kFormatWithTerms);
  value.append(previous_hash.data(), previous_hash.size());
  value.append(hash.data(), hash.size());
  value.append(content.data(), content.size());
  return value;
}

absl::string_view AuditHashedContent(absl::string_view value) {
  return value.size() < kHashesEnd ? absl::string_view() : value.substr(kHashesEnd);
}

absl::StatusOr<StoredAuditRecord> DecodeAuditEnvelope(uint64_t sequence, absl::string_view value) {
  VIGIL_ASSIGN_OR_RETURN(EnvelopeParts parts, SplitEnvelope(sequence, value));
  StoredAuditRecord record;
  record.sequence = sequence;
  record.previous_hash = std::string(parts.previous_hash);
  record.hash = std::string(parts.hash);
  record.body = std::string(parts.body);
  if (parts.terms.has_value()) {
    VIGIL_ASSIGN_OR_RETURN(record.terms, ParseTerms(sequence, *parts.terms));
  }
  return record;
}

absl::StatusOr<std::optional<AuditTerms>> DecodeAuditTerms(uint64_t sequence,
                                                           absl::string_view value) {
  VIGIL_ASSIGN_OR_RETURN(EnvelopeParts parts, SplitEnvelope(sequence, value));
  if (!parts.terms.has_value()) return std::nullopt;
  VIGIL_ASSIGN_OR_RETURN(AuditTerms terms, ParseTerms(sequence, *parts.terms));
  return std::optional<AuditTerms>(std::move(terms));
}

}  // namespace vigil::storage
