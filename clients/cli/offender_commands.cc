// `vigil offender create|get|list|update` and `vigil trigger record`.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::cli {
namespace {

const google::protobuf::EnumDescriptor* Statuses() { return v1::OffenderStatus_descriptor(); }
const google::protobuf::EnumDescriptor* Periods() { return v1::NotificationPeriod_descriptor(); }
const google::protobuf::EnumDescriptor* Triggers() { return v1::TriggerType_descriptor(); }

}  // namespace

void PrintObligations(Cli& cli,
                      const google::protobuf::RepeatedPtrField<v1::Obligation>& obligations) {
  const absl::Time now = absl::Now();
  Table table({"OBLIGATION", "KIND", "DUE BY", "OVERDUE", "RISK", "OWNER", "REASON"});
  for (const v1::Obligation& o : obligations) {
    const int64_t overdue = DaysSince(o.due_time(), now);
    table.AddRow({o.id(), EnumText(v1::ObligationKind_descriptor(), o.kind(), "OBLIGATION_KIND_"),
                  FormatDueDate(o.due_time()),
                  overdue >= 0 ? absl::StrCat(overdue + 1, " days") : "-", RiskText(o.risk_level()),
                  o.owner_officer(), o.reason()});
  }
  cli.Print(table);
}

void PrintOffender(Cli& cli, const v1::Offender& o) {
  if (cli.output() == Output::kJson) {
    cli.PrintJson(o);
    return;
  }
  std::ostream& out = cli.out();
  const std::string risk =
      o.risk_level() == v1::RISK_LEVEL_UNSPECIFIED ? "NOT ASSESSED" : RiskText(o.risk_level());
  out << "offender    " << o.id() << "  (revision " << o.revision() << ")\n"
      << "name        " << o.display_name() << "\n"
      << "visor       " << (o.visor_ref().empty() ? "-" : o.visor_ref()) << "\n"
      << "force/team  " << o.force() << " / " << o.team() << "   owner: " << o.owner_officer()
      << "\n"
      << "status      " << EnumText(Statuses(), o.status(), "OFFENDER_STATUS_")
      << "   risk: " << risk << "   MAPPA category " << o.mappa_category() << " level "
      << o.mappa_level() << "\n"
      << "registered  " << FormatDate(o.registered_time()) << "   last ARMS "
      << FormatDate(o.last_arms_time(), o.has_last_arms_time()) << "   last RMP review "
      << FormatDate(o.last_rmp_review_time(), o.has_last_rmp_review_time()) << "   last visit "
      << FormatDate(o.last_visit_time(), o.has_last_visit_time()) << "\n"
      << "notification " << EnumText(Periods(), o.notification_period(), "NOTIFICATION_PERIOD_")
      << (o.under_18_at_conviction() ? " (halved: under 18)" : "") << ", ends "
      << FormatDate(o.notification_end_time(), o.has_notification_end_time()) << ", last notified "
      << FormatDate(o.last_notification_time(), o.has_last_notification_time()) << "\n";
  if (o.has_requirement_start_time()) {
    out << "requirement started " << FormatDate(o.requirement_start_time())
        << (o.has_registered_time() ? "" : "   AWAITING THE INITIAL NOTIFICATION") << "\n";
  }
  if (o.has_notification_ended_time()) {
    out << "ENDED       " << o.notification_ended_reason()
        << ": out of active management, every clock closed\n";
  }
  for (const v1::NotificationReview& r : o.notification_reviews()) {
    out << "review      " << FormatDate(r.decision_time()) << " "
        << EnumText(v1::NotificationReviewOutcome_descriptor(), r.outcome(),
                    "NOTIFICATION_REVIEW_OUTCOME_")
        << " by " << r.decided_by()
        << (r.has_next_review_time()
                ? absl::StrCat(", next review by ", FormatDate(r.next_review_time()))
                : std::string())
        << ": " << r.reason() << "\n";
  }
  for (const v1::Trigger& t : o.open_triggers()) {
    out << "trigger     " << EnumText(Triggers(), t.type(), "TRIGGER_TYPE_") << " on "
        << FormatDate(t.time()) << (t.note().empty() ? "" : ": " + t.note()) << "\n";
  }
  out << "\n";
  PrintObligations(cli, o.obligations());
}

namespace {

struct OffenderFlags {
  std::string id, name, visor, registered, owner, team, status, period, last_notified,
      change_pending, change_note, requirement_start, request_id;
  int mappa_category = 0, mappa_level = 0;
  bool under_18 = false;
  int64_t revision = 0;
};

// Fills `o` from the flags that were given; returns the field-mask paths they map to.
absl::StatusOr<std::vector<std::string>> Fill(const OffenderFlags& f, const CLI::App& app,
                                              v1::Offender& o) {
  std::vector<std::string> paths;
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (given("--name")) {
    o.set_display_name(f.name);
    paths.emplace_back("display_name");
  }
  if (given("--visor")) {
    o.set_visor_ref(f.visor);
    paths.emplace_back("visor_ref");
  }
  if (given("--registered")) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(f.registered);
    if (!t.ok())
      return absl::InvalidArgumentError(absl::StrCat("--registered: ", t.status().message()));
    *o.mutable_registered_time() = ToTimestamp(*t);
    paths.emplace_back("registered_time");
  }
  if (given("--requirement-start")) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(f.requirement_start);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--requirement-start: ", t.status().message()));
    }
    *o.mutable_requirement_start_time() = ToTimestamp(*t);
    paths.emplace_back("requirement_start_time");
  }
  if (given("--owner")) {
    o.set_owner_officer(f.owner);
    paths.emplace_back("owner_officer");
  }
  if (given("--team")) {
    o.set_team(f.team);
    paths.emplace_back("team");
  }
  if (given("--status")) {
    absl::StatusOr<int> s = ParseEnumText(Statuses(), "OFFENDER_STATUS_", f.status, "--status");
    if (!s.ok()) return s.status();
    o.set_status(static_cast<v1::OffenderStatus>(*s));
    paths.emplace_back("status");
  }
  if (given("--notification-period")) {
    absl::StatusOr<int> p =
        ParseEnumText(Periods(), "NOTIFICATION_PERIOD_", f.period, "--notification-period");
    if (!p.ok()) return p.status();
    o.set_notification_period(static_cast<v1::NotificationPeriod>(*p));
    paths.emplace_back("notification_period");
  }
  if (given("--under-18")) {
    o.set_under_18_at_conviction(f.under_18);
    paths.emplace_back("under_18_at_conviction");
  }
  if (given("--mappa-category")) {
    o.set_mappa_category(f.mappa_category);
    paths.emplace_back("mappa_category");
  }
  if (given("--mappa-level")) {
    o.set_mappa_level(f.mappa_level);
    paths.emplace_back("mappa_level");
  }
  if (given("--last-notified")) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(f.last_notified);
    if (!t.ok())
      return absl::InvalidArgumentError(absl::StrCat("--last-notified: ", t.status().message()));
    *o.mutable_last_notification_time() = ToTimestamp(*t);
    paths.emplace_back("last_notification_time");
  }
  if (given("--change-pending-since")) {
    if (!f.change_pending.empty()) {
      absl::StatusOr<absl::Time> t = ParseTimeFlag(f.change_pending);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--change-pending-since: ", t.status().message()));
      }
      *o.mutable_change_pending_since() = ToTimestamp(*t);
    }
    paths.emplace_back("change_pending_since");
  }
  if (given("--change-note")) {
    o.set_change_pending_note(f.change_note);
    paths.emplace_back("change_pending_note");
  }
  return paths;
}

void AddOffenderFlags(CLI::App* cmd, OffenderFlags& f) {
  cmd->add_option("--name", f.name, "Display name");
  cmd->add_option("--visor", f.visor, "ViSOR reference");
  cmd->add_option("--registered", f.registered, "Registration date (2024-03-02 or RFC 3339)");
  cmd->add_option("--requirement-start", f.requirement_start,
                  "Conviction, caution or release the duty to notify runs from; without "
                  "--registered the offender awaits the initial notification (due in 3 days)");
  cmd->add_option("--owner", f.owner, "Owning offender manager, e.g. 'DC 4512'");
  cmd->add_option("--team", f.team, "Team");
  cmd->add_option("--status", f.status,
                  "active-community, in-custody, wanted, abroad, deceased, expired, transferred");
  cmd->add_option("--notification-period", f.period,
                  "indefinite, 10-years, 7-years, 5-years, 2-years");
  cmd->add_flag("--under-18", f.under_18, "Convicted under 18 (notification period halved)");
  cmd->add_option("--mappa-category", f.mappa_category, "MAPPA category 1-3")
      ->check(CLI::Range(0, 3));
  cmd->add_option("--mappa-level", f.mappa_level, "MAPPA level 1-3")->check(CLI::Range(0, 3));
  cmd->add_option("--last-notified", f.last_notified, "Date of the last notification");
  cmd->add_option("--change-pending-since", f.change_pending,
                  "Date of a change not yet notified ('' clears it)");
  cmd->add_option("--change-note", f.change_note, "What changed");
  cmd->add_option("--request-id", f.request_id,
                  "Idempotency key: a retry returns the first result");
}

}  // namespace

void AddOffenderCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* offender = app.add_subcommand("offender", "The register of offenders");
  offender->require_subcommand(1);

  auto create_flags = std::make_shared<OffenderFlags>();
  CLI::App* create = offender->add_subcommand("create", "Register an offender");
  create->add_option("--id", create_flags->id, "Id (default: assigned by the server)");
  AddOffenderFlags(create, *create_flags);
  create->callback([&cli, &run, create_flags, create] {
    run = [&cli, create_flags, create]() -> int {
      v1::CreateOffenderRequest request;
      request.mutable_offender()->set_id(create_flags->id);
      absl::StatusOr<std::vector<std::string>> paths =
          Fill(*create_flags, *create, *request.mutable_offender());
      if (!paths.ok()) return cli.Fail(paths.status());
      request.set_request_id(create_flags->request_id);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::Offender response;
      auto context = cli.NewContext();
      grpc::Status status = stub->CreateOffender(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintOffender(cli, response);
      return 0;
    };
  });

  auto get_id = std::make_shared<std::string>();
  CLI::App* get = offender->add_subcommand("get", "Show an offender and their open clocks");
  get->add_option("id", *get_id, "Offender id")->required();
  get->callback([&cli, &run, get_id] {
    run = [&cli, get_id]() -> int {
      v1::GetOffenderRequest request;
      request.set_id(*get_id);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::Offender response;
      auto context = cli.NewContext();
      grpc::Status status = stub->GetOffender(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintOffender(cli, response);
      return 0;
    };
  });

  struct ListFlags {
    std::string team, owner, status, page_token;
    bool not_assessed = false;
    int page_size = 0;
  };
  auto list_flags = std::make_shared<ListFlags>();
  CLI::App* list = offender->add_subcommand("list", "List offenders of your force");
  list->add_option("--team", list_flags->team, "Only this team");
  list->add_option("--owner", list_flags->owner, "Only this owning officer");
  list->add_option("--status", list_flags->status, "Only this status");
  list->add_flag("--not-assessed", list_flags->not_assessed, "Only offenders with no ARMS");
  list->add_option("--page-size", list_flags->page_size, "Offenders per page (default 50)")
      ->check(CLI::Range(0, 1000));
  list->add_option("--page-token", list_flags->page_token, "Continue from a previous page");
  list->callback([&cli, &run, list_flags] {
    run = [&cli, list_flags]() -> int {
      v1::ListOffendersRequest request;
      request.set_team(list_flags->team);
      request.set_owner_officer(list_flags->owner);
      if (!list_flags->status.empty()) {
        absl::StatusOr<int> s =
            ParseEnumText(Statuses(), "OFFENDER_STATUS_", list_flags->status, "--status");
        if (!s.ok()) return cli.Fail(s.status());
        request.set_status(static_cast<v1::OffenderStatus>(*s));
      }
      request.set_not_assessed_only(list_flags->not_assessed);
      request.mutable_page()->set_page_size(list_flags->page_size);
      request.mutable_page()->set_page_token(list_flags->page_token);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::ListOffendersResponse response;
      auto context = cli.NewContext();
      grpc::Status status = stub->ListOffenders(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      const absl::Time now = absl::Now();
      Table table(
          {"ID", "NAME", "TEAM", "OWNER", "STATUS", "RISK", "LAST ARMS", "OPEN", "OVERDUE"});
      for (const v1::Offender& o : response.offenders()) {
        int overdue = 0;
        for (const v1::Obligation& ob : o.obligations())
          overdue += DaysSince(ob.due_time(), now) >= 0;
        table.AddRow({o.id(), o.display_name(), o.team(), o.owner_officer(),
                      EnumText(Statuses(), o.status(), "OFFENDER_STATUS_"),
                      o.risk_level() == v1::RISK_LEVEL_UNSPECIFIED
                          ? "NOT ASSESSED"
                          : EnumText(v1::RiskLevel_descriptor(), o.risk_level(), "RISK_LEVEL_"),
                      FormatDate(o.last_arms_time(), o.has_last_arms_time()),
                      absl::StrCat(o.obligations_size()), absl::StrCat(overdue)});
      }
      cli.Print(table);
      if (!response.next_page_token().empty()) {
        cli.PrintMore(response.next_page_token());
      }
      return 0;
    };
  });

  auto update_flags = std::make_shared<OffenderFlags>();
  CLI::App* update =
      offender->add_subcommand("update", "Change an offender; only the flags given are changed");
  update->add_option("id", update_flags->id, "Offender id")->required();
  update
      ->add_option("--revision", update_flags->revision,
                   "The revision you read (shown by 'offender get'); a stale one is refused")
      ->required();
  AddOffenderFlags(update, *update_flags);
  update->callback([&cli, &run, update_flags, update] {
    run = [&cli, update_flags, update]() -> int {
      v1::UpdateOffenderRequest request;
      v1::Offender* o = request.mutable_offender();
      o->set_id(update_flags->id);
      o->set_revision(update_flags->revision);
      absl::StatusOr<std::vector<std::string>> paths = Fill(*update_flags, *update, *o);
      if (!paths.ok()) return cli.Fail(paths.status());
      if (paths->empty()) return cli.Fail("give at least one field to change (see --help)");
      for (const std::string& path : *paths) request.mutable_update_mask()->add_paths(path);
      request.set_request_id(update_flags->request_id);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::Offender response;
      auto context = cli.NewContext();
      grpc::Status status = stub->UpdateOffender(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintOffender(cli, response);
      return 0;
    };
  });

  struct ReviewFlags {
    std::string offender, outcome, decided, next_review, reason, request_id;
  };
  auto review_flags = std::make_shared<ReviewFlags>();
  CLI::App* review = offender->add_subcommand(
      "review",
      "Record the force's review of an indefinite notification requirement (force-admin)");
  review->add_option("id", review_flags->offender, "Offender id")->required();
  review->add_option("--outcome", review_flags->outcome, "continued or ended")->required();
  review->add_option("--reason", review_flags->reason, "Why (the offender may appeal)")->required();
  review->add_option("--decided", review_flags->decided, "When it was decided (default: now)");
  review->add_option("--next-review", review_flags->next_review,
                     "continued only: when the next review is due (default: 8 years on)");
  review->add_option("--request-id", review_flags->request_id, "Idempotency key");
  review->callback([&cli, &run, review_flags] {
    run = [&cli, review_flags]() -> int {
      v1::RecordNotificationReviewRequest request;
      request.set_offender_id(review_flags->offender);
      absl::StatusOr<int> outcome =
          ParseEnumText(v1::NotificationReviewOutcome_descriptor(), "NOTIFICATION_REVIEW_OUTCOME_",
                        review_flags->outcome, "--outcome");
      if (!outcome.ok()) return cli.BadUsage(outcome.status().message());
      request.set_outcome(static_cast<v1::NotificationReviewOutcome>(*outcome));
      auto date = [&](const char* flag, const std::string& value,
                      google::protobuf::Timestamp* (
                          v1::RecordNotificationReviewRequest::*field)()) -> absl::Status {
        if (value.empty()) return absl::OkStatus();
        absl::StatusOr<absl::Time> t = ParseTimeFlag(value);
        if (!t.ok())
          return absl::InvalidArgumentError(absl::StrCat(flag, ": ", t.status().message()));
        *(request.*field)() = ToTimestamp(*t);
        return absl::OkStatus();
      };
      for (const absl::Status& s :
           {date("--decided", review_flags->decided,
                 &v1::RecordNotificationReviewRequest::mutable_decision_time),
            date("--next-review", review_flags->next_review,
                 &v1::RecordNotificationReviewRequest::mutable_next_review_time)}) {
        if (!s.ok()) return cli.BadUsage(s.message());
      }
      request.set_reason(review_flags->reason);
      request.set_request_id(review_flags->request_id);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::Offender response;
      auto context = cli.NewContext();
      grpc::Status status = stub->RecordNotificationReview(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintOffender(cli, response);
      return 0;
    };
  });

  CLI::App* trigger = app.add_subcommand("trigger", "Reassessment triggers");
  trigger->require_subcommand(1);
  struct TriggerFlags {
    std::string offender, type, time, note, request_id;
  };
  auto trigger_flags = std::make_shared<TriggerFlags>();
  CLI::App* record = trigger->add_subcommand(
      "record", "Record a trigger event: reassessment becomes due within the trigger interval");
  record->add_option("offender", trigger_flags->offender, "Offender id")->required();
  record
      ->add_option("--type", trigger_flags->type,
                   "new-intelligence, address-or-household-change, child-in-household, "
                   "arrest-or-breach, release-from-custody, mappa-level-change, refused-access")
      ->required();
  record->add_option("--time", trigger_flags->time, "When it happened (default: now)");
  record->add_option("--note", trigger_flags->note, "What happened");
  record->add_option("--request-id", trigger_flags->request_id, "Idempotency key");
  record->callback([&cli, &run, trigger_flags] {
    run = [&cli, trigger_flags]() -> int {
      v1::RecordTriggerRequest request;
      request.set_offender_id(trigger_flags->offender);
      absl::StatusOr<int> type =
          ParseEnumText(Triggers(), "TRIGGER_TYPE_", trigger_flags->type, "--type");
      if (!type.ok()) return cli.Fail(type.status());
      request.set_type(static_cast<v1::TriggerType>(*type));
      absl::Time when = absl::Now();
      if (!trigger_flags->time.empty()) {
        absl::StatusOr<absl::Time> t = ParseTimeFlag(trigger_flags->time);
        if (!t.ok()) return cli.BadUsage(absl::StrCat("--time: ", t.status().message()));
        when = *t;
      }
      *request.mutable_time() = ToTimestamp(when);
      request.set_note(trigger_flags->note);
      request.set_request_id(trigger_flags->request_id);
      auto stub = v1::OffenderService::NewStub(cli.channel());
      v1::Offender response;
      auto context = cli.NewContext();
      grpc::Status status = stub->RecordTrigger(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintOffender(cli, response);
      return 0;
    };
  });
}

}  // namespace vigil::cli
