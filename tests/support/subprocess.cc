#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace vigil::testing {
namespace {

// Starts `argv` with stdout and stderr appended to `log_path`.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::vector<std::string>& env) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    // Undo any signal mask inherited from the test process.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; returns its exit code, or nullopt on timeout.
std::optional<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (done < 0) return -1;
    if (absl::Now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Tail(const std::string& text, size_t bytes = 4000) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

}  // namespace

std::string VigildPath() { return VIGILD_PATH; }
std::string VigilCliPath() { return VIGIL_CLI_PATH; }
std::string VigilLoadPath() { return VIGIL_LOAD_PATH; }

absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv, absl::Duration timeout,
                              const std::vector<std::string>& env) {
  char path[] = "/tmp/vigil-run.XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  ::close(fd);
  absl::StatusOr<pid_t> pid = Spawn(argv, path, env);
  if (!pid.ok()) return pid.status();
  std::optional<int> code = WaitFor(*pid, timeout);
  if (!code.has_value()) {
    ::kill(*pid, SIGKILL);
    WaitFor(*pid, absl::Seconds(10));
    ::unlink(path);
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish in time"));
  }
  RunResult result{*code, ReadFile(path)};
  ::unlink(path);
  return result;
}

VigildProcess::~VigildProcess() { Kill(); }

absl::Status VigildProcess::Start(const std::vector<std::string>& extra_args) {
  return StartOn(0, extra_args);
}

absl::Status VigildProcess::StartOnSamePort(const std::vector<std::string>& extra_args) {
  if (last_port_ == 0) return absl::FailedPreconditionError("vigild has not served yet");
  return StartOn(last_port_, extra_args);
}

absl::Status VigildProcess::StartOn(int listen_port, const std::vector<std::string>& extra_args) {
  if (running()) return absl::FailedPreconditionError("vigild is already running");
  args_ = extra_args;
  const std::string port_file = dir_ + "/port";
  ::unlink(port_file.c_str());
  std::vector<std::string> argv = {VigildPath(),
                                   "--data-dir",
                                   data_dir(),
                                   "--listen",
                                   absl::StrCat(listen_host_, ":", listen_port),
                                   "--port-file",
                                   port_file};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (std::find(extra_args.begin(), extra_args.end(), "--read-rate") == extra_args.end()) {
    argv.insert(argv.end(), {"--read-rate", "0"});
  }
  absl::StatusOr<pid_t> pid = Spawn(argv, dir_ + "/vigild.log", {});
  if (!pid.ok()) return pid.status();
  pid_ = *pid;

  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    int port = 0;
    if (absl::SimpleAtoi(ReadFile(port_file), &port) && port > 0) {
      port_ = port;
      last_port_ = port;
      break;
    }
    if (std::optional<int> code = WaitFor(pid_, absl::ZeroDuration())) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("vigild exited with ", *code, " before serving; log:\n", Tail(log())));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("vigild wrote no port file in 60 s; log:\n", Tail(log())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::Connect(address(), transport_);
  if (!channel.ok()) return channel.status();
  channel_ = *std::move(channel);
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status;
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    context.set_wait_for_ready(true);
    status = stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
    // After a restart on the same port the first check can go out on a connection to the
    // process that was stopped (gRPC shares subchannels between channels to one address) and
    // fail with UNAVAILABLE ("Broken pipe") once sent, which wait_for_ready does not retry.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() > deadline) break;
    if (std::optional<int> code = WaitFor(pid_, absl::ZeroDuration())) {
      pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat(
          "vigild exited with ", *code, " after writing its port; log:\n", Tail(log())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!status.ok() || response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat("vigild is not SERVING: ", status.error_message(), "; log:\n", Tail(log())));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> VigildProcess::Stop(int signal, absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError("vigild is not running");
  ::kill(pid_, signal);
  std::optional<int> code = WaitFor(pid_, timeout);
  if (!code.has_value()) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat(
        "vigild did not exit within ", absl::FormatDuration(timeout), "; log:\n", Tail(log())));
  }
  pid_ = -1;
  port_ = 0;
  return *code;
}

void VigildProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  WaitFor(pid_, absl::Seconds(30));
  pid_ = -1;
  port_ = 0;
}

absl::Status VigildProcess::Restart() {
  absl::StatusOr<int> code = Stop(SIGTERM);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("vigild exited with ", *code));
  return Start(args_);
}

std::string VigildProcess::log() const { return ReadFile(dir_ + "/vigild.log"); }

void AddIdentity(grpc::ClientContext& context, const Identity& who) {
  const std::pair<const char*, const std::string*> headers[] = {
      {"x-vigil-actor", &who.actor}, {"x-vigil-role", &who.role}, {"x-vigil-force", &who.force},
      {"x-vigil-team", &who.team},   {"x-vigil-rank", &who.rank}, {"x-vigil-purpose", &who.purpose},
  };
  for (const auto& [header, value] : headers) {
    if (!value->empty()) context.AddMetadata(header, *value);
  }
}

RunResult RunVigil(const std::string& server, std::vector<std::string> args, const Identity& who,
                   absl::Duration timeout) {
  args.insert(args.begin(), {VigilCliPath(), "--server", server});
  std::vector<std::string> env = {"VIGIL_ACTOR=" + who.actor, "VIGIL_ROLE=" + who.role,
                                  "VIGIL_FORCE=" + who.force, "VIGIL_PURPOSE=" + who.purpose};
  if (!who.team.empty()) env.push_back("VIGIL_TEAM=" + who.team);
  if (!who.rank.empty()) env.push_back("VIGIL_RANK=" + who.rank);
  absl::StatusOr<RunResult> result = Run(args, timeout, env);
  if (!result.ok()) {
    ADD_FAILURE() << "running vigil: " << result.status();
    return RunResult{};
  }
  return *result;
}

}  // namespace vigil::testing
