// `vigil certs create-ca|create-server|create-client|list`: local TLS material, made with
// OpenSSL's library and written as docs/security.md says (0600 files in a 0700 directory,
// nothing overwritten without --overwrite). These verbs do not talk to a server.
#include <dirent.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/crypto/x509.h"
#include "base/files.h"
#include "clients/cli/cli.h"
#include "google/protobuf/struct.pb.h"

namespace vigil::cli {
namespace {

std::string FormatDay(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", t, absl::UTCTimeZone());
}

// "DC 100" -> "dc-100": lower case, each run of other characters than a-z0-9 one '-'.
std::string ActorSlug(absl::string_view actor) {
  std::string slug;
  for (char c : absl::AsciiStrToLower(actor)) {
    if (absl::ascii_islower(static_cast<unsigned char>(c)) ||
        absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      slug.push_back(c);
    } else if (slug.empty() || slug.back() != '-') {
      slug.push_back('-');
    }
  }
  return slug;
}

// Writes the key, then the certificate. Exit code 0 or 1.
int WritePair(Cli& cli, const crypto::CertifiedKey& pair, const std::string& cert_path,
              const std::string& key_path, bool overwrite) {
  // Refused before anything is written, so that a refused command leaves the directory as it
  // was.
  if (!overwrite) {
    if (absl::Status s = CheckNoneExist({cert_path, key_path}); !s.ok()) {
      return cli.Fail(s.message());
    }
  }
  const PrivateFileOptions options{.overwrite = overwrite};
  if (absl::Status s = WritePrivateFile(key_path, pair.private_key_pem, options); !s.ok()) {
    return cli.Fail(s.message());
  }
  if (absl::Status s = WritePrivateFile(cert_path, pair.certificate_pem, options); !s.ok()) {
    return cli.Fail(s.message());
  }
  return 0;
}

// The CA in `dir`, its key checked to be private first.
absl::StatusOr<crypto::CertifiedKey> ReadCa(const std::string& dir) {
  crypto::CertifiedKey ca;
  const std::string key_path = dir + "/ca.key";
  if (absl::Status s = CheckPrivateFile(key_path); !s.ok()) {
    if (absl::IsNotFound(s)) {
      return absl::NotFoundError(
          absl::StrCat(key_path, " not found; run 'vigil certs create-ca --dir ", dir, "' first"));
    }
    return s;
  }
  absl::StatusOr<std::string> cert = ReadSmallFile(dir + "/ca.crt");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadSmallFile(key_path);
  if (!key.ok()) return key.status();
  ca.certificate_pem = *std::move(cert);
  ca.private_key_pem = *std::move(key);
  return ca;
}

// Prints the refusal of a flag's value ("role: ..." -> "vigil: --role: ..."); exit code 2.
int BadUsage(Cli& cli, const absl::Status& status) {
  cli.err() << "vigil: --" << status.message() << '\n';
  return 2;
}

void AddCreateCa(CLI::App& certs, Cli& cli, Action& run) {
  struct Flags {
    std::string dir;
    int lifetime_days = crypto::kCaLifetimeDays;
    bool overwrite = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* create = certs.add_subcommand(
      "create-ca", "Create the CA that signs server and client certificates: DIR/ca.crt, ca.key");
  create->add_option("--dir", flags->dir, "Directory for the files (created 0700)")->required();
  create->add_option("--lifetime-days", flags->lifetime_days, "Validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  create->add_flag("--overwrite", flags->overwrite, "Replace existing files");
  create->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      absl::StatusOr<crypto::CertifiedKey> ca =
          crypto::CreateCa("vigil CA", absl::Now(), flags->lifetime_days);
      if (!ca.ok()) return cli.Fail(ca.status());
      const std::string cert = flags->dir + "/ca.crt";
      const std::string key = flags->dir + "/ca.key";
      if (int code = WritePair(cli, *ca, cert, key, flags->overwrite); code != 0) return code;
      cli.out() << "wrote " << cert << " and " << key << " (keep " << key
                << " secret: it can issue any identity)\n";
      return 0;
    };
  });
}

void AddCreateServer(CLI::App& certs, Cli& cli, Action& run) {
  struct Flags {
    std::string dir;
    std::vector<std::string> hosts;
    int lifetime_days = crypto::kServerLifetimeDays;
    bool overwrite = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* create = certs.add_subcommand(
      "create-server",
      "Create a server certificate signed by DIR/ca.crt: DIR/server.crt, server.key");
  create->add_option("--dir", flags->dir, "Directory holding ca.crt and ca.key")->required();
  create
      ->add_option("--host", flags->hosts,
                   "DNS name or IP address clients connect to; repeat for more (the first is "
                   "the CN)")
      ->required();
  create->add_option("--lifetime-days", flags->lifetime_days, "Validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  create->add_flag("--overwrite", flags->overwrite, "Replace existing files");
  create->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      absl::StatusOr<crypto::CertifiedKey> ca = ReadCa(flags->dir);
      if (!ca.ok()) return cli.Fail(ca.status());
      absl::StatusOr<crypto::CertifiedKey> server =
          crypto::CreateServerCertificate(*ca, flags->hosts, absl::Now(), flags->lifetime_days);
      if (absl::IsInvalidArgument(server.status()) &&
          absl::StartsWith(server.status().message(), "host: ")) {
        return BadUsage(cli, server.status());
      }
      if (!server.ok()) return cli.Fail(server.status());
      const std::string cert = flags->dir + "/server.crt";
      const std::string key = flags->dir + "/server.key";
      if (int code = WritePair(cli, *server, cert, key, flags->overwrite); code != 0) {
        return code;
      }
      cli.out() << "wrote " << cert << " and " << key << " for "
                << absl::StrJoin(flags->hosts, ", ") << '\n';
      return 0;
    };
  });
}

void AddCreateClient(CLI::App& certs, Cli& cli, Action& run) {
  struct Flags {
    std::string dir;
    crypto::CertificateIdentity identity;
    int lifetime_days = crypto::kClientLifetimeDays;
    bool overwrite = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* create = certs.add_subcommand(
      "create-client",
      "Create a client certificate carrying an identity, signed by DIR/ca.crt: "
      "DIR/client.SLUG.crt, client.SLUG.key (SLUG: the actor in lower case, e.g. dc-100)");
  create->add_option("--dir", flags->dir, "Directory holding ca.crt and ca.key")->required();
  create->add_option("--actor", flags->identity.actor, "Who, e.g. 'DC 100' (the CN)")->required();
  create
      ->add_option("--role", flags->identity.role,
                   "officer, supervisor, force-admin, auditor, system or service")
      ->required();
  create->add_option("--force", flags->identity.force, "The force, e.g. wessex (the O)")
      ->required();
  create->add_option("--team", flags->identity.team, "The team (the OU); optional");
  create->add_option("--rank", flags->identity.rank,
                     "officer, sergeant, inspector or superintendent (the title); optional");
  create->add_option("--lifetime-days", flags->lifetime_days, "Validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  create->add_flag("--overwrite", flags->overwrite, "Replace existing files");
  create->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      if (absl::Status s = crypto::ValidateCertificateIdentity(flags->identity); !s.ok()) {
        return BadUsage(cli, s);
      }
      absl::StatusOr<crypto::CertifiedKey> ca = ReadCa(flags->dir);
      if (!ca.ok()) return cli.Fail(ca.status());
      absl::StatusOr<crypto::CertifiedKey> client =
          crypto::CreateClientCertificate(*ca, flags->identity, absl::Now(), flags->lifetime_days);
      if (!client.ok()) return cli.Fail(client.status());
      const std::string base =
          absl::StrCat(flags->dir, "/client.", ActorSlug(flags->identity.actor));
      const std::string cert = base + ".crt";
      const std::string key = base + ".key";
      if (int code = WritePair(cli, *client, cert, key, flags->overwrite); code != 0) {
        return code;
      }
      cli.out() << "wrote " << cert << " and " << key << " for " << flags->identity.actor << " ("
                << flags->identity.role << ", " << flags->identity.force << ")\n";
      return 0;
    };
  });
}

// The certificate files (*.crt) in `dir`, sorted.
absl::StatusOr<std::vector<std::string>> CertificateFiles(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (handle == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", dir));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".crt")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void AddList(CLI::App& certs, Cli& cli, Action& run) {
  auto dir = std::make_shared<std::string>();
  CLI::App* list = certs.add_subcommand(
      "list", "List the certificates in a directory: kind, identity or hosts, expiry");
  list->add_option("--dir", *dir, "Directory holding *.crt files")->required();
  list->callback([&cli, &run, dir] {
    run = [&cli, dir]() -> int {
      absl::StatusOr<std::vector<std::string>> files = CertificateFiles(*dir);
      if (!files.ok()) return cli.Fail(files.status());
      Table table({"FILE", "KIND", "SUBJECT", "NOT AFTER"});
      google::protobuf::Struct json;
      auto* rows = (*json.mutable_fields())["certificates"].mutable_list_value();
      int exit_code = 0;
      for (const std::string& name : *files) {
        absl::StatusOr<std::string> pem = ReadSmallFile(*dir + "/" + name);
        absl::StatusOr<crypto::CertificateSummary> summary =
            pem.ok() ? crypto::SummarizeCertificate(*pem)
                     : absl::StatusOr<crypto::CertificateSummary>(pem.status());
        if (!summary.ok()) {
          cli.err() << "vigil: " << name << ": " << summary.status().message() << '\n';
          exit_code = 1;
          continue;
        }
        std::string kind = "other";
        std::string subject = summary->subject;
        if (summary->is_ca) {
          kind = "ca";
        } else if (summary->client_auth) {
          kind = "client";
          if (absl::StatusOr<crypto::CertificateIdentity> id =
                  crypto::ParseCertificateIdentity(*pem);
              id.ok()) {
            subject = absl::StrCat("actor=", id->actor, " role=", id->role, " force=", id->force,
                                   id->team.empty() ? "" : " team=", id->team,
                                   id->rank.empty() ? "" : " rank=", id->rank);
          }
        } else if (summary->server_auth) {
          kind = "server";
          subject = absl::StrCat(summary->subject, " hosts=", absl::StrJoin(summary->hosts, ","));
        }
        const std::string not_after = FormatDay(summary->not_after);
        table.AddRow({name, kind, subject, not_after});
        auto& row = *rows->add_values()->mutable_struct_value()->mutable_fields();
        row["file"].set_string_value(name);
        row["kind"].set_string_value(kind);
        row["subject"].set_string_value(subject);
        row["not_after"].set_string_value(
            absl::FormatTime(absl::RFC3339_sec, summary->not_after, absl::UTCTimeZone()));
      }
      if (cli.output() == Output::kJson) {
        cli.PrintJson(json);
      } else {
        cli.Print(table);
      }
      return exit_code;
    };
  });
}

}  // namespace

void AddCertCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* certs = app.add_subcommand(
      "certs", "Local TLS material: a CA, server and client certificates (no server needed)");
  certs->require_subcommand(1);
  AddCreateCa(*certs, cli, run);
  AddCreateServer(*certs, cli, run);
  AddCreateClient(*certs, cli, run);
  AddList(*certs, cli, run);
}

}  // namespace vigil::cli
