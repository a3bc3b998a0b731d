// The referral queue's reads: one referral, listings (by queue, grade, team, linked offender),
// and counts (queue.h). The commands are in queue.cc.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/ocait/keys.h"
#include "services/ocait/queue.h"
#include "storage/key_codec.h"

namespace vigil::ocait {

using storage::Family;

absl::StatusOr<v1::Referral> Queue::Get(const CallContext& call,
                                        const v1::GetReferralRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("id", request.id()));
  return records_.Read(call, request.id());
}

absl::StatusOr<v1::ListReferralsResponse> Queue::List(const CallContext& call,
                                                      const v1::ListReferralsRequest& request) {
  if (!v1::ReferralState_IsValid(request.state())) return FieldError("state", "unknown value");
  if (!v1::RiskLevel_IsValid(request.grade())) return FieldError("grade", "unknown value");
  if (!v1::ReferralOrder_IsValid(request.order())) return FieldError("order", "unknown value");
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  if (!request.linked_offender_id().empty()) {
    VIGIL_RETURN_IF_ERROR(ValidateId("linked_offender_id", request.linked_offender_id()));
  }
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const std::string& force = call.principal.force;
  std::string team = request.team();
  std::string officer;
  if (absl::Status refused = call.NarrowToCaseload(team, officer); !refused.ok()) {
    VIGIL_RETURN_IF_ERROR(records_.AuditRead(call, {}, refused.message()));
    return refused;
  }
  const bool newest_first = request.order() == v1::REFERRAL_ORDER_NEWEST_FIRST;
  const std::string query =
      absl::StrCat("referrals|", force, "|s=", request.state(), "|g=", request.grade(), "|t=", team,
                   "|a=", officer, "|o=", request.order(), "|l=", request.linked_offender_id(),
                   "|c=", request.include_closed());
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));

  std::vector<v1::ReferralState> states;
  if (request.state() != v1::REFERRAL_STATE_UNSPECIFIED) {
    states = {request.state()};
  } else {
    states = {v1::REFERRAL_STATE_RECEIVED, v1::REFERRAL_STATE_AWAITING_ALLOCATION,
              v1::REFERRAL_STATE_ALLOCATED, v1::REFERRAL_STATE_ACTIONED};
    if (request.include_closed() || !request.linked_offender_id().empty()) {
      states.push_back(v1::REFERRAL_STATE_CLOSED);
    }
  }
  // Candidates as (received, id), in queue order. The cursor is the last one returned.
  const storage::ReadView view = records_.store().Snapshot();
  std::vector<std::pair<int64_t, std::string>> candidates;
  auto collect = [&](const std::string& prefix) -> absl::Status {
    absl::Status malformed;
    VIGIL_RETURN_IF_ERROR(
        view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
          absl::Time received;
          std::string id;
          if (!ParseQueueSuffix(key.substr(prefix.size()), &received, &id)) {
            malformed = absl::DataLossError("a queue index entry is malformed");
            return false;
          }
          candidates.emplace_back(storage::ToMicros(received), std::move(id));
          return true;
        }));
    return malformed;
  };
  if (!request.linked_offender_id().empty()) {
    const std::string prefix = LinkedPrefix(force, request.linked_offender_id());
    std::vector<std::string> ids;
    VIGIL_RETURN_IF_ERROR(
        view.ScanPrefix(Family::kIndex, prefix, {}, [&](absl::string_view key, absl::string_view) {
          ids.emplace_back(key.substr(prefix.size()));
          return true;
        }));
    for (const std::string& id : ids) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Referral> r, records_.Load(view, force, id));
      if (r.has_value()) candidates.emplace_back(storage::ToMicros(TimeOf(r->received_time())), id);
    }
  } else {
    for (v1::ReferralState state : states) {
      if (!team.empty()) {
        VIGIL_RETURN_IF_ERROR(collect(QueueByTeamPrefix(force, team, state)));
      } else if (request.grade() != v1::RISK_LEVEL_UNSPECIFIED) {
        VIGIL_RETURN_IF_ERROR(collect(QueueByGradePrefix(force, state, request.grade())));
      } else {
        VIGIL_RETURN_IF_ERROR(collect(QueuePrefix(force, state)));
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());
  if (newest_first) std::reverse(candidates.begin(), candidates.end());

  std::pair<int64_t, std::string> after;
  if (!cursor.empty()) {
    if (cursor.size() < 8) return FieldError("page_token", "is not a token this server issued");
    after = {static_cast<int64_t>(storage::DecodeFixed64BE(cursor.data())), cursor.substr(8)};
  }
  v1::ListReferralsResponse response;
  std::string last;
  for (const auto& candidate : candidates) {
    if (!cursor.empty() && (newest_first ? candidate >= after : candidate <= after)) continue;
    VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Referral> r,
                           records_.Load(view, force, candidate.second));
    if (!r.has_value()) continue;
    const bool match =
        (request.state() == v1::REFERRAL_STATE_UNSPECIFIED
             ? std::find(states.begin(), states.end(), r->state()) != states.end()
             : r->state() == request.state()) &&
        (request.grade() == v1::RISK_LEVEL_UNSPECIFIED || r->grade() == request.grade()) &&
        (team.empty() || r->team() == team) &&
        (officer.empty() || r->allocated_officer() == officer) &&
        call.MaySee(r->team(), r->allocated_officer());
    if (!match) continue;
    if (response.referrals_size() == page_size) {
      response.set_next_page_token(EncodePageToken(query, last));
      break;
    }
    last.clear();
    storage::PutFixed64BE(&last, static_cast<uint64_t>(candidate.first));
    last.append(candidate.second);
    *response.add_referrals() = *std::move(r);
  }
  std::vector<std::string> subjects;
  for (const v1::Referral& r : response.referrals()) subjects.push_back(r.id());
  VIGIL_RETURN_IF_ERROR(records_.AuditRead(call, std::move(subjects)));
  return response;
}

absl::StatusOr<v1::CountReferralsResponse> Queue::Count(const CallContext& call,
                                                        const v1::CountReferralsRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateText("team", request.team(), 64, false));
  const std::string& force = call.principal.force;
  const storage::ReadView view = records_.store().Snapshot();
  const std::string prefix =
      request.team().empty() ? CountPrefix(force) : CountPrefix(force, request.team());
  std::map<std::pair<int, int>, int64_t> counts;
  VIGIL_RETURN_IF_ERROR(view.ScanCounters(prefix, [&](absl::string_view name, int64_t value) {
    // name: prefix [lp(team)] state:u8 grade:u8 -- the last two bytes, whatever the team.
    if (name.size() >= 2) {
      counts[{static_cast<uint8_t>(name[name.size() - 2]), static_cast<uint8_t>(name.back())}] +=
          value;
    }
    return true;
  }));
  v1::CountReferralsResponse response;
  for (const auto& [cell, count] : counts) {
    if (count == 0) continue;
    v1::ReferralCount* row = response.add_counts();
    row->set_state(static_cast<v1::ReferralState>(cell.first));
    row->set_grade(static_cast<v1::RiskLevel>(cell.second));
    row->set_count(count);
    if (row->state() != v1::REFERRAL_STATE_CLOSED)
      response.set_open_total(response.open_total() + count);
    // The oldest receipt: the first queue entry of that state and grade (of the team, if asked).
    const std::string queue = request.team().empty()
                                  ? QueueByGradePrefix(force, row->state(), row->grade())
                                  : QueueByTeamPrefix(force, request.team(), row->state());
    absl::Status malformed;
    VIGIL_RETURN_IF_ERROR(
        view.ScanPrefix(Family::kIndex, queue, {}, [&](absl::string_view key, absl::string_view) {
          absl::Time received;
          std::string id;
          if (!ParseQueueSuffix(key.substr(queue.size()), &received, &id)) {
            malformed = absl::DataLossError("a queue index entry is malformed");
            return false;
          }
          if (!request.team().empty()) {
            absl::StatusOr<std::optional<v1::Referral>> r = records_.Load(view, force, id);
            if (!r.ok() || !r->has_value() || (*r)->grade() != row->grade()) return true;
          }
          *row->mutable_oldest_received_time() = ToProtoTime(received);
          return false;
        }));
    VIGIL_RETURN_IF_ERROR(malformed);
  }
  return response;
}

}  // namespace vigil::ocait
