// `vigil retention due|review|erase`: the retention schedule (MoPI) of the caller's force.
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/retention.grpc.pb.h"

namespace vigil::cli {
namespace {

// "offender" / "referral" (as typed) to the API's record type.
absl::StatusOr<v1::RecordType> ParseType(absl::string_view text) {
  const std::string type = absl::AsciiStrToLower(text);
  if (type == "offender") return v1::RECORD_TYPE_OFFENDER;
  if (type == "referral") return v1::RECORD_TYPE_REFERRAL;
  return absl::InvalidArgumentError(
      absl::StrCat("record type '", text, "': give offender or referral"));
}

std::string TypeName(v1::RecordType type) {
  return type == v1::RECORD_TYPE_REFERRAL ? "referral" : "offender";
}

std::string GroupName(v1::RetentionGroup group) {
  switch (group) {
    case v1::RETENTION_GROUP_1:
      return "1";
    case v1::RETENTION_GROUP_2:
      return "2";
    case v1::RETENTION_GROUP_3:
      return "3";
    default:
      return "";
  }
}

}  // namespace

void AddRetentionCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* retention = app.add_subcommand(
      "retention", "Records due for review under the retention schedule (MoPI); review, erase");
  retention->require_subcommand(1);

  struct DueFlags {
    std::string type;
    std::string as_of = "now";
    int page_size = 100;
  };
  auto due_flags = std::make_shared<DueFlags>();
  CLI::App* due = retention->add_subcommand(
      "due", "List your force's records due for review, oldest due first (force-admin; audited)");
  due->add_option("--type", due_flags->type, "offender or referral (default: both)");
  due->add_option("--as-of", due_flags->as_of,
                  "Due by then: a date, RFC 3339, or +Nd from now (default: now)");
  due->add_option("--page-size", due_flags->page_size, "Records per request (default 100)");
  due->callback([&cli, &run, due_flags] {
    run = [&cli, due_flags]() -> int {
      v1::ListDueForReviewRequest request;
      if (!due_flags->type.empty()) {
        absl::StatusOr<v1::RecordType> type = ParseType(due_flags->type);
        if (!type.ok()) return cli.Fail(absl::StrCat("--type: ", type.status().message()));
        request.set_record_type(*type);
      }
      absl::StatusOr<absl::Time> as_of = ParseTimeFlag(due_flags->as_of);
      if (!as_of.ok()) return cli.Fail(absl::StrCat("--as-of: ", as_of.status().message()));
      *request.mutable_as_of() = ToTimestamp(*as_of);
      request.mutable_page()->set_page_size(due_flags->page_size);
      auto stub = v1::RetentionService::NewStub(cli.channel());
      v1::ListDueForReviewResponse all;
      do {
        v1::ListDueForReviewResponse page;
        auto context = cli.NewContext();
        grpc::Status status = stub->ListDueForReview(context.get(), request, &page);
        if (!status.ok()) return cli.Fail(status);
        for (v1::RecordRetention& r : *page.mutable_records()) *all.add_records() = std::move(r);
        request.mutable_page()->set_page_token(page.next_page_token());
      } while (!request.page().page_token().empty());
      if (cli.output() == Output::kJson) {
        cli.PrintJson(all);
        return 0;
      }
      Table table(
          {"DUE", "TYPE", "ID", "NAME", "GROUP", "LAST ACTIVITY", "LAST REVIEW", "ERASABLE"});
      for (const v1::RecordRetention& r : all.records()) {
        table.AddRow({FormatDate(r.review_time()), TypeName(r.record_type()), r.record_id(),
                      r.display_name(), GroupName(r.group()), FormatDate(r.last_activity_time()),
                      FormatDate(r.last_review_time(), r.has_last_review_time()),
                      r.still_managed().empty() ? "yes" : "no: " + r.still_managed()});
      }
      cli.Print(table);
      cli.out() << all.records_size() << " records due for review by "
                << FormatDate(request.as_of()) << "\n";
      return 0;
    };
  });

  struct DecisionFlags {
    std::string type;
    std::string id;
    std::string reason;
    std::string next;
    std::string request_id;
  };
  auto review_flags = std::make_shared<DecisionFlags>();
  CLI::App* review = retention->add_subcommand(
      "review", "Keep a record after review, with the reason and the next review (force-admin)");
  review->add_option("type", review_flags->type, "offender or referral")->required();
  review->add_option("id", review_flags->id, "The record's id")->required();
  review
      ->add_option("--reason", review_flags->reason,
                   "Why it is kept (kept in the audit log; do not name the subject)")
      ->required();
  review->add_option("--next", review_flags->next,
                     "Next review: a date or +Nd (default: the group's interval from now)");
  review->add_option("--request-id", review_flags->request_id,
                     "Idempotency key: a retry with the same id records nothing new");
  review->callback([&cli, &run, review_flags] {
    run = [&cli, review_flags]() -> int {
      v1::ReviewRecordRequest request;
      absl::StatusOr<v1::RecordType> type = ParseType(review_flags->type);
      if (!type.ok()) return cli.Fail(type.status());
      request.set_record_type(*type);
      request.set_record_id(review_flags->id);
      request.set_reason(review_flags->reason);
      request.set_request_id(review_flags->request_id);
      if (!review_flags->next.empty()) {
        absl::StatusOr<absl::Time> next = ParseTimeFlag(review_flags->next);
        if (!next.ok()) return cli.Fail(absl::StrCat("--next: ", next.status().message()));
        *request.mutable_next_review_time() = ToTimestamp(*next);
      }
      v1::RecordRetention response;
      auto context = cli.NewContext();
      grpc::Status status = v1::RetentionService::NewStub(cli.channel())
                                ->ReviewRecord(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else {
        cli.out() << TypeName(response.record_type()) << " " << response.record_id()
                  << " kept; next review due " << FormatDate(response.review_time()) << "\n";
      }
      return 0;
    };
  });

  auto erase_flags = std::make_shared<DecisionFlags>();
  CLI::App* erase = retention->add_subcommand(
      "erase",
      "Erase a record no longer managed: its personal data leaves the store and the data "
      "directory; the audit log keeps the erasure (force-admin)");
  erase->add_option("type", erase_flags->type, "offender or referral")->required();
  erase->add_option("id", erase_flags->id, "The record's id")->required();
  erase
      ->add_option("--reason", erase_flags->reason,
                   "Why it is erased (kept in the audit log; do not name the subject)")
      ->required();
  erase->add_option("--request-id", erase_flags->request_id,
                    "Idempotency key (default: erase/TYPE/ID, so running the command again "
                    "returns the first answer)");
  erase->callback([&cli, &run, erase_flags] {
    run = [&cli, erase_flags]() -> int {
      v1::EraseRecordRequest request;
      absl::StatusOr<v1::RecordType> type = ParseType(erase_flags->type);
      if (!type.ok()) return cli.Fail(type.status());
      request.set_record_type(*type);
      request.set_record_id(erase_flags->id);
      request.set_reason(erase_flags->reason);
      request.set_request_id(erase_flags->request_id.empty()
                                 ? absl::StrCat("erase/", TypeName(*type), "/", erase_flags->id)
                                 : erase_flags->request_id);
      v1::EraseRecordResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::RetentionService::NewStub(cli.channel())
                                ->EraseRecord(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << TypeName(response.record_type()) << " " << response.record_id()
                << " erased: " << response.keys_removed() << " keys removed, "
                << response.events_redacted() << " feed events redacted, "
                << response.responses_redacted() << " stored responses redacted\n";
      if (response.compacted()) {
        cli.out() << "compacted in " << response.compaction_seconds()
                  << " s: no file of the data directory holds the erased data\n";
        return 0;
      }
      cli.err() << "the erasure stands, but compacting it away failed: "
                << response.compaction_error() << "\nrun the same command again to retry\n";
      return 1;
    };
  });
}

}  // namespace vigil::cli
