#include "clients/cli/cli.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "clients/cli/csv.h"
#include "clients/common/channel.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace vigil::cli {
namespace {

std::string Env(const char* name, std::string fallback = {}) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace

void Cli::AddGlobalOptions(CLI::App& app) {
  options_.server = Env("VIGIL_SERVER", options_.server);
  options_.actor = Env("VIGIL_ACTOR");
  options_.role = Env("VIGIL_ROLE");
  options_.force = Env("VIGIL_FORCE");
  options_.team = Env("VIGIL_TEAM");
  options_.rank = Env("VIGIL_RANK");
  options_.tls_ca = Env("VIGIL_TLS_CA");
  options_.cert = Env("VIGIL_CERT");
  options_.key = Env("VIGIL_KEY");
  options_.server_name = Env("VIGIL_SERVER_NAME");
  options_.token = Env("VIGIL_TOKEN");
  options_.token_file = Env("VIGIL_TOKEN_FILE");
  options_.purpose = Env("VIGIL_PURPOSE");
  options_.cross_team = Env("VIGIL_CROSS_TEAM");
  app.add_option("--server", options_.server, "vigild address (env VIGIL_SERVER)")
      ->capture_default_str();
  app.add_option("--tls-ca", options_.tls_ca,
                 "Speak TLS, trusting this CA's certificate (env VIGIL_TLS_CA)");
  app.add_option("--cert", options_.cert,
                 "Your client certificate, for mutual TLS (env VIGIL_CERT; vigil certs "
                 "create-client makes one)");
  app.add_option("--key", options_.key, "The private key of --cert (env VIGIL_KEY)");
  app.add_option("--server-name", options_.server_name,
                 "The name in the server's certificate, when it is not --server's host "
                 "(env VIGIL_SERVER_NAME)");
  app.add_option("--token", options_.token,
                 "A bearer access token from your force's identity provider (env VIGIL_TOKEN)");
  app.add_option("--token-file", options_.token_file,
                 "Read the bearer token from this file (env VIGIL_TOKEN_FILE)");
  app.add_option("--actor", options_.actor,
                 "Development servers only (--auth=dev): who you are, e.g. 'DC 4512' "
                 "(env VIGIL_ACTOR)");
  app.add_option("--role", options_.role,
                 "Development servers only: officer, supervisor, force-admin, auditor or system "
                 "(env VIGIL_ROLE)");
  app.add_option("--force", options_.force,
                 "Development servers only: your force, e.g. wessex (env VIGIL_FORCE)");
  app.add_option("--team", options_.team, "Development servers only: your team (env VIGIL_TEAM)");
  app.add_option("--rank", options_.rank,
                 "Development servers only: officer, sergeant, inspector or superintendent "
                 "(env VIGIL_RANK)");
  app.add_option("--purpose", options_.purpose,
                 "Why you are accessing personal data; recorded in the audit log "
                 "(env VIGIL_PURPOSE)");
  app.add_option("--cross-team", options_.cross_team,
                 "Officers: why you need a record outside your team's caseload; recorded in the "
                 "audit log with every access (env VIGIL_CROSS_TEAM)");
  app.add_option("--timeout", options_.timeout_seconds, "Seconds to wait for each call")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("-o,--output", options_.output,
                 "table, json, or csv (a list's rows for a spreadsheet)")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
}

std::shared_ptr<grpc::Channel> Cli::channel() {
  if (channel_ == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::Connect(options_.server,
                        client::TransportOptions{options_.tls_ca, options_.cert, options_.key,
                                                 options_.server_name},
                        args);
    if (!channel.ok()) {
      err_ << "vigil: " << channel.status().message() << '\n';
      std::exit(2);
    }
    channel_ = *std::move(channel);
  }
  return channel_;
}

std::unique_ptr<grpc::ClientContext> Cli::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  client::AddBearerToken(*context, token());
  if (!has_credential()) {
    // Identity headers mean something only to a development server; with a real credential
    // the server ignores them (and records the disagreement), so none are sent.
    if (!options_.actor.empty()) context->AddMetadata("x-vigil-actor", options_.actor);
    if (!options_.role.empty()) context->AddMetadata("x-vigil-role", options_.role);
    if (!options_.force.empty()) context->AddMetadata("x-vigil-force", options_.force);
    if (!options_.team.empty()) context->AddMetadata("x-vigil-team", options_.team);
    if (!options_.rank.empty()) context->AddMetadata("x-vigil-rank", options_.rank);
  }
  if (!options_.purpose.empty()) context->AddMetadata("x-vigil-purpose", options_.purpose);
  if (!options_.cross_team.empty()) {
    context->AddMetadata("x-vigil-cross-team", options_.cross_team);
  }
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  return context;
}

namespace {

absl::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "ERROR";
  }
}

}  // namespace

const std::string& Cli::token() const {
  if (!token_resolved_) {
    token_resolved_ = true;
    token_ = options_.token;
    if (token_.empty() && !options_.token_file.empty()) {
      absl::StatusOr<std::string> text = ReadFileNamedBy("--token-file", options_.token_file);
      if (!text.ok()) {
        err_ << "vigil: " << text.status().message() << '\n';
        std::exit(2);
      }
      token_ = std::string(absl::StripAsciiWhitespace(*text));
    }
  }
  return token_;
}

int Cli::Fail(const grpc::Status& status) {
  err_ << "vigil: " << CodeName(status.error_code()) << ": " << status.error_message() << '\n';
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      if (has_credential()) {
        err_ << "hint: check your credential (--cert/--key, --token or --token-file) and that "
                "--tls-ca is the CA of this server\n";
      } else {
        err_ << "hint: give a credential (--cert/--key or --token, with --tls-ca), or for a "
                "development server --actor, --role and --force (VIGIL_ACTOR, VIGIL_ROLE, "
                "VIGIL_FORCE)\n";
      }
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      // The server names the metadata it reads; a person sets it with a flag.
      if (absl::StrContains(status.error_message(), "x-vigil-purpose")) {
        err_ << "hint: say why with --purpose \"...\" (or VIGIL_PURPOSE)\n";
      } else if (absl::StrContains(status.error_message(), "x-vigil-cross-team")) {
        err_ << "hint: give your reason with --cross-team \"...\"\n";
      }
      break;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      err_ << "hint: is vigild running at " << options_.server << "? (--server, VIGIL_SERVER)\n";
      return 3;
    default:
      break;
  }
  return 1;
}

int Cli::Fail(absl::string_view message) {
  err_ << "vigil: " << message << '\n';
  return 1;
}

int Cli::Fail(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) return BadUsage(status.message());
  return Fail(status.message());
}

int Cli::BadUsage(absl::string_view message) {
  err_ << "vigil: " << message << "\n(see vigil COMMAND --help)\n";
  return 2;
}

void Cli::PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    out_ << json;
    if (json.empty() || json.back() != '\n') out_ << '\n';
  } else {
    err_ << "vigil: cannot print the response as JSON\n";
  }
}

void Cli::Print(const Table& table) { table.Print(out_, output()); }

void Cli::PrintMore(absl::string_view page_token) {
  (output() == Output::kCsv ? err_ : out_) << "more: --page-token " << page_token << '\n';
}

void Table::Print(std::ostream& out, Output style) const {
  if (style == Output::kCsv) {
    out << CsvLine(header_);
    for (const auto& row : rows_) out << CsvLine(row);
    return;
  }
  std::vector<size_t> widths(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  };
  print(header_);
  for (const auto& row : rows_) print(row);
}

absl::StatusOr<absl::Time> ParseTimeFlag(absl::string_view text, absl::Time now) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) return absl::FromCivil(day, absl::UTCTimeZone());
  if (text == "now" || text == "today") return now;
  // +7d, -30d, +12h: relative to now.
  if (text.size() >= 3 && (text[0] == '+' || text[0] == '-') &&
      (text.back() == 'd' || text.back() == 'h')) {
    int64_t n = 0;
    if (absl::SimpleAtoi(text.substr(1, text.size() - 2), &n) && n >= 0 && n <= 36600 * 24) {
      const absl::Duration step = text.back() == 'd' ? absl::Hours(24) : absl::Hours(1);
      return text[0] == '+' ? now + n * step : now - n * step;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text,
      "' is not a date (2024-03-02), an RFC 3339 time, now, today, or a number of days or hours "
      "from now (+7d, -30d, +12h)"));
}

}  // namespace vigil::cli
