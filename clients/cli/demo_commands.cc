// `vigil demo seed`: loads a synthetic force through the public API. `vigil demo generate`:
// writes one as CSV files for `vigil import`.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "clients/cli/cli.h"
#include "clients/cli/csv.h"
#include "clients/cli/demo_data.h"
#include "clients/cli/format.h"
#include "clients/cli/import_columns.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string Date(bool present, const google::protobuf::Timestamp& ts) {
  return present ? FormatTimestamp(ts) : "";
}

std::string Enum(const google::protobuf::EnumDescriptor* type, int value,
                 absl::string_view prefix) {
  return value == 0 ? "" : EnumText(type, value, prefix);
}

// The columns `vigil import offenders` reads, each row one cell per kOffenderColumns in order.
void WriteOffenders(const std::vector<v1::OffenderImportRow>& rows, std::ostream& out) {
  static_assert(std::size(kOffenderColumns) == 17, "WriteOffenders writes 17 cells a row");
  out << CsvLine({std::begin(kOffenderColumns), std::end(kOffenderColumns)});
  for (const v1::OffenderImportRow& row : rows) {
    const v1::Offender& o = row.offender();
    out << CsvLine(
        {o.id(), o.visor_ref(), o.display_name(),
         Date(o.has_registered_time(), o.registered_time()), o.owner_officer(), o.team(),
         Enum(v1::OffenderStatus_descriptor(), o.status(), "OFFENDER_STATUS_"),
         Enum(v1::NotificationPeriod_descriptor(), o.notification_period(), "NOTIFICATION_PERIOD_"),
         o.under_18_at_conviction() ? "yes" : "no", absl::StrCat(o.mappa_category()),
         absl::StrCat(o.mappa_level()),
         Date(o.has_last_notification_time(), o.last_notification_time()),
         Date(row.has_last_arms_time(), row.last_arms_time()),
         Enum(v1::RiskLevel_descriptor(), row.last_arms_risk_level(), "RISK_LEVEL_"),
         Date(row.has_last_rmp_review_time(), row.last_rmp_review_time()),
         Date(row.has_last_visit_time(), row.last_visit_time()),
         Date(o.has_requirement_start_time(), o.requirement_start_time())});
  }
}

// The columns `vigil import referrals` reads.
void WriteReferrals(const std::vector<v1::ReferralImportRow>& rows, std::ostream& out) {
  out << CsvLine({"source_reference", "received_date", "source", "subject", "identifiers", "grade",
                  "state", "team", "officer"});
  for (const v1::ReferralImportRow& row : rows) {
    const v1::Referral& r = row.referral();
    std::vector<std::string> identifiers;
    for (const v1::SubjectIdentifier& id : r.identifiers()) {
      identifiers.push_back(
          absl::StrCat(EnumText(v1::IdentifierType_descriptor(), id.type(), "IDENTIFIER_TYPE_"),
                       ":", id.value()));
    }
    out << CsvLine({r.source_reference(), FormatTimestamp(r.received_time()),
                    Enum(v1::ReferralSource_descriptor(), r.source(), "REFERRAL_SOURCE_"),
                    r.subject_display_name(), absl::StrJoin(identifiers, ";"),
                    Enum(v1::RiskLevel_descriptor(), r.grade(), "RISK_LEVEL_"),
                    Enum(v1::ReferralState_descriptor(), r.state(), "REFERRAL_STATE_"), r.team(),
                    r.allocated_officer()});
  }
}

// The size of the synthetic force, and its seed.
void AddSizeOptions(CLI::App* command, DemoOptions& options, int max_offenders) {
  command->add_option("--offenders", options.offenders, "Offenders")
      ->check(CLI::Range(1, max_offenders))
      ->capture_default_str();
  command->add_option("--referrals", options.referrals, "Referrals")
      ->check(CLI::Range(0, max_offenders))
      ->capture_default_str();
  command->add_option("--teams", options.teams, "Teams")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  command->add_option("--seed", options.seed, "Random seed")->capture_default_str();
}

// vigild limits how fast one person reads personal data (--read-rate); the demo loads and reads
// as one person, so it waits for its turn as any bulk reader must. Other answers return at once.
template <typename Call>
grpc::Status Patiently(Cli& cli, Call call) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  bool told = false;
  for (;;) {
    grpc::Status status = call();
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || absl::Now() > give_up) {
      return status;
    }
    if (!told) cli.err() << "waiting for vigild's read limit (--read-rate)...\n";
    told = true;
    absl::SleepFor(absl::Milliseconds(250));
  }
}

// The ladder's rule (services/alerts/ladder.cc, CheckMayAcknowledge) for the development
// identity this CLI sends: a rank at or above the rung the alert has climbed to, and the alert's
// team below the superintendent's rung unless the caller is a superintendent. The rank defaults
// as vigild's does (a supervisor is a sergeant). With a credential the CLI cannot know them:
// true, and vigild decides.
bool MayAcknowledge(const Cli& cli, const v1::Alert& alert) {
  if (cli.has_credential()) return true;
  const GlobalOptions& who = cli.options();
  static constexpr const char* kRanks[] = {"officer", "sergeant", "inspector", "superintendent"};
  int rank = who.role == "supervisor" ? 1 : 0;
  for (int i = 0; i < 4; ++i) {
    if (who.rank == kRanks[i]) rank = i;
  }
  const int needed = std::max(0, static_cast<int>(alert.escalation_level()) - 1);
  if (rank < needed) return false;
  const bool force_wide =
      alert.escalation_level() == v1::ESCALATION_LEVEL_SUPERINTENDENT || rank == 3;
  return force_wide || alert.obligation().team().empty() || alert.obligation().team() == who.team;
}

}  // namespace

void AddDemoCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* demo = app.add_subcommand("demo", "Synthetic data for trying vigil");
  demo->require_subcommand(1);
  auto options = std::make_shared<DemoOptions>();
  CLI::App* seed = demo->add_subcommand(
      "seed",
      "Load a synthetic force: offenders with a realistic risk mix and history (one team "
      "flat-diarised), plans, recent visits and a referral queue back to 2019. Repeatable: "
      "loading again adds nothing. Needs a supervisor or force-admin identity.");
  AddSizeOptions(seed, *options, 200000);
  seed->callback([&cli, &run, options] {
    run = [&cli, options]() -> int {
      options->now = absl::Now();
      const DemoData data = GenerateDemo(*options);
      auto offenders = v1::OffenderService::NewStub(cli.channel());
      int64_t imported = 0, already = 0, refused = 0;
      for (size_t start = 0; start < data.offenders.size(); start += 500) {
        v1::ImportOffendersRequest batch;
        for (size_t i = start; i < std::min(data.offenders.size(), start + 500); ++i)
          *batch.add_rows() = data.offenders[i];
        v1::ImportOffendersResponse response;
        grpc::Status status = offenders->ImportOffenders(cli.NewContext().get(), batch, &response);
        if (!status.ok()) return cli.Fail(status);
        imported += response.imported();
        already += response.already_present();
        refused += response.errors_size();
        cli.err() << "\roffenders: " << imported << " loaded, " << already << " already present"
                  << std::flush;
      }
      cli.err() << "\n";
      // The notification lifecycle: records past their period leave active management at import.
      int64_t expired = 0;
      v1::ListOffendersRequest past;
      past.set_status(v1::OFFENDER_STATUS_EXPIRED);
      past.mutable_page()->set_page_size(1000);
      do {
        v1::ListOffendersResponse page;
        grpc::Status status = offenders->ListOffenders(cli.NewContext().get(), past, &page);
        if (!status.ok()) return cli.Fail(status);
        expired += page.offenders_size();
        past.mutable_page()->set_page_token(page.next_page_token());
      } while (!past.page().page_token().empty());
      int64_t awaiting = 0;
      for (const v1::OffenderImportRow& row : data.offenders) {
        awaiting += row.offender().has_registered_time() ? 0 : 1;
      }
      cli.err() << "offenders: " << expired
                << " past their notification period (EXPIRED: clocks closed, still readable), "
                << awaiting << " awaiting the initial notification\n";
      auto assessments = v1::AssessmentService::NewStub(cli.channel());
      int plans = 0;
      for (const v1::RecordRiskManagementPlanRequest& plan : data.plans) {
        v1::RiskManagementPlan response;
        grpc::Status status =
            assessments->RecordRiskManagementPlan(cli.NewContext().get(), plan, &response);
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
        if (++plans % 50 == 0) cli.err() << "\rplans: " << plans << std::flush;
      }
      cli.err() << "\rplans: " << plans << "\n";
      int signed_off = 0;
      for (const v1::SignOffRiskManagementPlanRequest& sign_off : data.sign_offs) {
        v1::RiskManagementPlan response;
        grpc::Status status =
            assessments->SignOffRiskManagementPlan(cli.NewContext().get(), sign_off, &response);
        if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          cli.err() << "plan sign-offs skipped: they need a supervisor's credential (a sergeant "
                       "or above)\n";
          break;
        }
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
        if (status.ok()) ++signed_off;
      }
      cli.err() << "plan sign-offs: " << signed_off << "\n";
      auto visits = v1::VisitService::NewStub(cli.channel());
      int visited = 0;
      for (const v1::RecordVisitRequest& visit : data.visits) {
        v1::Visit response;
        grpc::Status status = visits->RecordVisit(cli.NewContext().get(), visit, &response);
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
        ++visited;
      }
      cli.err() << "visits: " << visited << "\n";
      auto referrals = v1::ReferralService::NewStub(cli.channel());
      int64_t queued = 0, queued_already = 0;
      for (size_t start = 0; start < data.referrals.size(); start += 500) {
        v1::ImportReferralsRequest batch;
        for (size_t i = start; i < std::min(data.referrals.size(), start + 500); ++i)
          *batch.add_rows() = data.referrals[i];
        v1::ImportReferralsResponse response;
        grpc::Status status = referrals->ImportReferrals(cli.NewContext().get(), batch, &response);
        if (!status.ok()) return cli.Fail(status);
        queued += response.imported();
        queued_already += response.already_present();
        refused += response.errors_size();
      }
      cli.err() << "referrals: " << queued << " loaded, " << queued_already << " already present\n";
      for (const v1::RecordIntelRefreshRequest& refresh : data.refreshes) {
        v1::Referral response;
        grpc::Status status =
            referrals->RecordIntelRefresh(cli.NewContext().get(), refresh, &response);
        // A referral already actioned or closed in an earlier load keeps its history.
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
      }
      cli.err() << "intelligence refreshes: " << data.refreshes.size() << "\n";
      // The daily team findings, now rather than at midnight: the flat-diarised team alerts its
      // inspector.
      v1::CheckTeamFindingsResponse checked;
      grpc::Status checked_status = visits->CheckTeamFindings(
          cli.NewContext().get(), v1::CheckTeamFindingsRequest(), &checked);
      if (checked_status.ok()) {
        cli.err() << "team findings: " << checked.findings_size() << " ("
                  << checked.alerted_teams_size() << " alerted now)\n";
      } else if (checked_status.error_code() != grpc::StatusCode::PERMISSION_DENIED) {
        return cli.Fail(checked_status);
      }
      // 90 days of daily backlog snapshots, so that the trend and forecast have something to
      // say (each as of the end of its day, against the obligations open now).
      auto backlog = v1::BacklogService::NewStub(cli.channel());
      const absl::TimeZone utc = absl::UTCTimeZone();
      const absl::CivilDay today = absl::ToCivilDay(options->now, utc);
      int snapshots = 0;
      for (int days_ago = 90; days_ago >= 1; --days_ago) {
        v1::TakeBacklogSnapshotRequest snapshot;
        *snapshot.mutable_as_of() =
            ToTimestamp(absl::FromCivil(today - days_ago, utc) + absl::Hours(12));
        v1::TakeBacklogSnapshotResponse taken;
        grpc::Status status =
            backlog->TakeBacklogSnapshot(cli.NewContext().get(), snapshot, &taken);
        if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) break;
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          // Each day's snapshot reads every team's summary as this one person: a vigild with
          // the default read limit stops the history early (./x run starts it without one).
          cli.err() << "backlog snapshots: stopped by vigild's read limit (--read-rate); "
                       "the trend has fewer days\n";
          break;
        }
        if (!status.ok()) return cli.Fail(status);
        ++snapshots;
      }
      cli.err() << "backlog snapshots: " << snapshots << " days\n";
      // A few alerts taken on, as a supervisor would: the scanner raises them within a second
      // or two of the load. Only alerts the caller may take on are picked (MayAcknowledge);
      // with a credential, whose rank and team only vigild reads, a refusal just moves on.
      auto alerts = v1::AlertService::NewStub(cli.channel());
      int acknowledged = 0, refused_acks = 0;
      for (int attempt = 0; attempt < 20 && acknowledged == 0; ++attempt) {
        v1::ListAlertsRequest list;
        list.mutable_filters()->set_state(v1::ALERT_STATE_OPEN);
        list.set_order(v1::ALERT_ORDER_RISK);
        list.mutable_page()->set_page_size(500);
        v1::ListAlertsResponse open;
        grpc::Status status =
            Patiently(cli, [&] { return alerts->ListAlerts(cli.NewContext().get(), list, &open); });
        if (!status.ok()) break;  // alerts not hosted, or not for this role
        for (const v1::Alert& alert : open.alerts()) {
          if (acknowledged == 3 || refused_acks == 10) break;
          if (!MayAcknowledge(cli, alert)) continue;
          v1::AcknowledgeAlertRequest ack;
          ack.set_id(alert.id());
          ack.set_note("visit booked for this week (demo)");
          ack.set_request_id(absl::StrCat(options->prefix, "/ack/", alert.id()));
          v1::Alert acked;
          if (Patiently(cli, [&] {
                return alerts->AcknowledgeAlert(cli.NewContext().get(), ack, &acked);
              }).ok()) {
            ++acknowledged;
          } else {
            ++refused_acks;
          }
        }
        if (acknowledged == 0) absl::SleepFor(absl::Milliseconds(250));
      }
      cli.err() << "alerts acknowledged: " << acknowledged << "\n";
      cli.out() << "demo force " << cli.options().force << ": " << data.offenders.size()
                << " offenders, " << data.referrals.size() << " referrals"
                << (refused > 0 ? absl::StrCat(", ", refused, " rows refused") : "") << "\n";
      return refused > 0 ? 1 : 0;
    };
  });

  struct GenerateFlags {
    DemoOptions options;
    std::string out;
    std::string as_of;
  };
  auto gen = std::make_shared<GenerateFlags>();
  CLI::App* generate = demo->add_subcommand(
      "generate",
      "Write a synthetic force as CSV for `vigil import`: DIR/offenders.csv (with ARMS, plan "
      "review and visit history as dates) and DIR/referrals.csv. The same seed and --as-of give "
      "the same files. Needs no server.");
  generate->add_option("--out", gen->out, "Directory to write into (created if missing)")
      ->required();
  AddSizeOptions(generate, gen->options, 10000000);
  generate->add_option("--officers-per-team", gen->options.officers_per_team, "Officers per team")
      ->check(CLI::Range(1, 99))
      ->capture_default_str();
  generate
      ->add_option("--prefix", gen->options.prefix,
                   "Reference prefix, distinct per synthetic force (its first letter starts ids)")
      ->capture_default_str();
  generate->add_option("--as-of", gen->as_of,
                       "Generate history relative to this date (default: now)");
  generate->callback([&cli, &run, gen] {
    run = [&cli, gen]() -> int {
      DemoOptions wanted = gen->options;
      if (wanted.prefix.empty()) return cli.BadUsage("--prefix: must not be empty");
      wanted.now = absl::Now();
      if (!gen->as_of.empty()) {
        absl::StatusOr<absl::Time> as_of = ParseTimeFlag(gen->as_of);
        if (!as_of.ok()) return cli.BadUsage(absl::StrCat("--as-of: ", as_of.status().message()));
        wanted.now = *as_of;
      }
      std::error_code error;
      std::filesystem::create_directories(gen->out, error);
      if (error) return cli.Fail(absl::StrCat("--out ", gen->out, ": ", error.message()));
      const DemoData data = GenerateDemo(wanted);
      const std::string offenders = gen->out + "/offenders.csv";
      const std::string referrals = gen->out + "/referrals.csv";
      {
        std::ofstream out(offenders, std::ios::trunc | std::ios::binary);
        WriteOffenders(data.offenders, out);
        if (!out.flush()) return cli.Fail(absl::StrCat("cannot write ", offenders));
      }
      {
        std::ofstream out(referrals, std::ios::trunc | std::ios::binary);
        WriteReferrals(data.referrals, out);
        if (!out.flush()) return cli.Fail(absl::StrCat("cannot write ", referrals));
      }
      cli.out() << "wrote " << data.offenders.size() << " offenders to " << offenders << " and "
                << data.referrals.size() << " referrals to " << referrals
                << "\nload them with: vigil import offenders " << offenders
                << " && vigil import referrals " << referrals << "\n";
      return 0;
    };
  });
}

}  // namespace vigil::cli
