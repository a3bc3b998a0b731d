#include "storage/change.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::storage {
namespace {

bool IsReservedKey(Family family, absl::string_view key) {
  return family == Family::kMeta ||
         (family == Family::kIndex && absl::StartsWith(key, kAuditIndexPrefix));
}

}  // namespace

void Change::Put(Family family, std::string key, std::string value) {
  ops_.push_back(Op{family, OpType::kPut, std::move(key), std::move(value)});
}

void Change::Delete(Family family, std::string key) {
  ops_.push_back(Op{family, OpType::kDelete, std::move(key), {}});
}

void Change::AddDeadline(const Deadline& deadline, std::string value) {
  ops_.push_back(
      Op{Family::kDeadlines, OpType::kPut, EncodeDeadlineKey(deadline), std::move(value)});
}

void Change::RemoveDeadline(const Deadline& deadline) {
  ops_.push_back(Op{Family::kDeadlines, OpType::kDelete, EncodeDeadlineKey(deadline), {}});
}

void Change::AddEvent(std::string context, std::string payload) {
  events_.push_back(Event{std::move(context), std::move(payload)});
}

void Change::RedactEvent(std::string context, uint64_t sequence, std::string payload) {
  redactions_.push_back(Redaction{std::move(context), sequence, std::move(payload)});
}

void Change::SetAudit(AuditEntry entry) {
  ++audits_set_;
  audits_.push_back(std::move(entry));
}

void Change::AddAudit(AuditEntry entry) { audits_.push_back(std::move(entry)); }

void Change::AddToCounter(absl::string_view name, int64_t delta) {
  if (delta == 0) return;
  for (auto it = counters_.begin(); it != counters_.end(); ++it) {
    if (it->first != name) continue;
    it->second += delta;
    // Deltas that cancel leave the counter as it was: nothing to read or write at commit.
    if (it->second == 0) counters_.erase(it);
    return;
  }
  counters_.emplace_back(std::string(name), delta);
}

void Change::ExpectAbsent(Family family, std::string key) {
  preconditions_.push_back(Precondition{family, std::move(key), std::nullopt});
}

void Change::ExpectValue(Family family, std::string key, std::string value) {
  preconditions_.push_back(Precondition{family, std::move(key), std::move(value)});
}

bool Change::empty() const {
  return ops_.empty() && events_.empty() && redactions_.empty() && audits_.empty() &&
         counters_.empty();
}

absl::Status Change::Validate() const {
  if (audits_set_ > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("SetAudit was called ", audits_set_,
                     " times on one change: set one record, or use AddAudit for several"));
  }
  for (const Op& op : ops_) {
    if (op.family == Family::kEvents || op.family == Family::kAudit) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", kFamilyNames[static_cast<int>(op.family)],
                       " family is written only through SetEvent/SetAudit"));
    }
    if (IsReservedKey(op.family, op.key)) {
      return absl::InvalidArgumentError(absl::StrCat("key '", op.key, "' of family ",
                                                     kFamilyNames[static_cast<int>(op.family)],
                                                     " is reserved to the store"));
    }
    if (op.key.empty()) {
      return absl::InvalidArgumentError("a change may not write an empty key");
    }
  }
  for (const Event& event : events_) {
    if (absl::Status s = ValidateEventContext(event.context); !s.ok()) return s;
  }
  for (const Redaction& redaction : redactions_) {
    if (absl::Status s = ValidateEventContext(redaction.context); !s.ok()) return s;
    if (redaction.sequence == 0) {
      return absl::InvalidArgumentError("a redaction names event 0: sequences begin at 1");
    }
  }
  for (const auto& [name, delta] : counters_) {
    if (name.empty()) return absl::InvalidArgumentError("a counter needs a name");
  }
  return absl::OkStatus();
}

}  // namespace vigil::storage
