// `vigil alerts list|show|ack|watch`: alerts for officers and supervisors.
#include <chrono>
#include <fstream>
#include <optional>
#include <ostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/alerts.grpc.pb.h"

namespace vigil::cli {
namespace {

struct FilterFlags {
  std::string state, min_risk, min_level, team, officer;
  std::vector<std::string> kinds;
};

void AddFilterFlags(CLI::App* cmd, FilterFlags& flags, bool with_state) {
  if (with_state) {
    cmd->add_option("--state", flags.state,
                    "open, acknowledged or resolved (default: open and acknowledged)");
  }
  cmd->add_option("--min-risk", flags.min_risk, "At least this risk: low, medium, high, very-high");
  cmd->add_option("--min-level", flags.min_level,
                  "At least this escalation level: officer, sergeant, inspector, superintendent");
  cmd->add_option("--team", flags.team, "Only this team");
  cmd->add_option("--officer", flags.officer, "Only this officer's alerts");
  cmd->add_option("--kind", flags.kinds,
                  "Only these kinds (repeatable): arms-assessment, rmp-review, home-visit, "
                  "notification, referral-action, intel-refresh, csc-check, rmp-sign-off, "
                  "notification-review");
}

absl::StatusOr<v1::AlertFilter> FilterOf(const FilterFlags& flags) {
  v1::AlertFilter filter;
  filter.set_team(flags.team);
  filter.set_officer(flags.officer);
  if (!flags.state.empty()) {
    absl::StatusOr<int> state =
        ParseEnumText(v1::AlertState_descriptor(), "ALERT_STATE_", flags.state, "--state");
    if (!state.ok()) return state.status();
    filter.set_state(static_cast<v1::AlertState>(*state));
  }
  if (!flags.min_risk.empty()) {
    absl::StatusOr<int> risk =
        ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", flags.min_risk, "--min-risk");
    if (!risk.ok()) return risk.status();
    filter.set_min_risk_level(static_cast<v1::RiskLevel>(*risk));
  }
  if (!flags.min_level.empty()) {
    absl::StatusOr<int> level = ParseEnumText(v1::EscalationLevel_descriptor(), "ESCALATION_LEVEL_",
                                              flags.min_level, "--min-level");
    if (!level.ok()) return level.status();
    filter.set_min_escalation_level(static_cast<v1::EscalationLevel>(*level));
  }
  for (const std::string& k : flags.kinds) {
    absl::StatusOr<int> kind =
        ParseEnumText(v1::ObligationKind_descriptor(), "OBLIGATION_KIND_", k, "--kind");
    if (!kind.ok()) return kind.status();
    filter.add_kinds(static_cast<v1::ObligationKind>(*kind));
  }
  return filter;
}

std::string Level(const v1::Alert& a) {
  return EnumText(v1::EscalationLevel_descriptor(), a.escalation_level(), "ESCALATION_LEVEL_");
}

std::string Kind(const v1::Alert& a) {
  return EnumText(v1::ObligationKind_descriptor(), a.obligation().kind(), "OBLIGATION_KIND_");
}

std::string Why(const v1::Alert& a) {
  if (a.cause() == v1::ALERT_CAUSE_OVERDUE) {
    return absl::StrCat("overdue ", DaysSince(a.trigger_time(), absl::Now()), "d (due ",
                        FormatDueDate(a.trigger_time()), ")");
  }
  return a.summary();
}

void PrintAlerts(Cli& cli, const std::vector<const v1::Alert*>& alerts) {
  Table table({"ALERT", "STATE", "LEVEL", "RISK", "KIND", "SUBJECT", "OFFICER", "TEAM", "WHY"});
  for (const v1::Alert* a : alerts) {
    table.AddRow({a->id(), EnumText(v1::AlertState_descriptor(), a->state(), "ALERT_STATE_"),
                  Level(*a), RiskText(a->obligation().risk_level()), Kind(*a),
                  a->obligation().subject_id(), a->obligation().owner_officer(),
                  a->obligation().team(), Why(*a)});
  }
  cli.Print(table);
}

// One alert as a person reads it: what, whose, why, where it stands on its ladder, and who
// acknowledged it.
void PrintAlert(std::ostream& out, const v1::Alert& a) {
  const v1::Obligation& o = a.obligation();
  Table fields({"ALERT", a.id()});
  fields.AddRow({"STATE", EnumText(v1::AlertState_descriptor(), a.state(), "ALERT_STATE_")});
  fields.AddRow({"LEVEL", Level(a)});
  fields.AddRow({"RISK", RiskText(o.risk_level())});
  fields.AddRow({"KIND", Kind(a)});
  fields.AddRow({"SUBJECT", o.subject_id()});
  fields.AddRow({"OFFICER", absl::StrCat(o.owner_officer(), " (", o.team(), ")")});
  fields.AddRow({"WHY", Why(a)});
  fields.AddRow({"DUE RULE", o.reason()});
  fields.AddRow({"RAISED", FormatTimestamp(a.raised_time())});
  if (a.has_next_escalation_time()) {
    fields.AddRow({"NEXT RUNG", FormatTimestamp(a.next_escalation_time())});
  }
  if (a.has_resolved_time()) {
    fields.AddRow(
        {"RESOLVED", absl::StrCat(FormatTimestamp(a.resolved_time()), ": ", a.resolution())});
  }
  fields.Print(out);
  if (a.escalation_times_size() > 0) {
    out << "\nLADDER (policy " << a.escalation_policy_version() << ")\n";
    Table ladder({"RUNG", "WHEN", "WHY"});
    constexpr const char* kRungs[] = {"sergeant", "inspector", "superintendent"};
    for (int i = 0; i < a.escalation_times_size(); ++i) {
      ladder.AddRow({i < 3 ? kRungs[i] : absl::StrCat(i + 2),
                     FormatTimestamp(a.escalation_times(i)),
                     i < a.escalation_reasons_size() ? a.escalation_reasons(i) : ""});
    }
    ladder.Print(out);
  }
  if (a.acknowledgements_size() > 0) {
    out << "\nACKNOWLEDGED\n";
    Table acks({"WHEN", "BY", "NOTE", "LAPSES"});
    for (const v1::Acknowledgement& ack : a.acknowledgements()) {
      acks.AddRow({FormatTimestamp(ack.time()), ack.by(), ack.note(),
                   ack.has_expiry_time() ? FormatTimestamp(ack.expiry_time()) : ""});
    }
    acks.Print(out);
  }
}

// One line per event, for people watching a terminal.
std::string EventLine(const v1::AlertEvent& e) {
  if (e.type() == v1::ALERT_EVENT_TYPE_DIGEST) {
    const v1::AlertDigest& d = e.digest();
    std::string line = absl::StrCat("#", e.sequence(), " digest at ", FormatTimestamp(d.as_of()),
                                    ": ", d.open(), " open, ", d.acknowledged(), " acknowledged");
    for (const v1::Alert& a : d.top()) {
      absl::StrAppend(&line, "\n    ", a.id(), " ", Level(a), " ",
                      RiskText(a.obligation().risk_level()), " ", Kind(a), " ",
                      a.obligation().subject_id(), " (", a.obligation().owner_officer(),
                      "): ", Why(a));
    }
    return line;
  }
  const v1::Alert& a = e.alert();
  std::string line =
      absl::StrCat("#", e.sequence(), " ", FormatTimestamp(e.event_time()), " ",
                   EnumText(v1::AlertEventType_descriptor(), e.type(), "ALERT_EVENT_TYPE_"), " ",
                   a.id(), " ", Level(a), " ", RiskText(a.obligation().risk_level()), " ", Kind(a),
                   " ", a.obligation().subject_id(), " (", a.obligation().owner_officer(), ", ",
                   a.obligation().team(), "): ", Why(a));
  if (e.type() == v1::ALERT_EVENT_TYPE_RESOLVED) absl::StrAppend(&line, "; ", a.resolution());
  if (e.type() == v1::ALERT_EVENT_TYPE_ACKNOWLEDGED && a.acknowledgements_size() > 0) {
    const v1::Acknowledgement& ack = *a.acknowledgements().rbegin();
    absl::StrAppend(&line, "; by ", ack.by(), ": ", ack.note());
  }
  if (e.type() == v1::ALERT_EVENT_TYPE_REMINDER && a.acknowledgements_size() > 0) {
    const v1::Acknowledgement& ack = *a.acknowledgements().rbegin();
    absl::StrAppend(&line, "; still open since ", ack.by(), " took it on ",
                    FormatDueDate(ack.time()));
  }
  return line;
}

// The last sequence recorded in a --state-file; nullopt when it holds anything else (a watcher
// must not silently replay everything because its place was lost).
std::optional<uint64_t> ReadState(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  uint64_t sequence = 0;
  if (in >> text && absl::SimpleAtoi(text, &sequence)) return sequence;
  return std::nullopt;
}

bool WriteState(const std::string& path, uint64_t sequence) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << sequence << '\n';
    out.flush();
    if (!out.good()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNKNOWN;
}

}  // namespace

void AddAlertCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* alerts = app.add_subcommand(
      "alerts", "Alerts raised when clocks pass (subcommands: list, show, ack, watch)");
  alerts->require_subcommand(1);

  struct ListFlags {
    FilterFlags filter;
    int page_size = 50;
    std::string page_token, order = "age";
  };
  auto list_flags = std::make_shared<ListFlags>();
  CLI::App* list = alerts->add_subcommand(
      "list", "Unresolved alerts (or --state resolved), oldest raised (or riskiest) first");
  AddFilterFlags(list, list_flags->filter, true);
  list->add_option("--order", list_flags->order,
                   "age (oldest raised first) or risk (very high first, then oldest raised)")
      ->check(CLI::IsMember({"age", "risk"}))
      ->capture_default_str();
  list->add_option("--page-size", list_flags->page_size, "Alerts per page")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->add_option("--page-token", list_flags->page_token, "Continue from a previous page");
  list->callback([&cli, &run, list_flags] {
    run = [&cli, list_flags]() -> int {
      v1::ListAlertsRequest request;
      absl::StatusOr<v1::AlertFilter> filter = FilterOf(list_flags->filter);
      if (!filter.ok()) return cli.Fail(filter.status());
      *request.mutable_filters() = *filter;
      request.set_order(list_flags->order == "risk" ? v1::ALERT_ORDER_RISK
                                                    : v1::ALERT_ORDER_OLDEST_RAISED);
      request.mutable_page()->set_page_size(list_flags->page_size);
      request.mutable_page()->set_page_token(list_flags->page_token);
      v1::ListAlertsResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AlertService::NewStub(cli.channel())->ListAlerts(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      std::vector<const v1::Alert*> rows;
      for (const v1::Alert& a : response.alerts()) rows.push_back(&a);
      PrintAlerts(cli, rows);
      if (!response.next_page_token().empty()) cli.PrintMore(response.next_page_token());
      return 0;
    };
  });

  auto show_id = std::make_shared<std::string>();
  CLI::App* show = alerts->add_subcommand("show", "One alert with its ladder and acknowledgements");
  show->add_option("id", *show_id, "The alert id")->required();
  show->callback([&cli, &run, show_id] {
    run = [&cli, show_id]() -> int {
      v1::GetAlertRequest request;
      request.set_id(*show_id);
      v1::Alert alert;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AlertService::NewStub(cli.channel())->GetAlert(context.get(), request, &alert);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(alert);
      } else {
        PrintAlert(cli.out(), alert);
      }
      return 0;
    };
  });

  struct AckFlags {
    std::string id, note, request_id;
  };
  auto ack_flags = std::make_shared<AckFlags>();
  CLI::App* ack =
      alerts->add_subcommand("ack", "Acknowledge an alert: take it on and stop its climb");
  ack->add_option("id", ack_flags->id, "The alert id")->required();
  ack->add_option("--note", ack_flags->note, "What will be done (required)")->required();
  ack->add_option("--request-id", ack_flags->request_id,
                  "Makes a retry safe: the same id writes once");
  ack->callback([&cli, &run, ack_flags] {
    run = [&cli, ack_flags]() -> int {
      v1::AcknowledgeAlertRequest request;
      request.set_id(ack_flags->id);
      request.set_note(ack_flags->note);
      request.set_request_id(ack_flags->request_id);
      v1::Alert alert;
      auto context = cli.NewContext();
      grpc::Status status = v1::AlertService::NewStub(cli.channel())
                                ->AcknowledgeAlert(context.get(), request, &alert);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(alert);
        return 0;
      }
      const v1::Acknowledgement& last = *alert.acknowledgements().rbegin();
      cli.out() << "acknowledged " << alert.id() << " at level " << Level(alert) << " by "
                << last.by();
      if (last.has_expiry_time())
        cli.out() << "; lapses " << FormatTimestamp(last.expiry_time()) << " if still overdue";
      cli.out() << '\n';
      return 0;
    };
  });

  struct WatchFlags {
    FilterFlags filter;
    int64_t resume_after = -1;
    bool from_start = false;
    int digest_hours = 0;
    int64_t count = 0;
    std::string state_file;
  };
  auto watch_flags = std::make_shared<WatchFlags>();
  CLI::App* watch = alerts->add_subcommand(
      "watch", "Print alert events as they happen; reconnects and resumes where it stopped");
  AddFilterFlags(watch, watch_flags->filter, true);
  watch->add_option(
      "--resume-after", watch_flags->resume_after,
      "Replay every event after this sequence, then go live (default: only new events)");
  watch->add_flag("--from-start", watch_flags->from_start, "Replay every event ever, then go live");
  watch
      ->add_option("--digest-hours", watch_flags->digest_hours,
                   "Instead of each event, a digest every N hours (the first at once)")
      ->check(CLI::Range(1, 168));
  watch->add_option("--count", watch_flags->count, "Exit after this many events")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  watch->add_option("--state-file", watch_flags->state_file,
                    "Keep the last sequence seen in this file and resume after it on the next run");
  watch->callback([&cli, &run, watch_flags] {
    run = [&cli, watch_flags]() -> int {
      const WatchFlags& flags = *watch_flags;
      absl::StatusOr<v1::AlertFilter> filter = FilterOf(flags.filter);
      if (!filter.ok()) return cli.Fail(filter.status());
      bool have_cursor = flags.from_start || flags.resume_after >= 0;
      uint64_t cursor = flags.resume_after >= 0 ? static_cast<uint64_t>(flags.resume_after) : 0;
      if (!flags.state_file.empty() && flags.resume_after < 0 && !flags.from_start) {
        if (std::ifstream(flags.state_file).good()) {
          std::optional<uint64_t> saved = ReadState(flags.state_file);
          if (!saved.has_value()) {
            return cli.BadUsage(
                absl::StrCat("--state-file ", flags.state_file,
                             ": holds no sequence number; remove it to start at the "
                             "head, or give --resume-after or --from-start"));
          }
          cursor = *saved;
          have_cursor = true;
        }
      }
      int64_t seen = 0;
      bool announced = false;
      absl::Duration backoff = absl::Milliseconds(500);
      auto stub = v1::AlertService::NewStub(cli.channel());
      while (true) {
        v1::SubscribeRequest request;
        *request.mutable_filters() = *filter;
        request.set_digest_every_hours(flags.digest_hours);
        request.set_resume_after_sequence(cursor);
        request.set_start_at_head(!have_cursor);
        auto context = cli.NewContext();
        context->set_deadline(std::chrono::system_clock::time_point::max());
        std::unique_ptr<grpc::ClientReader<v1::AlertEvent>> reader =
            stub->Subscribe(context.get(), request);
        const bool at_head = !have_cursor;
        if (at_head) {
          // Started at the head: learn where, so that a reconnect misses nothing.
          reader->WaitForInitialMetadata();
          const auto& metadata = context->GetServerInitialMetadata();
          if (auto it = metadata.find("x-vigil-cursor"); it != metadata.end()) {
            have_cursor =
                absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &cursor);
          }
        }
        if (!announced) {
          // Say where the watch starts and that silence is waiting, not a hang.
          cli.err() << "vigil: watching alerts "
                    << (at_head ? absl::StrCat("from now (after #", cursor, ")")
                                : absl::StrCat("after #", cursor))
                    << "; waiting for events (Ctrl-C to stop)\n";
          announced = true;
        }
        v1::AlertEvent event;
        while (reader->Read(&event)) {
          backoff = absl::Milliseconds(500);
          if (cli.output() == Output::kJson) {
            cli.out() << JsonLine(event) << '\n';
          } else {
            cli.out() << EventLine(event) << '\n';
          }
          cli.out().flush();
          // A digest summarises up to its sequence; resuming after it skips nothing unseen.
          cursor = event.sequence();
          have_cursor = true;
          if (!flags.state_file.empty() && !WriteState(flags.state_file, cursor)) {
            return cli.Fail(absl::StrCat("--state-file ", flags.state_file, ": cannot write"));
          }
          if (flags.count > 0 && ++seen >= flags.count) {
            context->TryCancel();
            (void)reader->Finish();
            return 0;
          }
        }
        const grpc::Status status = reader->Finish();
        if (!Retryable(status.error_code())) return cli.Fail(status);
        cli.err() << "vigil: the alert stream ended (" << status.error_message()
                  << "); resuming after #" << cursor << " in " << backoff << '\n';
        std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
        backoff = std::min(backoff * 2, absl::Seconds(10));
      }
    };
  });
}

}  // namespace vigil::cli
