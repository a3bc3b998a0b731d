#include "services/policy/policy.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"

namespace vigil::policy {
namespace {

v1::RiskDays Days(int low, int medium, int high, int very_high) {
  v1::RiskDays days;
  days.set_low(low);
  days.set_medium(medium);
  days.set_high(high);
  days.set_very_high(very_high);
  return days;
}

// No interval is longer than ten years: a longer one is a typing error, not a policy.
constexpr int kMaxDays = 3653;

absl::Status CheckDays(absl::string_view field, int days) {
  if (days <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a positive number of days (got ", days, ")"));
  }
  if (days > kMaxDays) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", days, " days is more than ten years"));
  }
  return absl::OkStatus();
}

absl::Status CheckRiskDays(absl::string_view field, bool present, const v1::RiskDays& days) {
  if (!present) return absl::InvalidArgumentError(absl::StrCat(field, ": missing"));
  for (auto [tier, value] :
       {std::pair{"low", days.low()}, std::pair{"medium", days.medium()},
        std::pair{"high", days.high()}, std::pair{"very_high", days.very_high()}}) {
    if (absl::Status s = CheckDays(absl::StrCat(field, ".", tier), value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateEscalation(const v1::Policy& policy) {
  const std::tuple<const char*, bool, const v1::RiskDays*> steps[] = {
      {"escalate_to_sergeant_days", policy.has_escalate_to_sergeant_days(),
       &policy.escalate_to_sergeant_days()},
      {"escalate_to_inspector_days", policy.has_escalate_to_inspector_days(),
       &policy.escalate_to_inspector_days()},
      {"escalate_to_superintendent_days", policy.has_escalate_to_superintendent_days(),
       &policy.escalate_to_superintendent_days()}};
  for (auto [field, present, days] : steps) {
    if (absl::Status s = CheckRiskDays(field, present, *days); !s.ok()) return s;
  }
  for (int step = 1; step < 3; ++step) {
    const auto& [field, present, days] = steps[step];
    const v1::RiskDays& before = *std::get<2>(steps[step - 1]);
    for (auto [tier, value, previous] :
         {std::tuple{"low", days->low(), before.low()},
          std::tuple{"medium", days->medium(), before.medium()},
          std::tuple{"high", days->high(), before.high()},
          std::tuple{"very_high", days->very_high(), before.very_high()}}) {
      if (value <= previous) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".", tier, ": ", value,
                                                       " days must come after the step before (",
                                                       previous, " days)"));
      }
    }
  }
  if (policy.acknowledgement_expiry_days() < 1 || policy.acknowledgement_expiry_days() > 365) {
    return absl::InvalidArgumentError(
        absl::StrCat("acknowledgement_expiry_days: must be 1-365 (got ",
                     policy.acknowledgement_expiry_days(), ")"));
  }
  // Optional fields: unset takes the default.
  if (policy.has_due_soon_percent() &&
      (policy.due_soon_percent() < 0 || policy.due_soon_percent() > 99)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "due_soon_percent: must be 0-99, 0 for no warnings (got ", policy.due_soon_percent(), ")"));
  }
  for (int i = 0; i < policy.due_soon_percent_by_kind_size(); ++i) {
    const v1::KindPercent& entry = policy.due_soon_percent_by_kind(i);
    const std::string field = absl::StrCat("due_soon_percent_by_kind[", i, "]");
    if (!v1::ObligationKind_IsValid(entry.kind()) ||
        entry.kind() == v1::OBLIGATION_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".kind: name an obligation kind (got ", entry.kind(), ")"));
    }
    if (entry.percent() < 0 || entry.percent() > 99) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".percent: must be 0-99, 0 for no warnings (got ", entry.percent(), ")"));
    }
    for (int j = 0; j < i; ++j) {
      if (policy.due_soon_percent_by_kind(j).kind() == entry.kind()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".kind: ", v1::ObligationKind_Name(entry.kind()),
                         " is already given at [", j, "]"));
      }
    }
  }
  if (policy.has_acknowledgement_reminder_days() &&
      (policy.acknowledgement_reminder_days() < 0 ||
       policy.acknowledgement_reminder_days() > 365)) {
    return absl::InvalidArgumentError(
        absl::StrCat("acknowledgement_reminder_days: must be 0-365, 0 for no reminders (got ",
                     policy.acknowledgement_reminder_days(), ")"));
  }
  if (policy.ocait_queue_manager().size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("ocait_queue_manager: at most 128 characters (got ",
                     policy.ocait_queue_manager().size(), ")"));
  }
  if (policy.has_escalation_late_minutes() &&
      (policy.escalation_late_minutes() < 1 || policy.escalation_late_minutes() > 1440)) {
    return absl::InvalidArgumentError(absl::StrCat("escalation_late_minutes: must be 1-1440 (got ",
                                                   policy.escalation_late_minutes(), ")"));
  }
  const v1::RetentionPolicy& retention = policy.retention();
  for (const auto& [field, years] :
       {std::pair<absl::string_view, int>{"group1_review_years", retention.group1_review_years()},
        {"group2_review_years", retention.group2_review_years()},
        {"group3_clear_years", retention.group3_clear_years()}}) {
    if (years < 0 || years > 100) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention.", field, ": must be 1-100 years, or 0 for the default (got ", years, ")"));
    }
  }
  if (!v1::RetentionGroup_IsValid(retention.referral_group())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retention.referral_group: not a retention group (got ", retention.referral_group(), ")"));
  }
  return absl::OkStatus();
}

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

v1::Policy DefaultPolicy() {
  v1::Policy policy;
  policy.set_arms_initial_days(28);
  *policy.mutable_arms_reassessment_days() = Days(365, 365, 180, 90);
  policy.set_arms_trigger_days(28);
  policy.set_rmp_review_after_arms_days(28);
  *policy.mutable_rmp_review_days() = Days(365, 365, 180, 90);
  policy.set_rmp_sign_off_days(kDefaultRmpSignOffDays);
  *policy.mutable_visit_interval_days() = Days(365, 182, 91, 30);
  policy.set_visit_interval_unassessed_days(91);
  policy.set_reactive_offence_free_years(3);
  policy.set_compliance_window_visits(4);
  policy.set_office_hours_start(8);
  policy.set_office_hours_end(18);
  policy.set_flat_diarising_share_percent(80);
  policy.set_flat_diarising_min_offenders(5);
  policy.set_referral_triage_days(1);
  *policy.mutable_referral_action_days() = Days(30, 14, 7, 1);
  *policy.mutable_intel_refresh_days() = Days(28, 14, 7, 3);
  *policy.mutable_csc_check_days() = Days(3, 3, 1, 1);
  v1::WorkloadWeights& w = *policy.mutable_workload();
  w.set_arms_assessment(3);
  w.set_rmp_review(2);
  w.set_home_visit(2);
  w.set_notification(0.5);
  w.set_referral_action(4);
  w.set_intel_refresh(1);
  w.set_csc_check(1);
  w.set_rmp_sign_off(1);
  w.set_not_assessed_multiplier(1.5);
  w.set_low_multiplier(1);
  w.set_medium_multiplier(1.25);
  w.set_high_multiplier(1.5);
  w.set_very_high_multiplier(2);
  w.set_officer_capacity(250);
  // DOMAIN.md: very high +1, +3, +7 days; low +14, +60, +180.
  *policy.mutable_escalate_to_sergeant_days() = Days(14, 7, 3, 1);
  *policy.mutable_escalate_to_inspector_days() = Days(60, 30, 14, 3);
  *policy.mutable_escalate_to_superintendent_days() = Days(180, 90, 30, 7);
  policy.set_acknowledgement_expiry_days(7);
  policy.set_due_soon_percent(kDefaultDueSoonPercent);
  policy.set_acknowledgement_reminder_days(kDefaultAcknowledgementReminderDays);
  policy.set_escalation_late_minutes(kDefaultEscalationLateMinutes);
  return policy;
}

int RmpSignOffDays(const v1::Policy& policy) {
  return policy.rmp_sign_off_days() > 0 ? policy.rmp_sign_off_days() : kDefaultRmpSignOffDays;
}

absl::Status ValidatePolicy(const v1::Policy& policy) {
  if (absl::Status s = CheckDays("arms_initial_days", policy.arms_initial_days()); !s.ok())
    return s;
  if (absl::Status s = CheckRiskDays("arms_reassessment_days", policy.has_arms_reassessment_days(),
                                     policy.arms_reassessment_days());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDays("arms_trigger_days", policy.arms_trigger_days()); !s.ok())
    return s;
  if (absl::Status s = CheckDays("rmp_review_after_arms_days", policy.rmp_review_after_arms_days());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRiskDays("rmp_review_days", policy.has_rmp_review_days(), policy.rmp_review_days());
      !s.ok()) {
    return s;
  }
  // 0: a policy stored before the field existed, which means the default.
  if (policy.rmp_sign_off_days() != 0) {
    if (absl::Status s = CheckDays("rmp_sign_off_days", policy.rmp_sign_off_days()); !s.ok())
      return s;
  }
  if (absl::Status s = CheckRiskDays("visit_interval_days", policy.has_visit_interval_days(),
                                     policy.visit_interval_days());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckDays("visit_interval_unassessed_days", policy.visit_interval_unassessed_days());
      !s.ok()) {
    return s;
  }
  auto range = [](absl::string_view field, int value, int low, int high) -> absl::Status {
    if (value < low || value > high) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must be ", low, "-", high, " (got ", value, ")"));
    }
    return absl::OkStatus();
  };
  for (const absl::Status& s :
       {range("reactive_offence_free_years", policy.reactive_offence_free_years(), 1, 20),
        range("compliance_window_visits", policy.compliance_window_visits(), 2, 50),
        range("office_hours_start", policy.office_hours_start(), 0, 23),
        range("office_hours_end", policy.office_hours_end(), policy.office_hours_start() + 1, 24),
        range("flat_diarising_share_percent", policy.flat_diarising_share_percent(), 50, 100),
        range("flat_diarising_min_offenders", policy.flat_diarising_min_offenders(), 2, 10000)}) {
    if (!s.ok()) return s;
  }
  if (absl::Status s = CheckDays("referral_triage_days", policy.referral_triage_days()); !s.ok()) {
    return s;
  }
  for (auto [field, present, days] :
       {std::tuple{"referral_action_days", policy.has_referral_action_days(),
                   &policy.referral_action_days()},
        std::tuple{"intel_refresh_days", policy.has_intel_refresh_days(),
                   &policy.intel_refresh_days()},
        std::tuple{"csc_check_days", policy.has_csc_check_days(), &policy.csc_check_days()}}) {
    if (absl::Status s = CheckRiskDays(field, present, *days); !s.ok()) return s;
  }
  if (!policy.has_workload()) return absl::InvalidArgumentError("workload: missing");
  const v1::WorkloadWeights& w = policy.workload();
  for (auto [field, value] :
       {std::pair{"workload.arms_assessment", w.arms_assessment()},
        std::pair{"workload.rmp_review", w.rmp_review()},
        std::pair{"workload.home_visit", w.home_visit()},
        std::pair{"workload.notification", w.notification()},
        std::pair{"workload.referral_action", w.referral_action()},
        std::pair{"workload.intel_refresh", w.intel_refresh()},
        std::pair{"workload.csc_check", w.csc_check()},
        std::pair{"workload.rmp_sign_off", w.rmp_sign_off()},
        std::pair{"workload.not_assessed_multiplier", w.not_assessed_multiplier()},
        std::pair{"workload.low_multiplier", w.low_multiplier()},
        std::pair{"workload.medium_multiplier", w.medium_multiplier()},
        std::pair{"workload.high_multiplier", w.high_multiplier()},
        std::pair{"workload.very_high_multiplier", w.very_high_multiplier()}}) {
    if (!(value >= 0 && value <= 100)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": must be 0-100 (got ", value, ")"));
    }
  }
  if (!(w.officer_capacity() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workload.officer_capacity: must be positive (got ", w.officer_capacity(), ")"));
  }
  return ValidateEscalation(policy);
}

absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text) {
  v1::Policy policy;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &policy)) {
    return absl::InvalidArgumentError(absl::StrCat("policy: ", errors.first()));
  }
  if (absl::Status s = ValidatePolicy(policy); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("policy: ", s.message()));
  }
  return policy;
}

absl::StatusOr<v1::Policy> LoadPolicyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("policy file ", path, " cannot be read"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<v1::Policy> policy = ParsePolicyText(buffer.str());
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

int DueSoonPercent(const v1::Policy& policy, v1::ObligationKind kind) {
  for (const v1::KindPercent& entry : policy.due_soon_percent_by_kind()) {
    if (entry.kind() == kind) return entry.percent();
  }
  return policy.has_due_soon_percent() ? policy.due_soon_percent() : kDefaultDueSoonPercent;
}

int DaysFor(const v1::RiskDays& days, v1::RiskLevel risk) {
  switch (risk) {
    case v1::RISK_LEVEL_LOW:
      return days.low();
    case v1::RISK_LEVEL_MEDIUM:
      return days.medium();
    case v1::RISK_LEVEL_HIGH:
      return days.high();
    case v1::RISK_LEVEL_VERY_HIGH:
      return days.very_high();
    default:
      return 0;
  }
}

std::string RiskName(v1::RiskLevel risk) {
  switch (risk) {
    case v1::RISK_LEVEL_LOW:
      return "low";
    case v1::RISK_LEVEL_MEDIUM:
      return "medium";
    case v1::RISK_LEVEL_HIGH:
      return "high";
    case v1::RISK_LEVEL_VERY_HIGH:
      return "very high";
    default:
      return "not assessed";
  }
}

int RetentionYears(const v1::Policy& policy, v1::RetentionGroup group) {
  const v1::RetentionPolicy& r = policy.retention();
  switch (group) {
    case v1::RETENTION_GROUP_3:
      return r.group3_clear_years() > 0 ? r.group3_clear_years() : kDefaultGroup3ClearYears;
    case v1::RETENTION_GROUP_2:
      return r.group2_review_years() > 0 ? r.group2_review_years() : kDefaultGroupReviewYears;
    default:
      return r.group1_review_years() > 0 ? r.group1_review_years() : kDefaultGroupReviewYears;
  }
}

v1::RetentionGroup ReferralRetentionGroup(const v1::Policy& policy) {
  return policy.retention().referral_group() != v1::RETENTION_GROUP_UNSPECIFIED
             ? policy.retention().referral_group()
             : v1::RETENTION_GROUP_2;
}

absl::Time RetentionReviewDue(const v1::Policy& policy, v1::RetentionGroup group,
                              const v1::Retention& retention, absl::Time update_time,
                              absl::TimeZone zone) {
  const absl::Time activity =
      retention.has_last_activity_time() ? TimeOf(retention.last_activity_time()) : update_time;
  const auto years_after = [&](absl::Time t) {
    const absl::TimeZone::CivilInfo local = zone.At(t);
    const absl::CivilSecond later(local.cs.year() + RetentionYears(policy, group), local.cs.month(),
                                  local.cs.day(), local.cs.hour(), local.cs.minute(),
                                  local.cs.second());
    return zone.At(later).pre;
  };
  if (retention.reviews().empty()) return years_after(activity);
  const v1::RetentionReview& last = *retention.reviews().rbegin();
  const absl::Time reviewed = TimeOf(last.review_time());
  const absl::Time next = TimeOf(last.next_review_time());
  if (activity <= reviewed) return next;
  return std::max(next, years_after(activity));
}

bool SameRules(const v1::Policy& a, const v1::Policy& b) {
  // An optional field left unset means its default: a policy stored before the field existed
  // sets the same rules as one that spells the default out.
  const auto rules = [](const v1::Policy& p) {
    v1::Policy r = p;
    r.clear_version();
    r.clear_description();
    if (!r.has_due_soon_percent()) r.set_due_soon_percent(kDefaultDueSoonPercent);
    if (!r.has_acknowledgement_reminder_days()) {
      r.set_acknowledgement_reminder_days(kDefaultAcknowledgementReminderDays);
    }
    if (!r.has_escalation_late_minutes()) {
      r.set_escalation_late_minutes(kDefaultEscalationLateMinutes);
    }
    if (r.rmp_sign_off_days() == 0) r.set_rmp_sign_off_days(kDefaultRmpSignOffDays);
    v1::RetentionPolicy& retention = *r.mutable_retention();
    retention.set_group1_review_years(RetentionYears(r, v1::RETENTION_GROUP_1));
    retention.set_group2_review_years(RetentionYears(r, v1::RETENTION_GROUP_2));
    retention.set_group3_clear_years(RetentionYears(r, v1::RETENTION_GROUP_3));
    retention.set_referral_group(ReferralRetentionGroup(r));
    return r;
  };
  return google::protobuf::util::MessageDifferencer::Equals(rules(a), rules(b));
}

}  // namespace vigil::policy
