// Operations end to end (#16), with the real vigild and real gRPC clients: a backup taken under
// write load and restored after kill -9; a full disk (a real tmpfs, filled and freed three
// times under sixteen writers); a damaged table file; the Prometheus endpoint; logs free of
// personal data.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::testing::Identity;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildPath;
using ::vigil::testing::VigildProcess;

std::unique_ptr<grpc::ClientContext> Context(const std::string& role = "supervisor",
                                             int deadline_seconds = 30) {
  auto context = std::make_unique<grpc::ClientContext>();
  testing::AddIdentity(*context, {role == "force-admin" ? "Ops Admin" : "Insp Reid", role, "wessex",
                                  "operations test"});
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  return context;
}

v1::CreateOffenderRequest NewOffender(const std::string& id, const std::string& name) {
  v1::CreateOffenderRequest request;
  request.set_request_id("create-" + id);
  v1::Offender& offender = *request.mutable_offender();
  offender.set_id(id);
  offender.set_display_name(name);
  // Registered two years ago: overdue visits and assessments for the backlog gauges.
  offender.mutable_registered_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                                  2 * 365 * 86400);
  offender.set_owner_officer("DC 4512");
  offender.set_team("north");
  return request;
}

grpc::Status CreateOffender(v1::OffenderService::Stub& stub, const std::string& id,
                            const std::string& name = "") {
  v1::Offender created;
  return stub.CreateOffender(Context().get(),
                             NewOffender(id, name.empty() ? "Offender " + id : name), &created);
}

grpc::Status GetOffender(v1::OffenderService::Stub& stub, const std::string& id) {
  v1::GetOffenderRequest request;
  request.set_id(id);
  v1::Offender offender;
  return stub.GetOffender(Context().get(), request, &offender);
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(const VigildProcess& vigild,
                                                            const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(vigild.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Waits up to `seconds` for `service`'s health to become `wanted`.
bool HealthBecomes(const VigildProcess& vigild, const std::string& service,
                   grpc::health::v1::HealthCheckResponse::ServingStatus wanted, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (Health(vigild, service) == wanted) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

v1::VerifyAuditChainResponse VerifyChain(const VigildProcess& vigild) {
  v1::VerifyAuditChainResponse response;
  auto context = std::make_unique<grpc::ClientContext>();
  testing::AddIdentity(*context, {"Auditor A", "auditor", "wessex", "operations test"});
  const grpc::Status status =
      v1::AuditService::NewStub(vigild.channel())->VerifyAuditChain(context.get(), {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// Writers creating offenders until stopped, remembering which were acknowledged.
class Writers {
 public:
  Writers(const std::shared_ptr<grpc::Channel>& channel, int count, std::string prefix)
      : prefix_(std::move(prefix)) {
    for (int w = 0; w < count; ++w) {
      threads_.emplace_back([this, channel, w] {
        auto stub = v1::OffenderService::NewStub(channel);
        for (int i = 0; !stop_.load(); ++i) {
          const std::string id = absl::StrCat(prefix_, "-", w, "-", i);
          const grpc::Status status = CreateOffender(*stub, id);
          std::lock_guard lock(mu_);
          if (status.ok()) {
            acknowledged_.insert(id);
          } else {
            codes_.insert(status.error_code());
            last_error_ = status.error_message();
            // Back off a little while refused, as a client would.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
  }
  ~Writers() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  size_t acknowledged_count() {
    std::lock_guard lock(mu_);
    return acknowledged_.size();
  }
  std::set<std::string> acknowledged() {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::set<grpc::StatusCode> codes() {
    std::lock_guard lock(mu_);
    return codes_;
  }
  std::string last_error() {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::set<grpc::StatusCode> codes_;
  std::string last_error_;
};

constexpr char kOffenderService[] = "vigil.v1.OffenderService";

class OperationsTest : public ::testing::Test {
 protected:
  vigil::testing::TempDir dir_;
};

// #16 "Done when": backup under write load, more writes, kill -9, restore into a new dir:
// exactly the writes acknowledged before the backup started are there (and perhaps later ones,
// never half), and the chain verifies.
TEST_F(OperationsTest, BackupUnderLoadThenKillThenRestoreKeepsEveryWriteAcknowledgedBeforeIt) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start({"--backup-dir", dir_.Sub("backups")}), IsOk());
  Writers writers(vigild.channel(), 8, "b");
  while (writers.acknowledged_count() < 300)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::set<std::string> before = writers.acknowledged();

  v1::Backup backup;
  const grpc::Status made = v1::AdminService::NewStub(vigild.channel())
                                ->CreateBackup(Context("force-admin", 120).get(), {}, &backup);
  ASSERT_TRUE(made.ok()) << made.error_message();
  EXPECT_EQ(backup.id(), 1u);
  const size_t at_backup = writers.acknowledged_count();
  while (writers.acknowledged_count() < at_backup + 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  vigild.Kill();
  writers.Stop();
  const std::set<std::string> all = writers.acknowledged();

  RunResult restored = *vigil::testing::Run({VigildPath(), "--restore-from", dir_.Sub("backups"),
                                             "--data-dir", dir_.Sub("restored/data")});
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, HasSubstr("restored backup 1"));
  EXPECT_THAT(restored.output, HasSubstr("its audit chain verifies"));
  // Never over a store.
  RunResult again = *vigil::testing::Run({VigildPath(), "--restore-from", dir_.Sub("backups"),
                                          "--data-dir", dir_.Sub("restored/data")});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("is not empty"));

  VigildProcess copy(dir_.Sub("restored"));
  ASSERT_THAT(copy.Start(), IsOk());
  auto stub = v1::OffenderService::NewStub(copy.channel());
  for (const std::string& id : before) {
    EXPECT_TRUE(GetOffender(*stub, id).ok()) << id << " was acknowledged before the backup";
  }
  int later = 0;
  for (const std::string& id : all) {
    if (before.count(id) > 0) continue;
    const grpc::Status status = GetOffender(*stub, id);
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND)
        << id << ": " << status.error_message();
    later += status.ok() ? 1 : 0;
  }
  EXPECT_LT(later, static_cast<int>(all.size() - before.size())) << "writes after the backup";
  const v1::VerifyAuditChainResponse chain = VerifyChain(copy);
  EXPECT_TRUE(chain.ok()) << chain.problem();
  EXPECT_GE(chain.records_checked(), backup.audit_head());

  // The CLI lists and verifies the backup on the restored copy's own --backup-dir-less vigild:
  // it has none, and says how to get one.
  RunResult list = RunVigil(copy.address(), {"admin", "backup", "list"},
                            Identity{"Ops Admin", "force-admin", "wessex", ""});
  EXPECT_NE(list.exit_code, 0);
  EXPECT_THAT(list.output, HasSubstr("--backup-dir"));
}

TEST_F(OperationsTest, TheCliTakesListsVerifiesAndDeletesBackups) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start({"--backup-dir", dir_.Sub("backups"), "--services", "rso,admin,audit"}),
              IsOk());
  auto stub = v1::OffenderService::NewStub(vigild.channel());
  ASSERT_TRUE(CreateOffender(*stub, "R1").ok());
  const Identity admin{"Ops Admin", "force-admin", "wessex", ""};
  RunResult create = RunVigil(vigild.address(), {"admin", "backup", "create"}, admin);
  ASSERT_EQ(create.exit_code, 0) << create.output;
  EXPECT_THAT(create.output, HasSubstr("backup 1 taken"));
  ASSERT_EQ(RunVigil(vigild.address(), {"admin", "backup", "create"}, admin).exit_code, 0);
  RunResult list = RunVigil(vigild.address(), {"admin", "backup", "list"}, admin);
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("AUDIT HEAD"));
  RunResult verify = RunVigil(vigild.address(), {"admin", "backup", "verify", "2"}, admin);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("verifies"));
  EXPECT_EQ(RunVigil(vigild.address(), {"admin", "backup", "delete", "1"}, admin).exit_code, 0);
  RunResult gone = RunVigil(vigild.address(), {"admin", "backup", "verify", "1"}, admin);
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.output, HasSubstr("NOT_FOUND"));
  // An officer may not take backups.
  RunResult officer = RunVigil(vigild.address(), {"admin", "backup", "create"},
                               Identity{"DC 1", "officer", "wessex", ""});
  EXPECT_NE(officer.exit_code, 0);
  EXPECT_THAT(officer.output, HasSubstr("PERMISSION_DENIED"));
  RunResult store = RunVigil(vigild.address(), {"admin", "verify-store"}, admin);
  EXPECT_EQ(store.exit_code, 0) << store.output;
  EXPECT_THAT(store.output, HasSubstr("no damage found"));
}

// A small real filesystem, mounted for one test and removed after it.
class SmallFilesystem {
 public:
  SmallFilesystem(const std::string& path, int megabytes) : path_(path) {
    fs::create_directories(path);
    const std::string options = absl::StrCat("size=", megabytes, "m,mode=0700");
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes a filler file until the filesystem is full.
  void Fill() {
    std::ofstream filler(path_ + "/filler", std::ios::binary | std::ios::app);
    const std::string block(64 << 10, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) &&
           filler.flush()) {
    }
  }
  void Free() { fs::remove(path_ + "/filler"); }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// #16 "Done when": three fill/free cycles under sixteen writers: no abort, no acknowledged
// write lost, writes refused RESOURCE_EXHAUSTED while full and resumed by themselves after.
TEST_F(OperationsTest, AFullDiskRefusesWritesAndResumesThreeTimesUnderSixteenWriters) {
  // The data dir is the small filesystem; vigild's log stays outside it. RocksDB resumes once
  // a memtable's worth (32 MiB) is free again: the volume leaves room for that after a fill.
  SmallFilesystem volume(dir_.Sub("vigild/data"), 160);
  if (!volume.mounted()) {
    if (::geteuid() == 0) FAIL() << "cannot mount a tmpfs as root: " << volume.error();
    GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root): " << volume.error();
  }
  VigildProcess vigild(dir_.Sub("vigild"));
  ASSERT_THAT(vigild.Start({"--services", "rso,admin,audit"}), IsOk());
  Writers writers(vigild.channel(), 16, "d");
  auto stub = v1::OffenderService::NewStub(vigild.channel());
  for (int cycle = 1; cycle <= 3; ++cycle) {
    const size_t start = writers.acknowledged_count();
    while (writers.acknowledged_count() < start + 100) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    volume.Fill();
    ASSERT_TRUE(HealthBecomes(vigild, kOffenderService,
                              grpc::health::v1::HealthCheckResponse::NOT_SERVING, 30))
        << "cycle " << cycle << ": writes went on though the disk is full";
    // Writes are refused as a full disk, naming no file.
    const grpc::Status refused = CreateOffender(*stub, absl::StrCat("refused-", cycle));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << refused.error_message();
    EXPECT_THAT(refused.error_message(), HasSubstr("disk full"));
    EXPECT_THAT(refused.error_message(), Not(HasSubstr(dir_.path())));
    // The server itself stays up.
    EXPECT_EQ(Health(vigild, ""), grpc::health::v1::HealthCheckResponse::SERVING);
    ASSERT_TRUE(vigild.running());

    volume.Free();
    ASSERT_TRUE(
        HealthBecomes(vigild, kOffenderService, grpc::health::v1::HealthCheckResponse::SERVING, 30))
        << "cycle " << cycle << ": writes did not resume after space was freed";
    const size_t resumed = writers.acknowledged_count();
    while (writers.acknowledged_count() < resumed + 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  writers.Stop();
  EXPECT_TRUE(writers.codes().count(grpc::StatusCode::RESOURCE_EXHAUSTED) > 0)
      << writers.last_error();
  EXPECT_THAT(vigild.log(), HasSubstr("disk-full"));
  EXPECT_THAT(vigild.log(), HasSubstr("writing again"));

  // kill -9 and back: every acknowledged write is there, the chain verifies.
  vigild.Kill();
  ASSERT_THAT(vigild.Start({"--services", "rso,admin,audit"}), IsOk());
  stub = v1::OffenderService::NewStub(vigild.channel());
  const std::set<std::string> acknowledged = writers.acknowledged();
  ASSERT_GT(acknowledged.size(), 450u);
  for (const std::string& id : acknowledged) {
    ASSERT_TRUE(GetOffender(*stub, id).ok()) << id << " was acknowledged";
  }
  const v1::VerifyAuditChainResponse chain = VerifyChain(vigild);
  EXPECT_TRUE(chain.ok()) << chain.problem();
  ASSERT_THAT(vigild.Stop(SIGTERM), ::vigil::testing::IsOkAndHolds(0));
}

// #16 "Done when": a byte flipped in a table file of a copy gives NOT_SERVING and DATA_LOSS,
// with no file path in what clients see, and the verifiers name the file.
TEST_F(OperationsTest, ADamagedTableFileIsReportedAsDataLossAndNotServing) {
  {
    VigildProcess vigild(dir_.path());
    ASSERT_THAT(vigild.Start({"--services", "rso,admin,audit"}), IsOk());
    auto stub = v1::OffenderService::NewStub(vigild.channel());
    for (int i = 0; i < 400; ++i) ASSERT_TRUE(CreateOffender(*stub, absl::StrCat("C", i)).ok());
    ASSERT_THAT(vigild.Stop(SIGTERM), ::vigil::testing::IsOkAndHolds(0));  // flushed to table files
  }
  fs::create_directories(dir_.Sub("copy"));
  fs::copy(dir_.Sub("data"), dir_.Sub("copy/data"), fs::copy_options::recursive);
  const std::string damaged = vigil::testing::FlipByteInLargestFile(dir_.Sub("copy/data"), ".sst");
  ASSERT_FALSE(damaged.empty());

  RunResult offline =
      *vigil::testing::Run({VigildPath(), "--verify", "--data-dir", dir_.Sub("copy/data")});
  EXPECT_EQ(offline.exit_code, 1) << offline.output;
  EXPECT_THAT(offline.output, HasSubstr("DAMAGED " + damaged));
  RunResult whole =
      *vigil::testing::Run({VigildPath(), "--verify", "--data-dir", dir_.Sub("data")});
  EXPECT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_THAT(whole.output, HasSubstr("no damage found"));

  // vigild checks every table file after it starts, and stops serving what it cannot trust.
  VigildProcess vigild(dir_.Sub("copy"));
  ASSERT_THAT(vigild.Start({"--services", "rso,admin,audit"}), IsOk());
  ASSERT_TRUE(HealthBecomes(vigild, kOffenderService,
                            grpc::health::v1::HealthCheckResponse::NOT_SERVING, 60))
      << vigild.log();
  auto stub = v1::OffenderService::NewStub(vigild.channel());
  const grpc::Status write = CreateOffender(*stub, "after-damage");
  EXPECT_EQ(write.error_code(), grpc::StatusCode::DATA_LOSS) << write.error_message();
  EXPECT_THAT(write.error_message(),
              HasSubstr("restores the store from the latest verified backup"));
  EXPECT_THAT(write.error_message(), Not(HasSubstr(dir_.path())));
  EXPECT_THAT(write.error_message(), Not(HasSubstr(".sst")));
  EXPECT_THAT(vigild.log(), HasSubstr(damaged));  // the operator's log names the file
  RunResult online = RunVigil(vigild.address(), {"admin", "verify-store"},
                              Identity{"Ops Admin", "force-admin", "wessex", ""});
  EXPECT_EQ(online.exit_code, 1) << online.output;
  EXPECT_THAT(online.output, HasSubstr("DAMAGED " + damaged));
  EXPECT_THAT(online.output, Not(HasSubstr(dir_.path())));
}

// Reads vigild's log for the port of --metrics-listen 127.0.0.1:0.
int MetricsPort(const VigildProcess& vigild) {
  static const std::regex kLine(R"(Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  std::smatch match;
  const std::string log = vigild.log();
  int port = 0;
  if (std::regex_search(log, match, kLine)) (void)absl::SimpleAtoi(match[1].str(), &port);
  return port;
}

// #16 "Done when": `curl /metrics` parsed by a test.
TEST_F(OperationsTest, MetricsAreServedInThePrometheusTextFormat) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(
      vigild.Start({"--metrics-listen", "127.0.0.1:0", "--backup-dir", dir_.Sub("backups")}),
      IsOk());
  auto stub = v1::OffenderService::NewStub(vigild.channel());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(CreateOffender(*stub, absl::StrCat("M", i)).ok());
  EXPECT_FALSE(GetOffender(*stub, "no-such-offender").ok());
  const int port = MetricsPort(vigild);
  ASSERT_GT(port, 0) << vigild.log();

  httplib::Client http("127.0.0.1", port);
  httplib::Result result = http.Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_EQ(result->status, 200);
  EXPECT_THAT(result->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));

  // Every line is a comment or `name{labels} value`, every series' family has a TYPE.
  static const std::regex kSample(
      R"(^(vigil_[a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf)$)");
  std::map<std::string, std::string> types;
  std::map<std::string, double> values;
  for (absl::string_view line : absl::StrSplit(result->body, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      ASSERT_EQ(parts.size(), 2u) << line;
      types[parts[0]] = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    std::smatch match;
    const std::string text(line);
    ASSERT_TRUE(std::regex_match(text, match, kSample)) << "not a sample: " << text;
    std::string family = match[1].str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (types.count(family) == 0 && absl::EndsWith(family, suffix)) {
        family = family.substr(0, family.size() - std::strlen(suffix));
      }
    }
    EXPECT_EQ(types.count(family), 1u) << "no TYPE for " << text;
    double value = 0;
    ASSERT_TRUE(absl::SimpleAtod(text.substr(text.rfind(' ') + 1), &value)) << text;
    values[text.substr(0, text.rfind(' '))] = value;
  }
  EXPECT_EQ(types["vigil_rpc_requests_total"], "counter");
  EXPECT_EQ(types["vigil_rpc_duration_seconds"], "histogram");
  EXPECT_EQ(types["vigil_store_commit_group_write_seconds"], "histogram");
  EXPECT_EQ(types["vigil_backlog_overdue"], "gauge");
  EXPECT_GE(
      (values
           [R"(vigil_rpc_requests_total{method="vigil.v1.OffenderService/CreateOffender",code="OK"})"]),
      5);
  EXPECT_EQ(
      (values
           [R"(vigil_rpc_requests_total{method="vigil.v1.OffenderService/GetOffender",code="NOT_FOUND"})"]),
      1);
  EXPECT_EQ(values["vigil_store_condition"], 0);
  EXPECT_GT(values["vigil_data_volume_available_bytes"], 0);
  EXPECT_GT(values["vigil_rocksdb_cur_size_all_mem_tables"], 0);
  EXPECT_EQ(values["vigil_backup_last_success_unixtime"], 0);
  double overdue = 0;
  for (const auto& [series, value] : values) {
    if (absl::StartsWith(series, "vigil_backlog_overdue{") &&
        absl::StrContains(series, R"(force="wessex")")) {
      overdue += value;
    }
  }
  EXPECT_GT(overdue, 0) << "offenders registered two years ago have overdue clocks";
  // Only /metrics is served.
  httplib::Result other = http.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

// #16: logs never contain personal data.
TEST_F(OperationsTest, TheLogNeverHoldsANameEvenWhenCallsFail) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start({"--log-format", "json", "--log-level", "debug"}), IsOk());
  const std::string name = "Zebulon Quartermaine-Vask";
  auto stub = v1::OffenderService::NewStub(vigild.channel());
  ASSERT_TRUE(CreateOffender(*stub, "P1", name).ok());
  EXPECT_TRUE(GetOffender(*stub, "P1").ok());
  // A malformed record carrying the name: refused, and the refusal logged without it.
  v1::Offender ignored;
  v1::CreateOffenderRequest bad = NewOffender("P2", name);
  bad.mutable_offender()->set_display_name(std::string(5000, 'x') + name);
  EXPECT_FALSE(stub->CreateOffender(Context().get(), bad, &ignored).ok());
  v1::ListOffendersRequest list;
  v1::ListOffendersResponse listed;
  EXPECT_TRUE(stub->ListOffenders(Context().get(), list, &listed).ok());
  ASSERT_THAT(vigild.Stop(SIGTERM), ::vigil::testing::IsOkAndHolds(0));
  const std::string log = vigild.log();
  EXPECT_THAT(log, Not(HasSubstr("Zebulon")));
  EXPECT_THAT(log, Not(HasSubstr("Quartermaine")));
  // Every line is one JSON object.
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"") && absl::EndsWith(line, "\"}")) << line;
  }
  EXPECT_GT(lines, 3);
}

}  // namespace
}  // namespace vigil
