// What every `vigil` verb shares: connection and identity flags (each with an environment
// variable), the output format, and helpers to print tables, JSON and gRPC errors.
#ifndef VIGIL_CLIENTS_CLI_CLI_H_
#define VIGIL_CLIENTS_CLI_CLI_H_

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace vigil::cli {

enum class Output { kTable, kJson, kCsv };

struct GlobalOptions {
  std::string server = "127.0.0.1:7420";
  // Development identity (metadata, for --auth=dev servers only).
  std::string actor;
  std::string role;
  std::string force;
  std::string team;
  std::string rank;
  // A real credential: TLS with a client certificate, and/or a bearer token.
  std::string tls_ca;
  std::string cert;
  std::string key;
  std::string server_name;
  std::string token;
  std::string token_file;
  std::string purpose;
  std::string cross_team;
  double timeout_seconds = 30;
  std::string output = "table";
};

// Shared by the verbs of one invocation.
class Cli {
 public:
  Cli(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  // Adds the connection, credential, identity and output flags to `app` (--server, --tls-ca,
  // --cert, --key, --server-name, --token, --token-file, --actor, --role, --force, --team,
  // --rank, --purpose, --cross-team, --timeout, --output), each defaulting from its
  // VIGIL_* environment variable.
  void AddGlobalOptions(CLI::App& app);

  // The channel to --server, created on first use (TLS when --tls-ca is given). Exits with
  // status 2 and a message naming the flag when a credential file cannot be used.
  std::shared_ptr<grpc::Channel> channel();
  // A context carrying the credential (a bearer token) or, without one, the development
  // identity metadata; the purpose, a cross-team reason, and the deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  // True when the call carries a real credential (a client certificate or a token).
  bool has_credential() const { return !options_.cert.empty() || !token().empty(); }
  // --token, or the contents of --token-file (read once; exits 2 when unreadable).
  const std::string& token() const;

  Output output() const {
    return options_.output == "json"  ? Output::kJson
           : options_.output == "csv" ? Output::kCsv
                                      : Output::kTable;
  }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // Prints "vigil: CODE: message" with a hint where one helps; returns the exit code (1, or 3
  // when the server could not be reached).
  int Fail(const grpc::Status& status);
  int Fail(absl::string_view message);
  // A check made here, before any call: InvalidArgument (a flag's value) prints the message and
  // returns 2, bad usage; anything else returns 1.
  int Fail(const absl::Status& status);
  // Prints "vigil: message" and where help is; returns 2 (bad usage: a flag's value, a missing
  // flag). `message` names the flag.
  int BadUsage(absl::string_view message);

  // Prints `message` as one JSON document (proto field names, defaults included).
  void PrintJson(const google::protobuf::Message& message);
  // Prints a list's table as --output asks: aligned text, or CSV for spreadsheets.
  void Print(const class Table& table);
  // "more: --page-token T" after a page of a list: on stdout with a table, on stderr with CSV
  // (which stays rows only).
  void PrintMore(absl::string_view page_token);

  const GlobalOptions& options() const { return options_; }

 private:
  std::ostream& out_;
  std::ostream& err_;
  GlobalOptions options_;
  mutable std::string token_;
  mutable bool token_resolved_ = false;
  std::shared_ptr<grpc::Channel> channel_;
};

// A plain text table: a header row, then rows, columns padded to their widest cell; or the same
// rows as CSV (RFC 4180).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // kJson prints nothing: JSON is printed from the message, not the table.
  void Print(std::ostream& out, Output style = Output::kTable) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Parses "2024-03-02" (midnight UTC), RFC 3339 ("2024-03-02T10:15:00Z"), "now" or "today"
// (`now`), or a signed number of days or hours from `now` ("+7d", "-30d", "+12h").
absl::StatusOr<absl::Time> ParseTimeFlag(absl::string_view text, absl::Time now = absl::Now());

// Each verb group adds its subcommands to the app; `run` is set to the chosen verb's action.
using Action = std::function<int()>;
void AddHealthCommands(CLI::App& app, Cli& cli, Action& run);
void AddMetricsCommands(CLI::App& app, Cli& cli, Action& run);
void AddAdminCommands(CLI::App& app, Cli& cli, Action& run);
void AddAuditCommands(CLI::App& app, Cli& cli, Action& run);
void AddAlertCommands(CLI::App& app, Cli& cli, Action& run);
void AddOffenderCommands(CLI::App& app, Cli& cli, Action& run);
void AddAssessmentCommands(CLI::App& app, Cli& cli, Action& run);
void AddImportCommands(CLI::App& app, Cli& cli, Action& run);
void AddVisitCommands(CLI::App& app, Cli& cli, Action& run);
void AddReferralCommands(CLI::App& app, Cli& cli, Action& run);
void AddBacklogCommands(CLI::App& app, Cli& cli, Action& run);
void AddReportCommands(CLI::App& app, Cli& cli, Action& run);
void AddDemoCommands(CLI::App& app, Cli& cli, Action& run);
void AddPolicyCommands(CLI::App& app, Cli& cli, Action& run);
void AddRetentionCommands(CLI::App& app, Cli& cli, Action& run);
// `vigil certs` and `vigil token`: local key material; they do not talk to a server.
void AddCertCommands(CLI::App& app, Cli& cli, Action& run);
void AddTokenCommands(CLI::App& app, Cli& cli, Action& run);

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_CLI_H_
