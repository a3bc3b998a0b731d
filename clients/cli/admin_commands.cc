// `vigil admin backup create|list|verify|delete` and `vigil admin verify-store`: the store's
// backups and integrity, asked of vigild (AdminService).
#include <memory>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string Size(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
  if (bytes >= (uint64_t{1} << 20)) return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  if (bytes >= (uint64_t{1} << 10)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrCat(bytes, " B");
}

void PrintBackups(Cli& cli, const google::protobuf::RepeatedPtrField<v1::Backup>& backups) {
  Table table({"ID", "TAKEN", "SIZE", "FILES", "AUDIT HEAD", "SCHEMA"});
  for (const v1::Backup& b : backups) {
    table.AddRow({absl::StrCat(b.id()), FormatTimestamp(b.created_time()), Size(b.size_bytes()),
                  absl::StrCat(b.files()), absl::StrCat(b.audit_head()),
                  absl::StrCat(b.schema_version())});
  }
  cli.Print(table);
}

}  // namespace

void AddAdminCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* admin = app.add_subcommand(
      "admin", "Operate the store: backups and integrity checks (docs/operations.md)");
  admin->require_subcommand(1);
  CLI::App* backup =
      admin->add_subcommand("backup",
                            "Backups in vigild's --backup-dir (RocksDB BackupEngine; restore with "
                            "vigild --restore-from)");
  backup->require_subcommand(1);

  CLI::App* create = backup->add_subcommand(
      "create", "Take a backup now, while writes go on (role force-admin or system)");
  create->callback([&cli, &run] {
    run = [&cli]() -> int {
      v1::Backup made;
      auto context = cli.NewContext();
      grpc::Status status = v1::AdminService::NewStub(cli.channel())
                                ->CreateBackup(context.get(), v1::CreateBackupRequest(), &made);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(made);
      } else {
        cli.out() << "backup " << made.id() << " taken: " << Size(made.size_bytes()) << " in "
                  << made.files() << " files, audit head " << made.audit_head() << "\n";
      }
      return 0;
    };
  });

  CLI::App* list = backup->add_subcommand("list", "The backups, oldest first");
  list->callback([&cli, &run] {
    run = [&cli]() -> int {
      v1::ListBackupsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::AdminService::NewStub(cli.channel())
                                ->ListBackups(context.get(), v1::ListBackupsRequest(), &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      if (response.backups().empty()) {
        cli.out() << "no backups yet in " << response.backup_dir()
                  << " (vigil admin backup create takes one)\n";
        return 0;
      }
      PrintBackups(cli, response.backups());
      return 0;
    };
  });

  auto verify_id = std::make_shared<uint32_t>(0);
  CLI::App* verify = backup->add_subcommand("verify",
                                            "Re-read a backup and check every file's checksum "
                                            "(exit 1 when damaged)");
  verify->add_option("id", *verify_id, "The backup (vigil admin backup list)")
      ->required()
      ->check(CLI::PositiveNumber);
  verify->callback([&cli, &run, verify_id] {
    run = [&cli, verify_id]() -> int {
      v1::VerifyBackupRequest request;
      request.set_id(*verify_id);
      v1::VerifyBackupResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AdminService::NewStub(cli.channel())->VerifyBackup(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else if (response.ok()) {
        cli.out() << "backup " << response.id() << " verifies: every file has its checksum\n";
      } else {
        cli.out() << "backup " << response.id() << " is DAMAGED: " << response.problem()
                  << "\ndo not restore it; delete it and take a new backup\n";
      }
      return response.ok() ? 0 : 1;
    };
  });

  auto delete_id = std::make_shared<uint32_t>(0);
  CLI::App* remove = backup->add_subcommand("delete",
                                            "Delete a backup (role force-admin); files other "
                                            "backups share stay");
  remove->add_option("id", *delete_id, "The backup (vigil admin backup list)")
      ->required()
      ->check(CLI::PositiveNumber);
  remove->callback([&cli, &run, delete_id] {
    run = [&cli, delete_id]() -> int {
      v1::DeleteBackupRequest request;
      request.set_id(*delete_id);
      v1::DeleteBackupResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AdminService::NewStub(cli.channel())->DeleteBackup(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() != Output::kJson) cli.out() << "backup " << *delete_id << " deleted\n";
      return 0;
    };
  });

  CLI::App* verify_store = admin->add_subcommand(
      "verify-store",
      "Check the checksums of every table file of the live store (exit 1 when "
      "damage is found; vigild then refuses work until restored)");
  verify_store->callback([&cli, &run] {
    run = [&cli]() -> int {
      v1::VerifyStoreResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::AdminService::NewStub(cli.channel())
                                ->VerifyStore(context.get(), v1::VerifyStoreRequest(), &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return response.damaged_files().empty() ? 0 : 1;
      }
      for (int i = 0; i < response.damaged_files_size(); ++i) {
        cli.out() << "DAMAGED " << response.damaged_files(i) << ": " << response.problems(i)
                  << "\n";
      }
      cli.out() << response.files_checked() << " table files, " << Size(response.bytes_checked())
                << " checked: "
                << (response.damaged_files().empty()
                        ? "no damage found"
                        : "DAMAGED: restore from the latest verified backup "
                          "(docs/operations.md, \"Corruption\")")
                << "\n";
      return response.damaged_files().empty() ? 0 : 1;
    };
  });
}

}  // namespace vigil::cli
