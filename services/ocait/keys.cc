#include "services/ocait/keys.h"

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "storage/key_codec.h"

namespace vigil::ocait {
namespace {

std::string Byte(int value) { return std::string(1, static_cast<char>(value)); }

std::string Time(const google::protobuf::Timestamp& ts) {
  std::string out;
  storage::PutOrderedInt64(&out, storage::ToMicros(TimeOf(ts)));
  return out;
}

bool Open(v1::ReferralState state) { return state != v1::REFERRAL_STATE_CLOSED; }

}  // namespace

std::string ReferralKey(absl::string_view force, absl::string_view id) {
  return absl::StrCat("ocait/r/", storage::LengthPrefixed(force), id);
}

std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id) {
  return absl::StrCat("req/ocait/", storage::LengthPrefixed(force),
                      storage::LengthPrefixed(request_id));
}

std::string SourceKey(absl::string_view force, absl::string_view source_reference) {
  return absl::StrCat("ocait/src/", storage::LengthPrefixed(force),
                      storage::LengthPrefixed(source_reference));
}

std::string OutboxPrefix() { return "ocait/ob/"; }

std::string OutboxKey(absl::string_view force, absl::string_view referral, int64_t revision) {
  std::string key = absl::StrCat(OutboxPrefix(), storage::LengthPrefixed(force),
                                 storage::LengthPrefixed(referral));
  storage::PutFixed64BE(&key, static_cast<uint64_t>(revision));
  return key;
}

std::string QueuePrefix(absl::string_view force, v1::ReferralState state) {
  return absl::StrCat("ocait/q/", storage::LengthPrefixed(force), Byte(state));
}

std::string QueueByGradePrefix(absl::string_view force, v1::ReferralState state,
                               v1::RiskLevel grade) {
  return absl::StrCat("ocait/qg/", storage::LengthPrefixed(force), Byte(state), Byte(grade));
}

std::string QueueByTeamPrefix(absl::string_view force, absl::string_view team,
                              v1::ReferralState state) {
  return absl::StrCat("ocait/qt/", storage::LengthPrefixed(force), storage::LengthPrefixed(team),
                      Byte(state));
}

std::string LinkedPrefix(absl::string_view force, absl::string_view offender) {
  return absl::StrCat("ocait/lo/", storage::LengthPrefixed(force),
                      storage::LengthPrefixed(offender));
}

std::string IdentifierPrefix(absl::string_view force, v1::IdentifierType type,
                             absl::string_view normalized) {
  return absl::StrCat("ocait/id/", storage::LengthPrefixed(force), Byte(type),
                      storage::LengthPrefixed(normalized));
}

std::string CountPrefix(absl::string_view force) {
  return absl::StrCat("ocait/n/", storage::LengthPrefixed(force));
}

std::string CountPrefix(absl::string_view force, absl::string_view team) {
  return absl::StrCat(CountPrefix(force), storage::LengthPrefixed(team));
}

std::string CountName(absl::string_view force, absl::string_view team, v1::ReferralState state,
                      v1::RiskLevel grade) {
  return absl::StrCat(CountPrefix(force, team), Byte(state), Byte(grade));
}

std::vector<std::string> IndexKeys(const v1::Referral& r) {
  const std::string suffix = absl::StrCat(Time(r.received_time()), r.id());
  std::vector<std::string> keys = {
      QueuePrefix(r.force(), r.state()) + suffix,
      QueueByGradePrefix(r.force(), r.state(), r.grade()) + suffix,
      QueueByTeamPrefix(r.force(), r.team(), r.state()) + suffix,
  };
  if (!r.linked_offender_id().empty())
    keys.push_back(LinkedPrefix(r.force(), r.linked_offender_id()) + r.id());
  if (Open(r.state())) {
    for (const v1::SubjectIdentifier& identifier : r.identifiers()) {
      keys.push_back(IdentifierPrefix(r.force(), identifier.type(), identifier.normalized()) +
                     r.id());
    }
  }
  return keys;
}

bool ParseQueueSuffix(absl::string_view suffix, absl::Time* received, std::string* id) {
  if (suffix.size() < 9) return false;
  *received = storage::FromMicros(storage::DecodeOrderedInt64(suffix.data()));
  *id = std::string(suffix.substr(8));
  return true;
}

}  // namespace vigil::ocait
