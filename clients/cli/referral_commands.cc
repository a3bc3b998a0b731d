// `vigil referral create|triage|allocate|refresh|csc|action|close|get|list|counts`.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/ocait.grpc.pb.h"

namespace vigil::cli {

void PrintObligations(Cli& cli,
                      const google::protobuf::RepeatedPtrField<v1::Obligation>& obligations);

namespace {

std::string State(v1::ReferralState s) {
  return EnumText(v1::ReferralState_descriptor(), s, "REFERRAL_STATE_");
}
std::string Grade(v1::RiskLevel g) {
  return g == v1::RISK_LEVEL_UNSPECIFIED ? "ungraded" : RiskText(g);
}

void PrintReferral(Cli& cli, const v1::Referral& r) {
  if (cli.output() == Output::kJson) {
    cli.PrintJson(r);
    return;
  }
  std::ostream& out = cli.out();
  const absl::Time now = absl::Now();
  out << "referral    " << r.id() << "  (revision " << r.revision() << ")\n"
      << "state       " << State(r.state()) << "   grade: " << Grade(r.grade())
      << (r.children_access() ? "   CHILDREN ACCESS" : "")
      << (r.immediate_escalation() ? "   ESCALATE NOW" : "") << "\n"
      << "received    " << FormatDate(r.received_time()) << " ("
      << DaysSince(r.received_time(), now) << " days ago) from "
      << EnumText(v1::ReferralSource_descriptor(), r.source(), "REFERRAL_SOURCE_")
      << (r.source_reference().empty() ? "" : ", ref " + r.source_reference()) << "\n"
      << "subject     " << (r.subject_display_name().empty() ? "-" : r.subject_display_name())
      << "\n";
  for (const v1::SubjectIdentifier& id : r.identifiers()) {
    out << "identifier  "
        << EnumText(v1::IdentifierType_descriptor(), id.type(), "IDENTIFIER_TYPE_") << " "
        << id.normalized() << "\n";
  }
  out << "team        " << r.team()
      << "   officer: " << (r.allocated_officer().empty() ? "(unallocated)" : r.allocated_officer())
      << "\n";
  if (!r.linked_offender_id().empty())
    out << "offender    " << r.linked_offender_id() << " (registered)\n";
  out << "refreshed   " << FormatDate(r.last_refresh_time(), r.has_last_refresh_time())
      << "   CSC check "
      << (r.has_csc_check() ? FormatDate(r.csc_check().checked_time()) : std::string("not done"))
      << "\n";
  for (const v1::DeconflictionMatch& m : r.deconfliction_matches()) {
    out << "DECONFLICT  shares "
        << EnumText(v1::IdentifierType_descriptor(), m.type(), "IDENTIFIER_TYPE_") << " "
        << m.normalized() << " with open referral " << m.referral_id() << " (" << State(m.state())
        << (m.allocated_officer().empty() ? "" : ", " + m.allocated_officer()) << ")\n";
  }
  out << "\n";
  PrintObligations(cli, r.obligations());
}

template <typename Request, typename Method>
int Send(Cli& cli, Method method, const Request& request) {
  auto stub = v1::ReferralService::NewStub(cli.channel());
  v1::Referral response;
  auto context = cli.NewContext();
  grpc::Status status = ((*stub).*method)(context.get(), request, &response);
  if (!status.ok()) return cli.Fail(status);
  PrintReferral(cli, response);
  return 0;
}

absl::StatusOr<google::protobuf::Timestamp> TimeOrNow(const std::string& text, const char* flag) {
  if (text.empty()) return ToTimestamp(absl::Now());
  absl::StatusOr<absl::Time> t = ParseTimeFlag(text);
  if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", t.status().message()));
  return ToTimestamp(*t);
}

}  // namespace

void AddReferralCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* referral = app.add_subcommand("referral", "The OCAIT referral queue");
  referral->require_subcommand(1);

  struct CreateFlags {
    std::string id, source = "nca-ceop", source_ref, received, subject, offender, team, summary,
                    request_id;
    std::vector<std::string> identifiers;
  };
  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = referral->add_subcommand("create", "Receive a referral");
  create->add_option("--id", cf->id, "Id (default: assigned)");
  create->add_option("--source", cf->source, "nca-ceop, other-force or internal")
      ->capture_default_str();
  create->add_option("--source-ref", cf->source_ref, "The sender's reference");
  create->add_option("--received", cf->received, "When it was received (default now)");
  create->add_option("--subject", cf->subject, "The subject's name");
  create->add_option("--identifier", cf->identifiers,
                     "TYPE:VALUE, repeatable; TYPE is email, phone, account, device or ip-address");
  create->add_option("--offender", cf->offender, "A registered offender it is about");
  create->add_option("--team", cf->team, "OCAIT team (default ocait)");
  create->add_option("--summary", cf->summary, "What was referred");
  create->add_option("--request-id", cf->request_id, "Idempotency key");
  create->callback([&cli, &run, cf] {
    run = [&cli, cf]() -> int {
      v1::CreateReferralRequest request;
      v1::Referral* r = request.mutable_referral();
      r->set_id(cf->id);
      absl::StatusOr<int> source = ParseEnumText(v1::ReferralSource_descriptor(),
                                                 "REFERRAL_SOURCE_", cf->source, "--source");
      if (!source.ok()) return cli.Fail(source.status());
      r->set_source(static_cast<v1::ReferralSource>(*source));
      r->set_source_reference(cf->source_ref);
      absl::StatusOr<google::protobuf::Timestamp> received = TimeOrNow(cf->received, "--received");
      if (!received.ok()) return cli.Fail(received.status());
      *r->mutable_received_time() = *received;
      r->set_subject_display_name(cf->subject);
      for (const std::string& text : cf->identifiers) {
        const size_t colon = text.find(':');
        if (colon == std::string::npos)
          return cli.BadUsage(absl::StrCat("--identifier: '", text, "' is not TYPE:VALUE"));
        absl::StatusOr<int> type =
            ParseEnumText(v1::IdentifierType_descriptor(), "IDENTIFIER_TYPE_",
                          text.substr(0, colon), "--identifier");
        if (!type.ok()) return cli.Fail(type.status());
        v1::SubjectIdentifier* id = r->add_identifiers();
        id->set_type(static_cast<v1::IdentifierType>(*type));
        id->set_value(text.substr(colon + 1));
      }
      r->set_linked_offender_id(cf->offender);
      r->set_team(cf->team);
      r->set_summary(cf->summary);
      request.set_request_id(cf->request_id);
      return Send(cli, &v1::ReferralService::Stub::CreateReferral, request);
    };
  });

  struct TriageFlags {
    std::string id, grade, note, request_id;
    bool children = false;
  };
  auto tf = std::make_shared<TriageFlags>();
  CLI::App* triage = referral->add_subcommand("triage", "Grade a received referral");
  triage->add_option("id", tf->id, "Referral id")->required();
  triage->add_option("--grade", tf->grade, "low, medium, high or very-high")->required();
  triage->add_flag("--children-access", tf->children, "The subject has access to children");
  triage->add_option("--note", tf->note, "Why");
  triage->add_option("--request-id", tf->request_id, "Idempotency key");
  triage->callback([&cli, &run, tf] {
    run = [&cli, tf]() -> int {
      v1::TriageReferralRequest request;
      request.set_id(tf->id);
      absl::StatusOr<int> grade =
          ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", tf->grade, "--grade");
      if (!grade.ok()) return cli.Fail(grade.status());
      request.set_grade(static_cast<v1::RiskLevel>(*grade));
      request.set_children_access(tf->children);
      request.set_note(tf->note);
      request.set_request_id(tf->request_id);
      return Send(cli, &v1::ReferralService::Stub::TriageReferral, request);
    };
  });

  struct AllocateFlags {
    std::string id, officer, team, note, request_id;
  };
  auto af = std::make_shared<AllocateFlags>();
  CLI::App* allocate = referral->add_subcommand("allocate", "Allocate to an investigator");
  allocate->add_option("id", af->id, "Referral id")->required();
  allocate->add_option("--officer", af->officer, "Investigator")->required();
  allocate->add_option("--team", af->team, "Team (default: unchanged)");
  allocate->add_option("--note", af->note, "Note");
  allocate->add_option("--request-id", af->request_id, "Idempotency key");
  allocate->callback([&cli, &run, af] {
    run = [&cli, af]() -> int {
      v1::AllocateReferralRequest request;
      request.set_id(af->id);
      request.set_officer(af->officer);
      request.set_team(af->team);
      request.set_note(af->note);
      request.set_request_id(af->request_id);
      return Send(cli, &v1::ReferralService::Stub::AllocateReferral, request);
    };
  });

  struct RefreshFlags {
    std::string id, time, findings, grade, reason, extension, request_id;
    // Per check: the outcome when done, the reason when not possible.
    std::string csc, household, regulated, police;
    std::string csc_not, household_not, regulated_not, police_not;
    bool children = false;
  };
  auto rf = std::make_shared<RefreshFlags>();
  CLI::App* refresh = referral->add_subcommand(
      "refresh",
      "Record an intelligence refresh: each of the four checks done (--csc OUTCOME, ...) or not "
      "possible (--csc-not-possible REASON, ...)");
  refresh->add_option("id", rf->id, "Referral id")->required();
  refresh->add_option("--time", rf->time, "When (default now)");
  refresh->add_option("--csc", rf->csc, "Children's social care consulted: what it said");
  refresh->add_option("--csc-not-possible", rf->csc_not, "Why CSC could not be consulted");
  refresh->add_option("--household", rf->household,
                      "Children in the household or with access checked: what was found");
  refresh->add_option("--household-not-possible", rf->household_not,
                      "Why the household could not be checked");
  refresh->add_option("--regulated-activity", rf->regulated,
                      "Employment or volunteering in regulated activity checked: what was found");
  refresh->add_option("--regulated-activity-not-possible", rf->regulated_not,
                      "Why regulated activity could not be checked");
  refresh->add_option("--police-systems", rf->police, "PNC, PND and ViSOR checked: what was found");
  refresh->add_option("--police-systems-not-possible", rf->police_not,
                      "Why police systems could not be checked");
  refresh->add_flag("--children-access-found", rf->children,
                    "The refresh found new access to children");
  refresh->add_option("--findings", rf->findings, "What was found");
  refresh->add_option("--regrade", rf->grade, "New grade");
  refresh->add_option("--regrade-reason", rf->reason, "Why (required to lower the grade)");
  refresh->add_option("--extension-reason", rf->extension,
                      "Supervisors: why a lowered grade may have more time for action");
  refresh->add_option("--request-id", rf->request_id, "Idempotency key");
  refresh->callback([&cli, &run, rf] {
    run = [&cli, rf]() -> int {
      v1::RecordIntelRefreshRequest request;
      request.set_id(rf->id);
      absl::StatusOr<google::protobuf::Timestamp> when = TimeOrNow(rf->time, "--time");
      if (!when.ok()) return cli.Fail(when.status());
      *request.mutable_refreshed_time() = *when;
      v1::IntelChecks* checks = request.mutable_checks();
      const struct {
        const std::string& done;
        const std::string& not_possible;
        v1::IntelCheck* record;
      } given[] = {{rf->csc, rf->csc_not, checks->mutable_csc_record()},
                   {rf->household, rf->household_not, checks->mutable_household_children_record()},
                   {rf->regulated, rf->regulated_not, checks->mutable_regulated_activity_record()},
                   {rf->police, rf->police_not, checks->mutable_police_systems_record()}};
      // A check left out is sent unrecorded: the server names every one missing.
      for (const auto& check : given) {
        if (!check.done.empty() && !check.not_possible.empty()) {
          return cli.Fail(
              "a check is either done (--csc ...) or not possible "
              "(--csc-not-possible ...), not both");
        }
        if (!check.done.empty()) {
          check.record->set_status(v1::INTEL_CHECK_STATUS_DONE);
          check.record->set_outcome(check.done);
        } else if (!check.not_possible.empty()) {
          check.record->set_status(v1::INTEL_CHECK_STATUS_NOT_POSSIBLE);
          check.record->set_not_possible_reason(check.not_possible);
        }
      }
      request.set_children_access_found(rf->children);
      request.set_findings(rf->findings);
      if (!rf->grade.empty()) {
        absl::StatusOr<int> grade =
            ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", rf->grade, "--regrade");
        if (!grade.ok()) return cli.Fail(grade.status());
        request.set_new_grade(static_cast<v1::RiskLevel>(*grade));
      }
      request.set_regrade_reason(rf->reason);
      request.set_extension_reason(rf->extension);
      request.set_request_id(rf->request_id);
      return Send(cli, &v1::ReferralService::Stub::RecordIntelRefresh, request);
    };
  });

  struct CscFlags {
    std::string id, time, result, request_id;
  };
  auto sf = std::make_shared<CscFlags>();
  CLI::App* csc = referral->add_subcommand("csc", "Record the children's social care check");
  csc->add_option("id", sf->id, "Referral id")->required();
  csc->add_option("--time", sf->time, "When (default now)");
  csc->add_option("--result", sf->result, "What CSC said")->required();
  csc->add_option("--request-id", sf->request_id, "Idempotency key");
  csc->callback([&cli, &run, sf] {
    run = [&cli, sf]() -> int {
      v1::RecordCscCheckRequest request;
      request.set_id(sf->id);
      absl::StatusOr<google::protobuf::Timestamp> when = TimeOrNow(sf->time, "--time");
      if (!when.ok()) return cli.Fail(when.status());
      *request.mutable_checked_time() = *when;
      request.set_result(sf->result);
      request.set_request_id(sf->request_id);
      return Send(cli, &v1::ReferralService::Stub::RecordCscCheck, request);
    };
  });

  struct ActionFlags {
    std::string id, time, outcome, note, request_id;
  };
  auto xf = std::make_shared<ActionFlags>();
  CLI::App* action =
      referral->add_subcommand("action", "Record the action taken (warrant, arrest, interview)");
  action->add_option("id", xf->id, "Referral id")->required();
  action->add_option("--time", xf->time, "When (default now)");
  action
      ->add_option("--outcome", xf->outcome,
                   "warrant-executed, arrest, voluntary-interview or other")
      ->required();
  action->add_option("--note", xf->note, "Note");
  action->add_option("--request-id", xf->request_id, "Idempotency key");
  action->callback([&cli, &run, xf] {
    run = [&cli, xf]() -> int {
      v1::ActionReferralRequest request;
      request.set_id(xf->id);
      absl::StatusOr<google::protobuf::Timestamp> when = TimeOrNow(xf->time, "--time");
      if (!when.ok()) return cli.Fail(when.status());
      *request.mutable_action_time() = *when;
      absl::StatusOr<int> outcome = ParseEnumText(v1::ActionOutcome_descriptor(), "ACTION_OUTCOME_",
                                                  xf->outcome, "--outcome");
      if (!outcome.ok()) return cli.Fail(outcome.status());
      request.set_outcome(static_cast<v1::ActionOutcome>(*outcome));
      request.set_note(xf->note);
      request.set_request_id(xf->request_id);
      return Send(cli, &v1::ReferralService::Stub::ActionReferral, request);
    };
  });

  struct CloseFlags {
    std::string id, outcome, reason, request_id;
  };
  auto zf = std::make_shared<CloseFlags>();
  CLI::App* close = referral->add_subcommand("close", "Close a referral");
  close->add_option("id", zf->id, "Referral id")->required();
  close->add_option("--outcome", zf->outcome, "closed, no-further-action or transferred")
      ->required();
  close->add_option("--reason", zf->reason, "Why")->required();
  close->add_option("--request-id", zf->request_id, "Idempotency key");
  close->callback([&cli, &run, zf] {
    run = [&cli, zf]() -> int {
      v1::CloseReferralRequest request;
      request.set_id(zf->id);
      absl::StatusOr<int> outcome = ParseEnumText(v1::ReferralOutcome_descriptor(),
                                                  "REFERRAL_OUTCOME_", zf->outcome, "--outcome");
      if (!outcome.ok()) return cli.Fail(outcome.status());
      request.set_outcome(static_cast<v1::ReferralOutcome>(*outcome));
      request.set_reason(zf->reason);
      request.set_request_id(zf->request_id);
      return Send(cli, &v1::ReferralService::Stub::CloseReferral, request);
    };
  });

  auto get_id = std::make_shared<std::string>();
  CLI::App* get = referral->add_subcommand("get", "Show a referral and its clocks");
  get->add_option("id", *get_id, "Referral id")->required();
  get->callback([&cli, &run, get_id] {
    run = [&cli, get_id]() -> int {
      v1::GetReferralRequest request;
      request.set_id(*get_id);
      return Send(cli, &v1::ReferralService::Stub::GetReferral, request);
    };
  });

  struct ListFlags {
    std::string state, grade, team, offender, page_token;
    bool newest = false, closed = false;
    int page_size = 0;
  };
  auto lf = std::make_shared<ListFlags>();
  CLI::App* list = referral->add_subcommand("list", "The queue, oldest first, with ages");
  list->add_option("--state", lf->state,
                   "received, awaiting-allocation, allocated, actioned, closed");
  list->add_option("--grade", lf->grade, "low, medium, high, very-high");
  list->add_option("--team", lf->team, "Team");
  list->add_option("--offender", lf->offender, "Only referrals about this registered offender");
  list->add_flag("--newest-first", lf->newest, "Newest first");
  list->add_flag("--include-closed", lf->closed, "Closed ones too");
  list->add_option("--page-size", lf->page_size, "Per page (default 50)")
      ->check(CLI::Range(0, 1000));
  list->add_option("--page-token", lf->page_token, "Continue from a previous page");
  list->callback([&cli, &run, lf] {
    run = [&cli, lf]() -> int {
      v1::ListReferralsRequest request;
      if (!lf->state.empty()) {
        absl::StatusOr<int> s =
            ParseEnumText(v1::ReferralState_descriptor(), "REFERRAL_STATE_", lf->state, "--state");
        if (!s.ok()) return cli.Fail(s.status());
        request.set_state(static_cast<v1::ReferralState>(*s));
      }
      if (!lf->grade.empty()) {
        absl::StatusOr<int> g =
            ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", lf->grade, "--grade");
        if (!g.ok()) return cli.Fail(g.status());
        request.set_grade(static_cast<v1::RiskLevel>(*g));
      }
      request.set_team(lf->team);
      request.set_linked_offender_id(lf->offender);
      request.set_order(lf->newest ? v1::REFERRAL_ORDER_NEWEST_FIRST
                                   : v1::REFERRAL_ORDER_OLDEST_FIRST);
      request.set_include_closed(lf->closed);
      request.mutable_page()->set_page_size(lf->page_size);
      request.mutable_page()->set_page_token(lf->page_token);
      v1::ListReferralsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::ReferralService::NewStub(cli.channel())
                                ->ListReferrals(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      const absl::Time now = absl::Now();
      Table table(
          {"ID", "RECEIVED", "AGE", "STATE", "GRADE", "TEAM", "OFFICER", "SUBJECT", "OVERDUE"});
      for (const v1::Referral& r : response.referrals()) {
        int overdue = 0;
        for (const v1::Obligation& ob : r.obligations())
          overdue += DaysSince(ob.due_time(), now) >= 0;
        table.AddRow({r.id(), FormatDate(r.received_time()),
                      absl::StrCat(DaysSince(r.received_time(), now), "d"), State(r.state()),
                      Grade(r.grade()), r.team(),
                      r.allocated_officer().empty() ? "-" : r.allocated_officer(),
                      r.subject_display_name().empty() ? "-" : r.subject_display_name(),
                      overdue == 0 ? "-" : absl::StrCat(overdue, " clock(s)")});
      }
      cli.Print(table);
      if (!response.next_page_token().empty()) cli.PrintMore(response.next_page_token());
      return 0;
    };
  });

  auto count_team = std::make_shared<std::string>();
  CLI::App* counts =
      referral->add_subcommand("counts", "Referrals by state and grade, with the oldest");
  counts->add_option("--team", *count_team, "Team");
  counts->callback([&cli, &run, count_team] {
    run = [&cli, count_team]() -> int {
      v1::CountReferralsRequest request;
      request.set_team(*count_team);
      v1::CountReferralsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::ReferralService::NewStub(cli.channel())
                                ->CountReferrals(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"STATE", "GRADE", "COUNT", "OLDEST RECEIVED"});
      for (const v1::ReferralCount& c : response.counts()) {
        table.AddRow({State(c.state()), Grade(c.grade()), absl::StrCat(c.count()),
                      FormatDate(c.oldest_received_time(), c.has_oldest_received_time())});
      }
      cli.Print(table);
      cli.out() << "open: " << response.open_total() << "\n";
      return 0;
    };
  });
}

}  // namespace vigil::cli
