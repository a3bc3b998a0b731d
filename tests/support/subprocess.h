// Real binaries under test: vigild started on a free port in a test's directory (after
// kvrocks' tests/gocase/util/server.go), and one-shot runs of vigild or the vigil CLI.
#ifndef VIGIL_TESTS_SUPPORT_SUBPROCESS_H_
#define VIGIL_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/common/channel.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace vigil::testing {

// Paths of the binaries this build produced.
std::string VigildPath();
std::string VigilCliPath();
std::string VigilLoadPath();

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal when killed
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` (argv[0] is the program path) to completion with `env` added to the
// environment; kills it and fails after `timeout`.
absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv,
                              absl::Duration timeout = absl::Seconds(60),
                              const std::vector<std::string>& env = {});

// A vigild process serving from `dir`/data on 127.0.0.1 with a free port; its log is
// `dir`/vigild.log. Killed (SIGKILL) on destruction if still running. Reads of personal data
// are not rate-limited unless the arguments say otherwise (--read-rate): tests read far
// faster than people do.
class VigildProcess {
 public:
  explicit VigildProcess(std::string dir) : dir_(std::move(dir)) {}

  // Before Start: listen on `host` (e.g. "0.0.0.0"; clients still connect to 127.0.0.1) and
  // reach the server with `transport` (TLS files) for the readiness check and channel().
  void SetListenHost(std::string host) { listen_host_ = std::move(host); }
  void SetTransport(client::TransportOptions transport) { transport_ = std::move(transport); }
  ~VigildProcess();
  VigildProcess(const VigildProcess&) = delete;
  VigildProcess& operator=(const VigildProcess&) = delete;

  // Starts vigild with `extra_args` and waits until it reports SERVING. On failure (it exited,
  // or did not serve within 60 s) the status carries the tail of its log.
  absl::Status Start(const std::vector<std::string>& extra_args = {});
  // Sends `signal` and waits for the exit; returns the exit status (128 + signal if killed).
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout = absl::Seconds(60));
  // Starts again on the port it last served on (after Stop or Kill), so that clients holding a
  // channel to it reconnect, as they would to a restarted production server.
  absl::Status StartOnSamePort(const std::vector<std::string>& extra_args = {});
  // SIGKILL, then reap.
  void Kill();
  // Stop(SIGTERM) then Start with the same arguments and data.
  absl::Status Restart();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  std::string dir_;
  absl::Status StartOn(int listen_port, const std::vector<std::string>& extra_args);

  std::vector<std::string> args_;
  std::string listen_host_ = "127.0.0.1";
  client::TransportOptions transport_;
  pid_t pid_ = -1;
  int port_ = 0;
  int last_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// Identity metadata for a test client context.
struct Identity {
  Identity() = default;
  Identity(std::string actor_, std::string role_, std::string force_, std::string purpose_,
           std::string team_ = {}, std::string rank_ = {})
      : actor(std::move(actor_)),
        role(std::move(role_)),
        force(std::move(force_)),
        purpose(std::move(purpose_)),
        team(std::move(team_)),
        rank(std::move(rank_)) {}

  std::string actor = "DC 4512";
  std::string role = "officer";
  std::string force = "wessex";
  std::string purpose = "end-to-end test";
  std::string team;  // x-vigil-team, when set
  std::string rank;  // x-vigil-rank, when set
};

// Adds `who` to a client context as the identity headers vigild trusts under its development
// authenticator (x-vigil-actor, -role, -force, -team, -rank, -purpose); empty fields are left out.
void AddIdentity(grpc::ClientContext& context, const Identity& who);

// Runs the vigil CLI against `server` as `who` (VIGIL_ACTOR, _ROLE, _FORCE, _PURPOSE). Fails the
// test, and returns an empty result, when it could not be run or did not finish in `timeout`.
RunResult RunVigil(const std::string& server, std::vector<std::string> args, const Identity& who,
                   absl::Duration timeout = absl::Seconds(120));

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SUPPORT_SUBPROCESS_H_
