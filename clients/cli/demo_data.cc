#include "clients/cli/demo_data.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/cli/format.h"

namespace vigil::cli {
namespace {

constexpr const char* kTeams[] = {"north",   "south", "east", "west",
                                  "central", "coast", "city", "rural"};
constexpr const char* kFirst[] = {"Adam",  "Brian", "Carl",  "David",  "Edward", "Frank", "Gary",
                                  "Harry", "Ian",   "James", "Keith",  "Liam",   "Mark",  "Neil",
                                  "Owen",  "Paul",  "Ryan",  "Steven", "Thomas", "Wayne"};
constexpr const char* kLast[] = {"Smith",    "Jones",   "Taylor", "Brown",    "Williams",
                                 "Wilson",   "Johnson", "Davies", "Robinson", "Wright",
                                 "Thompson", "Evans",   "Walker", "White",    "Roberts",
                                 "Green",    "Hall",    "Wood",   "Jackson",  "Clarke"};

// Days the policy allows by risk (very high, high, medium, low), for ageing plausibly.
int ArmsDays(v1::RiskLevel r) {
  return r == v1::RISK_LEVEL_VERY_HIGH ? 90 : r == v1::RISK_LEVEL_HIGH ? 180 : 365;
}
int VisitDays(v1::RiskLevel r) {
  switch (r) {
    case v1::RISK_LEVEL_VERY_HIGH:
      return 30;
    case v1::RISK_LEVEL_HIGH:
      return 91;
    case v1::RISK_LEVEL_MEDIUM:
      return 182;
    default:
      return 365;
  }
}

}  // namespace

DemoData GenerateDemo(const DemoOptions& options) {
  std::mt19937_64 rng(options.seed);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  // Plan histories and sign-offs draw from their own generator, so that adding them left the
  // rest of a seed's data as it was.
  std::mt19937_64 plan_rng(options.seed + 17);
  auto plan_uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(plan_rng);
  };
  // So do the notification lifecycle's draws (under 18 at conviction, awaiting the initial
  // notification).
  std::mt19937_64 life_rng(options.seed + 29);
  auto life_chance = [&](double p) {
    return std::uniform_real_distribution<double>(0, 1)(life_rng) < p;
  };
  auto days_ago = [&](double days) { return ToTimestamp(options.now - absl::Hours(24) * days); };
  const int teams = std::min<int>(options.teams, std::size(kTeams));
  DemoData data;

  for (int i = 0; i < options.offenders; ++i) {
    v1::OffenderImportRow row;
    row.set_line(i + 2);
    v1::Offender* o = row.mutable_offender();
    o->set_id(absl::StrFormat("%s%05d", options.prefix.substr(0, 1), i + 1));
    o->set_visor_ref(absl::StrFormat("%s/%06d", options.prefix, i + 1));
    o->set_display_name(
        absl::StrCat(kFirst[rng() % std::size(kFirst)], " ", kLast[rng() % std::size(kLast)]));
    const int team = static_cast<int>(rng() % teams);
    o->set_team(kTeams[team]);
    o->set_owner_officer(absl::StrFormat("DC %d%02d", 1 + team,
                                         static_cast<int>(rng() % options.officers_per_team)));
    const double r = uniform(0, 1);
    const v1::RiskLevel risk = r < 0.05   ? v1::RISK_LEVEL_VERY_HIGH
                               : r < 0.20 ? v1::RISK_LEVEL_HIGH
                               : r < 0.55 ? v1::RISK_LEVEL_MEDIUM
                               : r < 0.92 ? v1::RISK_LEVEL_LOW
                                          : v1::RISK_LEVEL_UNSPECIFIED;
    const bool assessed = risk != v1::RISK_LEVEL_UNSPECIFIED;
    const double registered = assessed ? uniform(400, 5000) : uniform(5, 120);
    *o->mutable_registered_time() = days_ago(registered);
    const double s = uniform(0, 1);
    o->set_status(s < 0.92   ? v1::OFFENDER_STATUS_ACTIVE_COMMUNITY
                  : s < 0.96 ? v1::OFFENDER_STATUS_IN_CUSTODY
                  : s < 0.98 ? v1::OFFENDER_STATUS_WANTED
                             : v1::OFFENDER_STATUS_ABROAD);
    const v1::NotificationPeriod periods[] = {
        v1::NOTIFICATION_PERIOD_INDEFINITE, v1::NOTIFICATION_PERIOD_10_YEARS,
        v1::NOTIFICATION_PERIOD_7_YEARS, v1::NOTIFICATION_PERIOD_5_YEARS};
    o->set_notification_period(periods[rng() % 4]);
    o->set_mappa_category(1 + static_cast<int>(rng() % 3));
    o->set_mappa_level(risk >= v1::RISK_LEVEL_HIGH ? 2 : 1);
    *o->mutable_last_notification_time() = days_ago(std::min(registered, uniform(10, 420)));
    double arms = 0;
    if (assessed) {
      // About three in ten reassessments are overdue, a few badly.
      arms = std::min(registered - 1, uniform(5, ArmsDays(risk) * (chance(0.08) ? 3.0 : 1.35)));
      *row.mutable_last_arms_time() = days_ago(arms);
      row.set_last_arms_risk_level(risk);
      if (chance(0.85))
        *row.mutable_last_rmp_review_time() = days_ago(std::max(1.0, arms - uniform(0, 40)));
    }
    if (o->status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY && chance(0.97)) {
      const double since =
          std::min(registered - 1, uniform(3, VisitDays(risk) * (chance(0.1) ? 3.5 : 1.4)));
      *row.mutable_last_visit_time() = days_ago(since);
    }
    // Plans: one team diarises every visit at twelve months whatever the risk.
    if (assessed && o->status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY) {
      v1::RecordRiskManagementPlanRequest plan;
      plan.set_offender_id(o->id());
      const double reviewed = std::max(1.0, arms - uniform(0, 20));
      *plan.mutable_reviewed_time() = days_ago(reviewed);
      plan.set_author(o->owner_officer());
      plan.set_supervision("fortnightly contact; MAPPA review");
      plan.set_monitoring_and_control("home visits; device checks");
      plan.set_victim_safety("exclusion zone around the victim's home");
      const bool serious = risk >= v1::RISK_LEVEL_HIGH;
      plan.set_officers_required(serious ? 2 : 1);
      plan.set_device_check_required(serious);
      plan.set_unannounced_share_percent(serious ? 50 : 25);
      if (team == 2) {
        plan.set_visit_interval_days(365);
        plan.set_reason("annual visit diary");
      }
      plan.set_request_id(absl::StrCat(options.prefix, "/rmp/", o->id()));
      if (plan_uniform(0, 1) < 0.25 && reviewed + 300 < registered - 1) {
        // The plan before this one, a year earlier: version 1 of an RMP history.
        v1::RecordRiskManagementPlanRequest earlier = plan;
        *earlier.mutable_reviewed_time() =
            days_ago(std::min(registered - 1, reviewed + plan_uniform(300, 380)));
        earlier.set_officers_required(1);
        earlier.set_unannounced_share_percent(plan.unannounced_share_percent() / 2);
        earlier.set_request_id(absl::StrCat(options.prefix, "/rmp0/", o->id()));
        data.plans.push_back(std::move(earlier));
      }
      if (plan_uniform(0, 1) < 0.5) {
        v1::SignOffRiskManagementPlanRequest sign_off;
        sign_off.set_offender_id(o->id());
        sign_off.set_note("plan agreed at the team's MAPPA review");
        sign_off.set_request_id(absl::StrCat(options.prefix, "/rmp-sign-off/", o->id()));
        data.sign_offs.push_back(std::move(sign_off));
      }
      data.plans.push_back(std::move(plan));
      // Recent visits to riskier offenders, a third of them single-crewed against the plan.
      if (serious && chance(0.5)) {
        v1::RecordVisitRequest visit;
        visit.set_offender_id(o->id());
        *visit.mutable_visit_time() = days_ago(uniform(1, 20));
        visit.add_officers(o->owner_officer());
        if (chance(0.66))
          visit.add_officers(absl::StrFormat("PC %d", 300 + static_cast<int>(rng() % 50)));
        visit.set_announced(chance(0.7));
        visit.set_outcome(chance(0.9) ? v1::VISIT_OUTCOME_SEEN : v1::VISIT_OUTCOME_NO_ACCESS);
        visit.set_device_check_done(chance(0.6));
        if (visit.device_check_done())
          visit.set_device_check_result(v1::DEVICE_CHECK_RESULT_NOTHING_FOUND);
        visit.set_request_id(absl::StrCat(options.prefix, "/visit/", o->id()));
        data.visits.push_back(std::move(visit));
      }
    }
    // Indefinite requirements of those convicted under 18 are reviewed after 8 years, so some
    // reviews are due; a few new offenders are still awaiting their initial notification (due
    // 3 days after the conviction or release).
    if (o->notification_period() == v1::NOTIFICATION_PERIOD_INDEFINITE && life_chance(0.3)) {
      o->set_under_18_at_conviction(true);
    }
    if (!assessed && o->status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY && life_chance(0.3)) {
      o->clear_registered_time();
      o->clear_last_notification_time();
      row.clear_last_visit_time();
      *o->mutable_requirement_start_time() =
          days_ago(std::uniform_real_distribution<double>(1, 6)(life_rng));
    }
    data.offenders.push_back(std::move(row));
  }

  // The referral queue: years of ageing back to August 2019.
  const absl::Time queue_start =
      absl::FromCivil(absl::CivilSecond(2019, 8, 1), absl::UTCTimeZone());
  const double span_days = std::max(30.0, absl::ToDoubleHours(options.now - queue_start) / 24);
  for (int i = 0; i < options.referrals; ++i) {
    v1::ReferralImportRow row;
    row.set_line(i + 2);
    v1::Referral* r = row.mutable_referral();
    r->set_source_reference(absl::StrFormat("NCA-%s-%06d", options.prefix, i + 1));
    r->set_source(chance(0.8)   ? v1::REFERRAL_SOURCE_NCA_CEOP
                  : chance(0.5) ? v1::REFERRAL_SOURCE_OTHER_FORCE
                                : v1::REFERRAL_SOURCE_INTERNAL);
    // Skewed to recent receipts, with a long tail back to 2019.
    const double age = span_days * std::pow(uniform(0, 1), 2.2);
    *r->mutable_received_time() = days_ago(std::max(0.5, age));
    r->set_subject_display_name(
        absl::StrCat(kFirst[rng() % std::size(kFirst)], " ", kLast[rng() % std::size(kLast)]));
    v1::SubjectIdentifier* email = r->add_identifiers();
    email->set_type(v1::IDENTIFIER_TYPE_EMAIL);
    email->set_value(absl::StrFormat("user%05d@example.net",
                                     static_cast<int>(rng() % (options.referrals * 3 + 1))));
    if (chance(0.5)) {
      v1::SubjectIdentifier* account = r->add_identifiers();
      account->set_type(v1::IDENTIFIER_TYPE_ACCOUNT);
      account->set_value(
          absl::StrFormat("snapchat:kid_%04d", static_cast<int>(rng() % (options.referrals + 1))));
    }
    r->set_team("ocait");
    // One referral in ten is about a registered offender of the force (no random draws here,
    // so the rest of the demo stays as it was).
    if (i % 10 == 7 && !data.offenders.empty()) {
      const v1::Offender& offender =
          data.offenders[(static_cast<size_t>(i) * 7919) % data.offenders.size()].offender();
      r->set_linked_offender_id(offender.id());
      r->set_subject_display_name(offender.display_name());
    }
    const double s = uniform(0, 1);
    const v1::ReferralState state = s < 0.2    ? v1::REFERRAL_STATE_RECEIVED
                                    : s < 0.65 ? v1::REFERRAL_STATE_AWAITING_ALLOCATION
                                    : s < 0.9  ? v1::REFERRAL_STATE_ALLOCATED
                                               : v1::REFERRAL_STATE_ACTIONED;
    r->set_state(state);
    if (state != v1::REFERRAL_STATE_RECEIVED) {
      const double g = uniform(0, 1);
      r->set_grade(g < 0.05   ? v1::RISK_LEVEL_VERY_HIGH
                   : g < 0.25 ? v1::RISK_LEVEL_HIGH
                   : g < 0.7  ? v1::RISK_LEVEL_MEDIUM
                              : v1::RISK_LEVEL_LOW);
    }
    if (state == v1::REFERRAL_STATE_ALLOCATED || state == v1::REFERRAL_STATE_ACTIONED) {
      r->set_allocated_officer(absl::StrFormat("DC %d", 900 + static_cast<int>(rng() % 6)));
    }
    // Every tenth waiting referral has had its intelligence refreshed (CSC not reachable), and
    // every thirtieth low or medium one was regraded high on finding access to children. No
    // random draws here: the rest of the demo stays as it was.
    const bool waiting =
        state == v1::REFERRAL_STATE_AWAITING_ALLOCATION || state == v1::REFERRAL_STATE_ALLOCATED;
    if (waiting && i % 10 == 3) {
      r->set_id(absl::StrFormat("%s-Q%06d", options.prefix, i + 1));
      v1::RecordIntelRefreshRequest refresh;
      refresh.set_id(r->id());
      *refresh.mutable_refreshed_time() = days_ago(std::max(0.25, age / 3));
      v1::IntelChecks* checks = refresh.mutable_checks();
      checks->mutable_csc_record()->set_status(v1::INTEL_CHECK_STATUS_NOT_POSSIBLE);
      checks->mutable_csc_record()->set_not_possible_reason(
          "CSC duty desk could not search out of hours; re-request made");
      for (v1::IntelCheck* done :
           {checks->mutable_household_children_record(),
            checks->mutable_regulated_activity_record(), checks->mutable_police_systems_record()}) {
        done->set_status(v1::INTEL_CHECK_STATUS_DONE);
        done->set_outcome("nothing new since triage");
      }
      refresh.set_findings("no change in circumstances found");
      const bool regrade = i % 30 == 3 && r->grade() <= v1::RISK_LEVEL_MEDIUM;
      if (regrade) {
        checks->mutable_household_children_record()->set_outcome(
            "partner's two children now stay at the address at weekends");
        refresh.set_children_access_found(true);
        refresh.set_new_grade(v1::RISK_LEVEL_HIGH);
        refresh.set_findings("new access to children: regraded high");
      }
      refresh.set_request_id(absl::StrCat(options.prefix, "/refresh/", r->id()));
      data.refreshes.push_back(std::move(refresh));
    }
    data.referrals.push_back(std::move(row));
  }
  return data;
}

}  // namespace vigil::cli
