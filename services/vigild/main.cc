// vigild: the vigil server. One binary hosts every service over one embedded store; the
// --services flag hosts a subset. This file is the only code no test links: flags, wiring,
// signals.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/crypto/jwt.h"
#include "base/files.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/version.h"
#include "clients/common/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/admin/admin_service.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_service.h"
#include "services/alerts/feed_follower.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"
#include "services/audit/witness.h"
#include "services/backlog/backlog.h"
#include "services/backlog/backlog_service.h"
#include "services/backlog/feed_client.h"
#include "services/common/auth.h"
#include "services/common/authenticators.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/internal_call.h"
#include "services/common/metrics.h"
#include "services/common/read_limiter.h"
#include "services/common/rpc.h"
#include "services/common/server.h"
#include "services/common/tls.h"
#include "services/obligations/ledger.h"
#include "services/obligations/obligation_feed_service.h"
#include "services/obligations/overdue_index.h"
#include "services/ocait/link_outbox.h"
#include "services/ocait/offender_link.h"
#include "services/ocait/queue.h"
#include "services/ocait/referral_service.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "services/rso/assessments.h"
#include "services/rso/offender_store.h"
#include "services/rso/register.h"
#include "services/rso/rso_service.h"
#include "services/rso/visit_service.h"
#include "services/rso/visits.h"
#include "storage/store.h"

namespace vigil {
namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:7420";
  std::string services = "all";
  std::string auth = "dev";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string jwks_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  int jwt_leeway_seconds = 60;
  TokenClaimNames jwt_claims;
  std::string peer_tls_ca;
  std::string peer_cert;
  std::string peer_key;
  std::string peer_server_name;
  double read_rate = 20;
  double read_burst = 200;
  std::string port_file;
  std::string policy_file;
  std::string rso_address;
  std::vector<std::string> feed_addresses;
  std::string log_level = "info";
  size_t workers = 64;
  size_t max_queued = 10000;
  int max_message_bytes = 4 << 20;
  int max_concurrent_streams = 256;
  double shutdown_grace_seconds = 10;
  size_t block_cache_mb = 128;
  std::string audit_signing_key;
  std::string audit_witness_dir;
  uint64_t audit_checkpoint_records = 1000;
  double audit_checkpoint_minutes = 5;
};

const std::vector<std::string>& KnownServices() {
  static const std::vector<std::string> known = {"audit",   "rso",    "ocait",
                                                 "backlog", "alerts", "admin"};
  return known;
}

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "vigild: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

// Writes the bound port where tests and scripts wait for it, atomically.
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// The transport and authenticator vigild serves with, and what SIGHUP reloads.
struct Security {
  std::unique_ptr<ServerTls> tls;
  std::unique_ptr<crypto::JwtVerifier> verifier;
  std::unique_ptr<Authenticator> authenticator;
};

absl::StatusOr<std::shared_ptr<const crypto::Jwks>> LoadJwks(const std::string& path) {
  absl::StatusOr<crypto::Jwks> jwks = crypto::Jwks::ReadFile(path);
  if (!jwks.ok())
    return absl::InvalidArgumentError(absl::StrCat("--jwks ", jwks.status().message()));
  return std::make_shared<const crypto::Jwks>(*std::move(jwks));
}

// Checks the identity flags together and builds what they describe. InvalidArgument naming
// the flag and what to give.
absl::StatusOr<Security> SetUpSecurity(const Flags& flags, const Clock& clock) {
  Security security;
  const bool certificates = flags.auth == "mtls" || flags.auth == "mtls+jwt";
  const bool tokens = flags.auth == "jwt" || flags.auth == "mtls+jwt";
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: give both, or neither");
  }
  if (certificates && (flags.tls_cert.empty() || flags.tls_client_ca.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--auth=", flags.auth,
        " identifies callers by client certificates: give --tls-cert, "
        "--tls-key and --tls-client-ca (vigil certs create-ca / create-server make them)"));
  }
  if (!flags.tls_client_ca.empty() && flags.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs TLS: give --tls-cert and --tls-key");
  }
  if (!flags.tls_cert.empty()) {
    ClientCertificates clients = ClientCertificates::kNone;
    if (certificates) {
      clients = ClientCertificates::kRequire;
    } else if (!flags.tls_client_ca.empty()) {
      clients = ClientCertificates::kRequest;
    }
    VIGIL_ASSIGN_OR_RETURN(
        security.tls,
        ServerTls::Create({flags.tls_cert, flags.tls_key, flags.tls_client_ca}, clients));
  }
  if (tokens) {
    if (flags.jwks_file.empty() || flags.jwt_issuer.empty() || flags.jwt_audience.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth=", flags.auth,
                       " verifies bearer tokens: give --jwks (the issuer's keys), "
                       "--jwt-issuer and --jwt-audience"));
    }
    crypto::JwtVerifierOptions options;
    VIGIL_ASSIGN_OR_RETURN(options.jwks, LoadJwks(flags.jwks_file));
    options.issuer = flags.jwt_issuer;
    options.audience = flags.jwt_audience;
    options.leeway = absl::Seconds(flags.jwt_leeway_seconds);
    VIGIL_ASSIGN_OR_RETURN(security.verifier, crypto::JwtVerifier::Create(std::move(options)));
  } else if (!flags.jwks_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwks is used only with --auth=jwt or mtls+jwt, not ", flags.auth));
  }
  if (flags.auth == "dev") {
    security.authenticator = std::make_unique<DevHeaderAuthenticator>();
  } else if (flags.auth == "mtls") {
    security.authenticator = std::make_unique<MtlsAuthenticator>();
  } else {
    security.authenticator = std::make_unique<JwtAuthenticator>(
        *security.verifier, clock, flags.jwt_claims, /*require_certificate=*/certificates);
  }
  return security;
}

// True when `path` is `dir` or lies under it (after resolving both as far as they exist).
bool IsWithin(const std::string& path, const std::string& dir) {
  std::error_code error;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, error);
  const std::filesystem::path d = std::filesystem::weakly_canonical(dir, error);
  if (error) return false;
  auto [d_end, p_at] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return d_end == d.end();
}

// The audit witness of --audit-witness-dir signed with --audit-signing-key, or null (with a
// warning) when no witness directory is given. Usage errors name the flag and the fix.
absl::StatusOr<std::unique_ptr<audit::AuditWitness>> OpenAuditWitness(const Flags& flags,
                                                                      storage::Store& store) {
  if (flags.audit_witness_dir.empty()) {
    if (!flags.audit_signing_key.empty()) {
      return absl::InvalidArgumentError(
          "--audit-signing-key: give --audit-witness-dir too (where the signed checkpoints go)");
    }
    VIGIL_LOG(WARNING) << "--audit-witness-dir is not set: the audit chain's head is kept only in "
                          "the data directory, so a rewrite of the whole store would go unnoticed "
                          "(docs/operations.md, \"Audit witness\")";
    return nullptr;
  }
  if (flags.audit_signing_key.empty()) {
    return absl::InvalidArgumentError(
        "--audit-witness-dir: give --audit-signing-key too (an Ed25519 private key outside the "
        "data directory: `openssl genpkey -algorithm ed25519 -out audit-signing.key`)");
  }
  for (const auto& [flag, path] : {std::pair{"--audit-witness-dir", flags.audit_witness_dir},
                                   std::pair{"--audit-signing-key", flags.audit_signing_key}}) {
    if (IsWithin(path, flags.data_dir)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", path, " is inside --data-dir ", flags.data_dir,
                       ": it must live outside it, or rewriting the store could rewrite it too"));
    }
  }
  if (absl::Status s = CheckPrivateFile(flags.audit_signing_key); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--audit-signing-key: ", s.message()));
  }
  VIGIL_ASSIGN_OR_RETURN(const std::string pem,
                         ReadFileNamedBy("--audit-signing-key", flags.audit_signing_key));
  absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::ReadPrivateKeyPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit-signing-key: ", key.status().message()));
  }
  audit::AuditWitness::Options options;
  options.dir = flags.audit_witness_dir;
  options.every_records = std::max<uint64_t>(1, flags.audit_checkpoint_records);
  options.every = absl::Minutes(flags.audit_checkpoint_minutes);
  return audit::AuditWitness::Open(store, *std::move(key), std::move(options));
}

// SIGHUP: new TLS files and JWKS, each checked before use; a bad one keeps the old.
void ReloadSecurity(const Flags& flags, Security& security) {
  if (security.tls != nullptr) {
    if (absl::Status s = security.tls->Reload(); s.ok()) {
      VIGIL_LOG(INFO) << "TLS files reloaded; new connections use them";
    } else {
      VIGIL_LOG(ERROR) << "TLS files not reloaded, the old ones stay in use: " << s.message();
    }
  }
  if (security.verifier != nullptr) {
    if (absl::StatusOr<std::shared_ptr<const crypto::Jwks>> jwks = LoadJwks(flags.jwks_file);
        jwks.ok()) {
      security.verifier->ReplaceKeys(*std::move(jwks));
      VIGIL_LOG(INFO) << "JWKS " << flags.jwks_file << " reloaded";
    } else {
      VIGIL_LOG(ERROR) << "JWKS not reloaded, the old keys stay in use: "
                       << jwks.status().message();
    }
  }
}

// How vigild reaches the vigild processes of --rso-address and --feed-address.
absl::StatusOr<client::TransportOptions> PeerTransport(const Flags& flags) {
  client::TransportOptions peers{flags.peer_tls_ca, flags.peer_cert, flags.peer_key,
                                 flags.peer_server_name};
  VIGIL_RETURN_IF_ERROR(client::Credentials(peers).status());
  if (!flags.peer_key.empty()) {
    if (absl::Status s = CheckPrivateFile(flags.peer_key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--peer-key: ", s.message()));
    }
  }
  return peers;
}

int Run(int argc, char** argv) {
  Flags flags;
  CLI::App app{
      "vigild: the vigil server. Keeps every offender-management obligation as a durable clock "
      "in an embedded RocksDB store and serves vigil's gRPC API."};
  app.set_config("--config", "", "Read flags from a TOML/INI file");
  app.set_version_flag("--version",
                       absl::StrCat("vigild ", kVersion, " (API vigil.v1 ", kApiVersion, ")"));
  app.add_option("--data-dir", flags.data_dir,
                 "Directory of the embedded store (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", flags.listen, "Address to serve gRPC on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--services", flags.services,
                 "Comma-separated services to host, or 'all' (known: " +
                     absl::StrJoin(KnownServices(), ", ") + ")")
      ->capture_default_str();
  app.add_option("--auth", flags.auth,
                 "How callers are identified (docs/security.md): 'mtls' by their verified client "
                 "certificate, 'jwt' by a verified bearer token, 'mtls+jwt' by both; 'dev' "
                 "trusts x-vigil-actor/-role/-force metadata and is allowed only on loopback")
      ->check(CLI::IsMember({"dev", "mtls", "jwt", "mtls+jwt"}))
      ->capture_default_str();
  app.add_option("--tls-cert", flags.tls_cert, "Serve TLS with this PEM certificate (chain)");
  app.add_option("--tls-key", flags.tls_key,
                 "The PEM private key of --tls-cert (must not be readable by group or others)");
  app.add_option("--tls-client-ca", flags.tls_client_ca,
                 "Verify client certificates against this PEM CA (required with mtls, "
                 "mtls+jwt; with jwt, service certificates of other vigild processes)");
  app.add_option("--jwks", flags.jwks_file,
                 "JSON Web Key Set of the token issuer's signing keys (--auth=jwt, mtls+jwt); "
                 "reloaded on SIGHUP");
  app.add_option("--jwt-issuer", flags.jwt_issuer, "The 'iss' every token must carry");
  app.add_option("--jwt-audience", flags.jwt_audience, "An 'aud' every token must carry");
  app.add_option("--jwt-leeway-seconds", flags.jwt_leeway_seconds,
                 "Clock skew allowed on 'exp' and 'nbf'")
      ->check(CLI::Range(0, 600))
      ->capture_default_str();
  app.add_option("--jwt-claim-actor", flags.jwt_claims.actor, "Token claim naming the actor")
      ->capture_default_str();
  app.add_option("--jwt-claim-role", flags.jwt_claims.role, "Token claim naming the role")
      ->capture_default_str();
  app.add_option("--jwt-claim-force", flags.jwt_claims.force, "Token claim naming the force")
      ->capture_default_str();
  app.add_option("--jwt-claim-team", flags.jwt_claims.team, "Token claim naming the team")
      ->capture_default_str();
  app.add_option("--jwt-claim-rank", flags.jwt_claims.rank, "Token claim naming the rank")
      ->capture_default_str();
  app.add_option("--peer-tls-ca", flags.peer_tls_ca,
                 "CA of the vigild processes named by --rso-address and --feed-address (TLS)");
  app.add_option("--peer-cert", flags.peer_cert,
                 "This vigild's service certificate (role service) for calls to those processes");
  app.add_option("--peer-key", flags.peer_key, "The private key of --peer-cert");
  app.add_option("--peer-server-name", flags.peer_server_name,
                 "The name the peers' certificates carry, when not their address's host");
  app.add_option("--read-rate", flags.read_rate,
                 "Records of personal data one principal may read per second, sustained "
                 "(0: no limit)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--read-burst", flags.read_burst,
                 "Records one principal may read at once after a quiet spell")
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str();
  app.add_option("--port-file", flags.port_file, "Write the bound port to this file once serving");
  app.add_option("--policy", flags.policy_file,
                 "Policy (text-format vigil.v1.Policy). When its rules differ from the current "
                 "stored version it becomes a new current version; existing due dates keep "
                 "theirs until an admin recomputes them. Without it, the built-in policy seeds "
                 "a new store and a stored policy (e.g. one set with SetPolicy) stays current");
  app.add_option("--rso-address", flags.rso_address,
                 "Where the offender register (rso) runs, when this vigild hosts ocait without it");
  app.add_option("--feed-address", flags.feed_addresses,
                 "CONTEXT=ADDRESS of an owning context (rso, ocait) hosted elsewhere, for the "
                 "backlog and alerts services (repeatable)");
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error")
      ->capture_default_str();
  app.add_option("--workers", flags.workers,
                 "Worker threads per service context running RPC bodies (bounds commits sharing "
                 "one fsync)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--max-queued", flags.max_queued,
                 "Requests that may wait for a worker before RESOURCE_EXHAUSTED")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--max-message-bytes", flags.max_message_bytes, "Largest request or response")
      ->check(CLI::Range(1024, 64 << 20))
      ->capture_default_str();
  app.add_option("--max-concurrent-streams", flags.max_concurrent_streams,
                 "Concurrent calls per client connection")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--shutdown-grace-seconds", flags.shutdown_grace_seconds,
                 "On SIGTERM/SIGINT, how long calls in flight may finish")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--audit-witness-dir", flags.audit_witness_dir,
                 "Append signed checkpoints of the audit chain's head here (outside --data-dir, "
                 "ideally another mount); unset: a startup warning");
  app.add_option(
      "--audit-signing-key", flags.audit_signing_key,
      "Ed25519 private key (PEM, outside --data-dir, mode 0600) signing the checkpoints");
  app.add_option("--audit-checkpoint-records", flags.audit_checkpoint_records,
                 "A checkpoint after this many new audit records")
      ->capture_default_str();
  app.add_option("--audit-checkpoint-minutes", flags.audit_checkpoint_minutes,
                 "...or this many minutes after the last one")
      ->capture_default_str();
  app.add_option("--block-cache-mb", flags.block_cache_mb, "RocksDB block cache size")
      ->check(CLI::Range(8, 65536))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  absl::StatusOr<LogLevel> level = ParseLogLevel(flags.log_level);
  if (!level.ok()) return Fail(kExitUsage, absl::StrCat("--log-level: ", level.status().message()));
  SetLogThreshold(*level);

  std::vector<std::string> services;
  for (absl::string_view name : absl::StrSplit(flags.services, ',', absl::SkipWhitespace())) {
    if (name == "all") {
      services = KnownServices();
      break;
    }
    if (std::find(KnownServices().begin(), KnownServices().end(), name) == KnownServices().end()) {
      return Fail(kExitUsage, absl::StrCat("--services: unknown service '", name, "' (known: ",
                                           absl::StrJoin(KnownServices(), ", "), ")"));
    }
    services.emplace_back(name);
  }
  if (services.empty()) return Fail(kExitUsage, "--services: name at least one service");
  std::map<std::string, std::string> feed_addresses;
  for (const std::string& spec : flags.feed_addresses) {
    const size_t eq = spec.find('=');
    const std::string context = spec.substr(0, eq);
    if (eq == std::string::npos || (context != "rso" && context != "ocait")) {
      return Fail(kExitUsage, absl::StrCat("--feed-address: '", spec,
                                           "' is not CONTEXT=ADDRESS with CONTEXT rso or ocait"));
    }
    feed_addresses[context] = spec.substr(eq + 1);
  }

  // Personal data and secrets are written for this user alone: the data directory 0700, its
  // files 0600.
  ::umask(077);
  SystemClock clock;
  absl::StatusOr<Security> security = SetUpSecurity(flags, clock);
  if (!security.ok()) return Fail(kExitUsage, security.status().message());
  const Authenticator& authenticator = *security->authenticator;
  if (!IsLoopbackAddress(flags.listen) &&
      (authenticator.trusts_client_claims() || security->tls == nullptr)) {
    return Fail(kExitUsage,
                absl::StrCat("--listen ", flags.listen,
                             ": beyond loopback vigild needs TLS "
                             "(--tls-cert, --tls-key) and a real authenticator (--auth=mtls, jwt "
                             "or mtls+jwt); --auth=dev trusts identity metadata sent by clients "
                             "and plaintext exposes credentials, so either is loopback only "
                             "(127.0.0.1, ::1, localhost, unix:)"));
  }
  absl::StatusOr<client::TransportOptions> peers = PeerTransport(flags);
  if (!peers.ok()) return Fail(kExitUsage, peers.status().message());
  absl::StatusOr<absl::TimeZone> zone = policy::ForceTimeZone();
  if (!zone.ok()) return Fail(kExitRuntime, zone.status().message());
  v1::Policy configured_policy = policy::DefaultPolicy();
  std::string policy_source = "built-in default policy";
  if (!flags.policy_file.empty()) {
    absl::StatusOr<v1::Policy> loaded = policy::LoadPolicyFile(flags.policy_file);
    if (!loaded.ok())
      return Fail(kExitUsage, absl::StrCat("--policy: ", loaded.status().message()));
    configured_policy = *std::move(loaded);
    policy_source = absl::StrCat("--policy ", flags.policy_file);
  }

  // Signals are taken synchronously by the main thread; every thread started from here on
  // inherits the block.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  storage::StoreOptions store_options;
  store_options.path = flags.data_dir;
  store_options.block_cache_bytes = flags.block_cache_mb << 20;
  store_options.migrations = {LedgerMigration()};
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(store_options);
  if (!store.ok()) return Fail(kExitRuntime, store.status().message());
  // Checked once the directory is known to be a vigil store (Open refuses a foreign one
  // untouched): a store that others may enter is refused with the chmod that fixes it.
  if (absl::Status s = CheckPrivateDirectory(flags.data_dir); !s.ok()) {
    (void)(*store)->Close();  // nothing was written; the refusal is the error to report
    return Fail(kExitUsage, absl::StrCat("--data-dir: ", s.message()));
  }
  absl::StatusOr<std::unique_ptr<audit::AuditWitness>> witness = OpenAuditWitness(flags, **store);
  if (!witness.ok()) {
    (void)(*store)->Close();
    return Fail(kExitUsage, witness.status().message());
  }
  if (*witness != nullptr) {
    (*witness)->Start(clock);
    VIGIL_LOG(INFO) << "audit witness: signed checkpoints of the chain head go to "
                    << (*witness)->path();
  }

  // Each context runs its RPC bodies on its own workers, as it would in its own process: a
  // context waiting on another's API (ocait asking rso) can never starve that one.
  std::vector<std::unique_ptr<Executor>> executors;
  std::vector<std::unique_ptr<RpcRuntime>> runtimes;
  // One read limit per principal across every context.
  ReadLimiter read_limiter(ReadLimits{flags.read_rate, flags.read_burst});
  RpcRuntimeOptions runtime_options;
  runtime_options.read_limiter = &read_limiter;
  runtime_options.audit_store = store->get();
  auto new_runtime = [&]() -> RpcRuntime& {
    executors.push_back(std::make_unique<Executor>(flags.workers, flags.max_queued));
    runtimes.push_back(
        std::make_unique<RpcRuntime>(authenticator, *executors.back(), clock, runtime_options));
    return *runtimes.back();
  };
  RpcRuntime& core_runtime = new_runtime();

  absl::StatusOr<std::unique_ptr<policy::PolicyRegistry>> policies = policy::PolicyRegistry::Open(
      **store, clock, configured_policy, policy_source,
      flags.policy_file.empty() ? policy::PolicyRegistry::Adopt::kWhenNone
                                : policy::PolicyRegistry::Adopt::kWhenDifferent);
  if (!policies.ok()) return Fail(kExitRuntime, policies.status().message());

  auto hosts = [&](absl::string_view name) {
    return std::find(services.begin(), services.end(), name) != services.end();
  };
  std::vector<HostedService> hosted;
  std::unique_ptr<audit::AuditLog> audit_log;
  std::unique_ptr<audit::AuditServiceImpl> audit_service;
  if (hosts("audit")) {
    audit_log = std::make_unique<audit::AuditLog>(**store);
    audit_service = std::make_unique<audit::AuditServiceImpl>(core_runtime, *audit_log);
    hosted.push_back({v1::AuditService::service_full_name(), audit_service.get()});
  }
  std::unique_ptr<rso::OffenderStore> offender_store;
  std::unique_ptr<rso::Register> offender_register;
  std::unique_ptr<rso::Assessments> assessments;
  std::unique_ptr<rso::OffenderServiceImpl> offender_service;
  std::unique_ptr<rso::AssessmentServiceImpl> assessment_service;
  std::unique_ptr<rso::Visits> visits;
  std::unique_ptr<rso::VisitServiceImpl> visit_service;
  if (hosts("rso")) {
    RpcRuntime& runtime = new_runtime();
    offender_store = std::make_unique<rso::OffenderStore>(**store, **policies, *zone);
    offender_register = std::make_unique<rso::Register>(*offender_store);
    assessments = std::make_unique<rso::Assessments>(*offender_store);
    offender_service = std::make_unique<rso::OffenderServiceImpl>(runtime, *offender_register);
    assessment_service = std::make_unique<rso::AssessmentServiceImpl>(runtime, *assessments);
    hosted.push_back({v1::OffenderService::service_full_name(), offender_service.get()});
    hosted.push_back({v1::AssessmentService::service_full_name(), assessment_service.get()});
    visits = std::make_unique<rso::Visits>(*offender_store);
    visit_service = std::make_unique<rso::VisitServiceImpl>(runtime, *visits);
    hosted.push_back({v1::VisitService::service_full_name(), visit_service.get()});
  }
  std::unique_ptr<ocait::GrpcOffenderLink> offender_link;
  std::unique_ptr<ocait::LinkOutbox> link_outbox;
  std::unique_ptr<ocait::Queue> referral_queue;
  std::unique_ptr<ocait::ReferralServiceImpl> referral_service;
  if (hosts("ocait")) {
    RpcRuntime& runtime = new_runtime();
    if (hosts("rso") || !flags.rso_address.empty()) {
      offender_link = std::make_unique<ocait::GrpcOffenderLink>();
      link_outbox = std::make_unique<ocait::LinkOutbox>(**store, *offender_link);
    } else {
      VIGIL_LOG(WARNING) << "ocait without rso or --rso-address: referrals cannot be linked to "
                            "registered offenders";
    }
    referral_queue = std::make_unique<ocait::Queue>(**store, **policies, *zone, offender_link.get(),
                                                    link_outbox.get());
    referral_service = std::make_unique<ocait::ReferralServiceImpl>(runtime, *referral_queue);
    hosted.push_back({v1::ReferralService::service_full_name(), referral_service.get()});
  }
  // Each owning context keeps an in-memory view of its deadline index for overdue queries,
  // loaded now (before any write) and kept current by every commit.
  std::map<std::string, const OverdueIndex*> overdue_indexes;
  std::vector<std::unique_ptr<OverdueIndex>> owned_indexes;
  for (auto [name, space] : {std::pair{"rso", storage::DeadlineSpace::kRso},
                             std::pair{"ocait", storage::DeadlineSpace::kOcait}}) {
    if (!hosts(name)) continue;
    owned_indexes.push_back(std::make_unique<OverdueIndex>(space));
    if (absl::Status s = owned_indexes.back()->Attach(**store, name); !s.ok()) {
      return Fail(kExitRuntime,
                  absl::StrCat("loading the ", name, " deadline index: ", s.message()));
    }
    VIGIL_LOG(INFO) << name << ": " << owned_indexes.back()->size() << " open obligations";
    overdue_indexes[name] = owned_indexes.back().get();
  }
  // Wakes streams (WatchObligations, Subscribe) when their feed advances.
  FeedNotifier notifier;
  notifier.Attach(**store);
  std::unique_ptr<ObligationFeedImpl> feed_service;
  if (!overdue_indexes.empty()) {
    feed_service =
        std::make_unique<ObligationFeedImpl>(new_runtime(), **store, notifier, overdue_indexes);
    hosted.push_back({v1::ObligationFeed::service_full_name(), feed_service.get()});
  }
  backlog::FeedClients feed_clients;
  std::unique_ptr<backlog::Backlog> backlog_domain;
  std::unique_ptr<backlog::BacklogServiceImpl> backlog_service;
  if (hosts("backlog")) {
    for (const auto& [name, index] : overdue_indexes) feed_clients.Add(name);
    for (const auto& [name, address] : feed_addresses) {
      if (overdue_indexes.count(name) == 0) {
        absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::Connect(address, *peers);
        if (!channel.ok()) return Fail(kExitUsage, channel.status().message());
        feed_clients.Add(name, *std::move(channel), Hop::kRemote);
      }
    }
    for (const char* name : {"rso", "ocait"}) {
      if (overdue_indexes.count(name) == 0 && feed_addresses.count(name) == 0) {
        VIGIL_LOG(WARNING) << "backlog: " << name
                           << " is not hosted here and has no --feed-address: its obligations "
                              "are left out of every backlog";
      }
    }
    backlog_domain =
        std::make_unique<backlog::Backlog>(**store, feed_clients, **policies, clock, *zone);
    backlog_service = std::make_unique<backlog::BacklogServiceImpl>(new_runtime(), *backlog_domain);
    hosted.push_back({v1::BacklogService::service_full_name(), backlog_service.get()});
  }
  std::unique_ptr<alerts::AlertEngine> alert_engine;
  std::unique_ptr<alerts::AlertScanner> alert_scanner;
  std::unique_ptr<alerts::AlertServiceImpl> alert_service;
  if (hosts("alerts")) {
    alert_engine = std::make_unique<alerts::AlertEngine>(**store, **policies, clock, *zone);
    alert_scanner = std::make_unique<alerts::AlertScanner>(*alert_engine, clock);
    alert_engine->SetDeadlineListener([scanner = alert_scanner.get()] { scanner->Wake(); });
    alert_service =
        std::make_unique<alerts::AlertServiceImpl>(new_runtime(), *alert_engine, notifier);
    hosted.push_back({v1::AlertService::service_full_name(), alert_service.get()});
  }
  std::unique_ptr<admin::AdminServiceImpl> admin_service;
  if (hosts("admin")) {
    std::vector<ClockRecomputer*> owners;
    if (offender_store != nullptr) owners.push_back(&offender_store->recomputer());
    if (referral_queue != nullptr) owners.push_back(&referral_queue->records());
    admin_service =
        std::make_unique<admin::AdminServiceImpl>(core_runtime, **policies, std::move(owners));
    hosted.push_back({v1::AdminService::service_full_name(), admin_service.get()});
  }

  // Gauges for `vigil metrics`: open clocks per owner, and feed heads to compare with how far
  // their followers have applied them. Cleared at shutdown, before what they read goes.
  std::vector<std::string> gauge_functions;
  auto gauge = [&](std::string name, std::string help, std::function<int64_t()> read) {
    Metrics::Default().SetGaugeFunction(name, help, std::move(read));
    gauge_functions.push_back(std::move(name));
  };
  auto feed_head = [&](const std::string& feed) {
    gauge("feed_head_" + feed, "The last sequence written to the " + feed + " feed",
          [s = store->get(), feed] { return static_cast<int64_t>(s->EventHead(feed)); });
  };
  for (const auto& [name, index] : overdue_indexes) {
    gauge("obligations_open_" + name, "Open obligations (clocks) of the " + name + " context",
          [index = index] { return static_cast<int64_t>(index->size()); });
    feed_head(name);
  }
  if (alert_engine != nullptr) feed_head(std::string(alerts::kAlertFeed));

  ServerOptions server_options;
  server_options.listen = flags.listen;
  server_options.max_message_bytes = flags.max_message_bytes;
  server_options.max_concurrent_streams = flags.max_concurrent_streams;
  if (security->tls != nullptr) server_options.credentials = security->tls->credentials();
  absl::StatusOr<std::unique_ptr<ServerHost>> host = ServerHost::Start(server_options, hosted);
  if (!host.ok()) {
    for (auto& executor : executors) executor->Shutdown();
    (void)(*store)->Close();
    return Fail(kExitRuntime, host.status().message());
  }
  for (const auto& [name, index] : overdue_indexes) {
    if (backlog_domain != nullptr) feed_clients.SetChannel(name, (*host)->InProcessChannel());
  }
  if (backlog_domain != nullptr) backlog_domain->StartSnapshots();
  // The alerts service follows every owning context's feed: in-process when co-hosted.
  std::vector<std::unique_ptr<alerts::FeedFollower>> followers;
  if (alert_engine != nullptr) {
    for (absl::string_view name : {"rso", "ocait"}) {
      std::shared_ptr<grpc::Channel> channel;
      Hop hop = Hop::kInProcess;
      if (overdue_indexes.count(std::string(name)) > 0) {
        channel = (*host)->InProcessChannel();
      } else if (auto it = feed_addresses.find(std::string(name)); it != feed_addresses.end()) {
        absl::StatusOr<std::shared_ptr<grpc::Channel>> remote = client::Connect(it->second, *peers);
        if (!remote.ok()) {
          VIGIL_LOG(ERROR) << "alerts: " << remote.status().message();
          continue;
        }
        channel = *std::move(remote);
        hop = Hop::kRemote;
      } else {
        VIGIL_LOG(WARNING) << "alerts: " << name
                           << " is not hosted here and has no --feed-address: "
                           << "its obligations raise no alerts";
        continue;
      }
      followers.push_back(
          std::make_unique<alerts::FeedFollower>(*alert_engine, std::string(name), channel, hop));
      followers.back()->Start();
    }
    alert_scanner->Start();
  }
  if (offender_link != nullptr) {
    if (hosts("rso")) {
      offender_link->SetChannel((*host)->InProcessChannel(), Hop::kInProcess);
    } else if (absl::StatusOr<std::shared_ptr<grpc::Channel>> remote =
                   client::Connect(flags.rso_address, *peers);
               remote.ok()) {
      offender_link->SetChannel(*std::move(remote), Hop::kRemote);
    } else {
      VIGIL_LOG(ERROR) << "ocait: --rso-address: " << remote.status().message();
    }
    link_outbox->Start();
  }
  VIGIL_LOG(INFO) << "vigild serving on " << flags.listen << " (port " << (*host)->port()
                  << "), data dir " << flags.data_dir
                  << ", services: " << absl::StrJoin(services, ",")
                  << ", auth: " << authenticator.name()
                  << (security->tls != nullptr ? ", TLS" : ", plaintext");
  if (!flags.port_file.empty() && !WritePortFile(flags.port_file, (*host)->port())) {
    VIGIL_LOG(ERROR) << "cannot write --port-file " << flags.port_file;
  }

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    VIGIL_LOG(INFO) << "received SIGHUP: re-reading the TLS files and the JWKS";
    ReloadSecurity(flags, *security);
  }
  VIGIL_LOG(INFO) << "received " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
                  << ": draining calls for up to " << flags.shutdown_grace_seconds << "s";
  // Stop vigild's own work, stop advertising and admitting, let admitted calls finish, then
  // stop the server at once.
  const absl::Time stop_start = absl::Now();
  for (auto& follower : followers) follower->Stop();
  if (alert_scanner != nullptr) alert_scanner->Stop();
  (*host)->SetNotServing();
  for (const auto& runtime : runtimes) runtime->StopAdmitting();
  const absl::Time grace_end = stop_start + absl::Seconds(flags.shutdown_grace_seconds);
  for (const auto& runtime : runtimes) {
    if (!runtime->WaitIdle(std::max(grace_end - absl::Now(), absl::ZeroDuration()))) {
      VIGIL_LOG(WARNING) << runtime->in_flight()
                         << " calls still running after the grace period; cancelling them";
    }
  }
  if (link_outbox != nullptr) link_outbox->Stop();
  if (backlog_domain != nullptr) backlog_domain->StopSnapshots();
  (*host)->Shutdown(absl::ZeroDuration());
  VIGIL_LOG(INFO) << "gRPC server stopped after " << absl::Now() - stop_start;
  for (auto& executor : executors) executor->Shutdown();
  for (const std::string& name : gauge_functions) Metrics::Default().ClearGaugeFunction(name);
  if (*witness != nullptr) (*witness)->Stop();  // a last checkpoint of the final head
  if (absl::Status s = (*store)->Close(); !s.ok()) {
    return Fail(kExitRuntime, absl::StrCat("closing the store: ", s.message()));
  }
  VIGIL_LOG(INFO) << "vigild stopped cleanly";
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Run(argc, argv); }
