#include "storage/key_codec.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::storage {

void PutFixed64BE(std::string* dst, uint64_t value) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  dst->append(buf, sizeof(buf));
}

uint64_t DecodeFixed64BE(const char* p) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(p[i]);
  }
  return value;
}

void PutOrderedInt64(std::string* dst, int64_t value) {
  PutFixed64BE(dst, static_cast<uint64_t>(value) ^ (uint64_t{1} << 63));
}

int64_t DecodeOrderedInt64(const char* p) {
  return static_cast<int64_t>(DecodeFixed64BE(p) ^ (uint64_t{1} << 63));
}

void PutLengthPrefixed(std::string* dst, absl::string_view value) {
  uint32_t n = static_cast<uint32_t>(value.size());
  while (n >= 0x80) {
    dst->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  dst->push_back(static_cast<char>(n));
  dst->append(value.data(), value.size());
}

std::string LengthPrefixed(absl::string_view value) {
  std::string out;
  PutLengthPrefixed(&out, value);
  return out;
}

bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value) {
  uint32_t n = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (input->empty()) return false;
    const uint8_t byte = static_cast<uint8_t>(input->front());
    input->remove_prefix(1);
    n |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (input->size() < n) return false;
      *value = input->substr(0, n);
      input->remove_prefix(n);
      return true;
    }
  }
  return false;
}

int64_t ToMicros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

std::string EncodeDeadlineKey(const Deadline& deadline) {
  std::string key;
  key.reserve(1 + 8 + 1 + deadline.id.size());
  key.push_back(static_cast<char>(deadline.space));
  PutOrderedInt64(&key, ToMicros(deadline.due));
  key.push_back(static_cast<char>(deadline.kind));
  key.append(deadline.id.data(), deadline.id.size());
  return key;
}

absl::StatusOr<Deadline> DecodeDeadlineKey(absl::string_view key) {
  if (key.size() < 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("deadline key of ", key.size(), " bytes is shorter than 10"));
  }
  Deadline deadline;
  deadline.space = static_cast<DeadlineSpace>(static_cast<uint8_t>(key[0]));
  deadline.due = FromMicros(DecodeOrderedInt64(key.data() + 1));
  deadline.kind = static_cast<uint8_t>(key[9]);
  deadline.id = std::string(key.substr(10));
  return deadline;
}

std::string DeadlineSeekKey(DeadlineSpace space, absl::Time due) {
  std::string key;
  key.push_back(static_cast<char>(space));
  PutOrderedInt64(&key, ToMicros(due));
  return key;
}

absl::Status ValidateEventContext(absl::string_view context) {
  if (context.empty() || context.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("event context must be 1-64 bytes, got ", context.size()));
  }
  for (char c : context) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("event context '", context, "' may only hold [a-z0-9_.-]"));
    }
  }
  return absl::OkStatus();
}

std::string EventPrefix(absl::string_view context) {
  std::string key(context);
  key.push_back('\0');
  return key;
}

std::string EventKey(absl::string_view context, uint64_t sequence) {
  std::string key = EventPrefix(context);
  PutFixed64BE(&key, sequence);
  return key;
}

absl::StatusOr<uint64_t> DecodeEventKey(absl::string_view context, absl::string_view key) {
  if (key.size() != context.size() + 9 || key.substr(0, context.size()) != context ||
      key[context.size()] != '\0') {
    return absl::InvalidArgumentError(absl::StrCat("not an event key of context '", context, "'"));
  }
  return DecodeFixed64BE(key.data() + context.size() + 1);
}

std::string AuditKey(uint64_t sequence) {
  std::string key;
  PutFixed64BE(&key, sequence);
  return key;
}

absl::StatusOr<uint64_t> DecodeAuditKey(absl::string_view key) {
  if (key.size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit key of ", key.size(), " bytes is not 8 bytes"));
  }
  return DecodeFixed64BE(key.data());
}

namespace {

std::string AuditIndexPrefix(absl::string_view tag, absl::string_view force) {
  std::string key(kAuditIndexPrefix);
  key.append(tag.data(), tag.size());
  PutLengthPrefixed(&key, force);
  return key;
}

}  // namespace

std::string AuditByForcePrefix(absl::string_view force) { return AuditIndexPrefix("f/", force); }

std::string AuditNationalSecurityPrefix() { return absl::StrCat(kAuditIndexPrefix, "n/"); }

std::string AuditBySubjectPrefix(absl::string_view force, absl::string_view subject_id) {
  std::string key = AuditIndexPrefix("s/", force);
  PutLengthPrefixed(&key, subject_id);
  return key;
}

std::string AuditByActorPrefix(absl::string_view force, absl::string_view actor) {
  std::string key = AuditIndexPrefix("a/", force);
  PutLengthPrefixed(&key, actor);
  return key;
}

absl::StatusOr<uint64_t> DecodeAuditIndexSequence(absl::string_view key) {
  if (key.size() < kAuditIndexPrefix.size() + 8 || !absl::StartsWith(key, kAuditIndexPrefix)) {
    return absl::InvalidArgumentError("not an audit index key");
  }
  return DecodeFixed64BE(key.data() + key.size() - 8);
}

}  // namespace vigil::storage
