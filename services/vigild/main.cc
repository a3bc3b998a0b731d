// vigild: the vigil server. One binary hosts every service over one embedded store; the
// --services flag hosts a subset. This file is the only code no test links: flags, wiring,
// signals.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/crypto/jwt.h"
#include "base/files.h"
#include "base/logging.h"
#include "base/scheduled_task.h"
#include "base/status_macros.h"
#include "base/version.h"
#include "clients/common/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/admin/admin_service.h"
#include "services/admin/backup_keeper.h"
#include "services/admin/retention_service.h"
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
#include "services/common/metrics_http.h"
#include "services/common/read_limiter.h"
#include "services/common/rpc.h"
#include "services/common/server.h"
#include "services/common/tls.h"
#include "services/national/national_backlog.h"
#include "services/national/national_backlog_service.h"
#include "services/national/shards.h"
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
#include "storage/backup.h"
#include "storage/store.h"

namespace vigil {
namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:7420";
  std::string health_listen;
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
  std::string shards;
  std::string shard_deadline = "2s";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string metrics_listen;
  std::string backup_dir;
  std::string backup_every = "0";
  uint32_t backup_keep = 48;
  std::string restore_from;
  uint32_t backup_id = 0;
  bool verify = false;
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

// The national backlog serves BacklogService across the shards of --shards; it is never part
// of "all" and never hosted with a force's own backlog.
constexpr absl::string_view kNationalBacklog = "national-backlog";

const std::vector<std::string>& KnownServices() {
  static const std::vector<std::string> known = {"audit",   "rso",    "ocait",
                                                 "backlog", "alerts", "admin"};
  return known;
}

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "vigild: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
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

// vigild --restore-from DIR [--backup-id N] --data-dir NEW: restores a backup into a new
// directory, opens it as vigild would (migrating an older schema) and checks its audit chain.
int RestoreBackup(const Flags& flags) {
  const absl::Time start = absl::Now();
  std::optional<uint32_t> id;
  if (flags.backup_id != 0) id = flags.backup_id;
  absl::StatusOr<storage::BackupRecord> restored =
      storage::Backups::Restore(flags.restore_from, id, flags.data_dir);
  if (!restored.ok()) return Fail(kExitRuntime, restored.status().message());
  const absl::Duration copied = absl::Now() - start;
  storage::StoreOptions options;
  options.path = flags.data_dir;
  options.create_if_missing = false;
  options.migrations = LedgerMigrations();
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
  if (!store.ok()) {
    return Fail(kExitRuntime,
                absl::StrCat("the restored store does not open: ", store.status().message()));
  }
  absl::StatusOr<storage::AuditChainReport> chain = (*store)->Snapshot().VerifyAuditChain();
  if (!chain.ok()) return Fail(kExitRuntime, chain.status().message());
  if (!chain->ok) {
    return Fail(
        kExitRuntime,
        absl::StrCat("backup ", restored->id, " restored into ", flags.data_dir,
                     " but its audit chain is broken at record ", chain->first_broken_sequence,
                     ": ", chain->problem, "; do not serve it: restore an older backup"));
  }
  if (chain->records_checked < restored->audit_head) {
    return Fail(kExitRuntime, absl::StrCat("backup ", restored->id, " should hold at least ",
                                           restored->audit_head, " audit records but holds ",
                                           chain->records_checked, "; restore an older backup"));
  }
  if (absl::Status s = (*store)->Close(); !s.ok()) return Fail(kExitRuntime, s.message());
  std::printf(
      "restored backup %u (taken %s) into %s in %s; its audit chain verifies: %llu records\n"
      "start vigild with --data-dir %s\n",
      restored->id,
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", restored->created, absl::UTCTimeZone()).c_str(),
      flags.data_dir.c_str(), absl::FormatDuration(copied).c_str(),
      static_cast<unsigned long long>(chain->records_checked), flags.data_dir.c_str());
  return 0;
}

// vigild --verify --data-dir DIR: checks every table file's checksums with no vigild running.
int VerifyStore(const Flags& flags) {
  absl::StatusOr<storage::VerifyReport> report = storage::Store::VerifyChecksumsAt(flags.data_dir);
  if (!report.ok()) return Fail(kExitRuntime, report.status().message());
  for (const auto& [file, problem] : report->damaged) {
    std::printf("DAMAGED %s: %s\n", file.c_str(), problem.c_str());
  }
  std::printf("%llu table files, %llu bytes checked in %s: %s\n",
              static_cast<unsigned long long>(report->files_checked),
              static_cast<unsigned long long>(report->bytes_checked), flags.data_dir.c_str(),
              report->ok() ? "no damage found"
                           : "DAMAGED: restore the store from the latest verified backup "
                             "(docs/operations.md, \"Corruption\")");
  return report->ok() ? 0 : kExitRuntime;
}

int Run(int argc, char** argv) {
  // Debian's Abseil checks lock order on every Mutex::Lock (it is built without NDEBUG): a
  // graph of every mutex held, under one global lock, that gRPC's per-call mutexes and the
  // commit path hit on every call (perf: 1% of vigild's CPU under RecordVisit, and a lock all
  // threads share). The test binaries keep the check, where an inversion shows up.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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
                     absl::StrJoin(KnownServices(), ", ") +
                     "), or national-backlog (with --shards; not part of all)")
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
  app.add_option("--health-listen", flags.health_listen,
                 "Also serve grpc.health.v1 alone, in plaintext, here (e.g. 0.0.0.0:7421): for "
                 "probes that cannot speak TLS, such as the kubelet's; no other service and no "
                 "data is reachable there");
  app.add_option("--shards", flags.shards,
                 "With --services=national-backlog: FORCE=ADDRESS,... of every force's vigild "
                 "(reached with the --peer-* TLS flags), e.g. wessex=vigild-wessex:7420");
  app.add_option("--shard-deadline", flags.shard_deadline,
                 "With --services=national-backlog: how long each shard may take to answer "
                 "before the answer leaves its force out (partial)")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error")
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format,
                 "text, or json (one object per line, for log shippers)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "Serve Prometheus metrics at http://ADDRESS/metrics (e.g. 127.0.0.1:9464); "
                 "no credential is asked, so bind it where only the scraper reaches");
  app.add_option("--backup-dir", flags.backup_dir,
                 "Keep backups here (RocksDB BackupEngine: incremental, checksummed); outside "
                 "the data dir, ideally another volume. Enables AdminService.CreateBackup");
  app.add_option("--backup-every", flags.backup_every,
                 "Take a backup this often (e.g. 1h, 30m; 0: only when asked)")
      ->capture_default_str();
  app.add_option("--backup-keep", flags.backup_keep,
                 "Backups to keep; older ones are deleted after each backup")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--restore-from", flags.restore_from,
                 "Restore a backup from this backup dir into --data-dir (which must be new or "
                 "empty), check its audit chain, and exit. vigild must not be serving it");
  app.add_option("--backup-id", flags.backup_id,
                 "With --restore-from: the backup to restore (default: the newest)");
  app.add_flag("--verify", flags.verify,
               "Check the checksums of every table file in --data-dir (no vigild may be "
               "serving it), print the damaged ones, and exit (1 if any)");
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
  if (absl::StatusOr<LogFormat> format = ParseLogFormat(flags.log_format); format.ok()) {
    SetLogFormat(*format);
  }
  absl::Duration backup_every = absl::ZeroDuration();
  if (flags.backup_every != "0" && (!absl::ParseDuration(flags.backup_every, &backup_every) ||
                                    backup_every < absl::Minutes(1))) {
    return Fail(kExitUsage, absl::StrCat("--backup-every ", flags.backup_every,
                                         ": give a duration of at least 1m, e.g. 1h or 30m, "
                                         "or 0 for backups only on request"));
  }
  if (backup_every > absl::ZeroDuration() && flags.backup_dir.empty()) {
    return Fail(kExitUsage, "--backup-every needs --backup-dir: where the backups go");
  }
  if (flags.backup_id != 0 && flags.restore_from.empty()) {
    return Fail(kExitUsage, "--backup-id is used only with --restore-from");
  }
  if (!flags.restore_from.empty()) {
    ::umask(077);
    return RestoreBackup(flags);
  }
  if (flags.verify) return VerifyStore(flags);

  std::vector<std::string> services;
  for (absl::string_view name : absl::StrSplit(flags.services, ',', absl::SkipWhitespace())) {
    if (name == "all") {
      services = KnownServices();
      break;
    }
    if (name != kNationalBacklog &&
        std::find(KnownServices().begin(), KnownServices().end(), name) == KnownServices().end()) {
      return Fail(kExitUsage, absl::StrCat("--services: unknown service '", name,
                                           "' (known: ", absl::StrJoin(KnownServices(), ", "),
                                           ", national-backlog)"));
    }
    services.emplace_back(name);
  }
  if (services.empty()) return Fail(kExitUsage, "--services: name at least one service");
  const bool national =
      std::find(services.begin(), services.end(), kNationalBacklog) != services.end();
  std::vector<national::ShardAddress> shard_addresses;
  absl::Duration shard_deadline;
  if (national) {
    if (std::find(services.begin(), services.end(), "backlog") != services.end()) {
      return Fail(kExitUsage,
                  "--services: backlog and national-backlog both serve BacklogService; run the "
                  "national backlog in a vigild of its own");
    }
    absl::StatusOr<std::vector<national::ShardAddress>> parsed =
        national::ParseShards(flags.shards);
    if (!parsed.ok()) return Fail(kExitUsage, parsed.status().message());
    shard_addresses = *std::move(parsed);
    if (!absl::ParseDuration(flags.shard_deadline, &shard_deadline) ||
        shard_deadline < absl::Milliseconds(10) || shard_deadline > absl::Minutes(10)) {
      return Fail(kExitUsage, absl::StrCat("--shard-deadline ", flags.shard_deadline,
                                           ": give a duration from 10ms to 10m, e.g. 2s"));
    }
  } else if (!flags.shards.empty()) {
    return Fail(kExitUsage, "--shards is used only with --services=national-backlog");
  }
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
  store_options.migrations = LedgerMigrations();
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
  // Wakes streams (WatchObligations, Subscribe) when their feed advances, and ticks every
  // stream (ExportAuditRecords too) for its stuck-reader check.
  FeedNotifier notifier;
  notifier.Attach(**store);
  std::vector<HostedService> hosted;
  std::unique_ptr<audit::AuditLog> audit_log;
  std::unique_ptr<audit::AuditServiceImpl> audit_service;
  if (hosts("audit")) {
    audit_log = std::make_unique<audit::AuditLog>(**store);
    audit_service = std::make_unique<audit::AuditServiceImpl>(core_runtime, *audit_log, notifier);
    hosted.push_back({v1::AuditService::service_full_name(), audit_service.get()});
  }
  // Each owning context keeps an in-memory view of its deadline index for overdue queries and
  // visit plans, loaded below (before any write) and kept current by every commit.
  std::map<std::string, const OverdueIndex*> overdue_indexes;
  std::vector<std::pair<std::string, std::unique_ptr<OverdueIndex>>> owned_indexes;
  for (auto [name, space] : {std::pair{"rso", storage::DeadlineSpace::kRso},
                             std::pair{"ocait", storage::DeadlineSpace::kOcait}}) {
    if (!hosts(name)) continue;
    owned_indexes.emplace_back(name, std::make_unique<OverdueIndex>(space));
    overdue_indexes[name] = owned_indexes.back().second.get();
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
    visits = std::make_unique<rso::Visits>(*offender_store, *overdue_indexes.at("rso"));
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
  for (const auto& [name, index] : owned_indexes) {
    if (absl::Status s = index->Attach(**store, name); !s.ok()) {
      return Fail(kExitRuntime,
                  absl::StrCat("loading the ", name, " deadline index: ", s.message()));
    }
    VIGIL_LOG(INFO) << name << ": " << index->size() << " open obligations";
  }
  // The daily rso upkeep, at start and then each local midnight, for every force with open
  // offender clocks: first the notification periods that have ended (those offenders leave
  // active management, their clocks closed), then the team findings (flat diarising; a new
  // finding alerts the team's inspector).
  std::unique_ptr<ScheduledTask> team_findings;
  if (visits != nullptr && overdue_indexes.count("rso") > 0) {
    const OverdueIndex* rso_index = overdue_indexes.at("rso");
    team_findings = std::make_unique<ScheduledTask>(
        clock,
        [zone = *zone](absl::Time now) {
          return policy::EndOfLocalDay(policy::LocalDay(now, zone), zone);
        },
        [&clock, rso_index, checker = visits.get(), periods = offender_register.get()](absl::Time) {
          for (const std::string& force : rso_index->Forces()) {
            CallContext ending;
            ending.principal = Principal{"vigild notification periods", Role::kSystem, force};
            ending.purpose = "daily close of ended notification requirements";
            ending.method = "rso/notification-periods";
            ending.now = clock.Now();
            absl::StatusOr<int> ended = periods->CloseEndedRequirements(ending);
            if (!ended.ok()) {
              VIGIL_LOG(WARNING) << "rso: closing the ended notification periods of " << force
                                 << " failed: " << ended.status().message();
            } else if (*ended > 0) {
              VIGIL_LOG(INFO) << "rso: " << *ended << " offender(s) of " << force
                              << " past their notification period: out of active management";
            }
            CallContext call;
            call.principal = Principal{"vigild team findings", Role::kSystem, force};
            call.purpose = "daily team findings";
            call.method = "rso/team-findings";
            call.now = clock.Now();
            absl::StatusOr<v1::CheckTeamFindingsResponse> checked =
                checker->CheckTeamFindings(call, v1::CheckTeamFindingsRequest());
            if (!checked.ok()) {
              VIGIL_LOG(WARNING) << "rso: the daily team findings of " << force
                                 << " failed: " << checked.status().message();
            } else if (checked->alerted_teams_size() + checked->stood_down_teams_size() > 0) {
              VIGIL_LOG(INFO) << "rso: team findings of " << force << ": "
                              << checked->alerted_teams_size() << " new (inspectors alerted), "
                              << checked->stood_down_teams_size() << " stood down";
            }
          }
        },
        /*run_at_start=*/true);
  }
  std::unique_ptr<ObligationFeedImpl> feed_service;
  if (!overdue_indexes.empty()) {
    std::map<std::string, FeedContext> served;
    for (const auto& [name, index] : overdue_indexes) served[name].index = index;
    if (offender_store != nullptr) served["rso"].names = &offender_store->namer();
    if (referral_queue != nullptr) served["ocait"].names = &referral_queue->namer();
    feed_service =
        std::make_unique<ObligationFeedImpl>(new_runtime(), **store, notifier, std::move(served));
    hosted.push_back({v1::ObligationFeed::service_full_name(), feed_service.get()});
  }
  backlog::FeedClients feed_clients;
  std::unique_ptr<backlog::Backlog> backlog_domain;
  std::unique_ptr<backlog::BacklogServiceImpl> backlog_service;
  if (hosts("backlog")) {
    for (const auto& [name, index] : overdue_indexes) feed_clients.Add(name);
    // The owners hosted here are asked in process: no gRPC hop, one audit commit per answer.
    feed_clients.SetLocal(feed_service.get());
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
  std::unique_ptr<national::ShardSet> shard_set;
  std::unique_ptr<national::NationalBacklog> national_backlog;
  std::unique_ptr<national::NationalBacklogServiceImpl> national_service;
  if (national) {
    std::vector<national::Shard> shards;
    for (const national::ShardAddress& shard : shard_addresses) {
      // A shard back after a restart is asked again within a second or two, not after
      // gRPC's default back-off of up to two minutes.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
          client::Connect(shard.address, *peers, args);
      if (!channel.ok()) {
        return Fail(kExitUsage,
                    absl::StrCat("--shards ", shard.force, ": ", channel.status().message()));
      }
      shards.push_back({shard.force, *std::move(channel), Hop::kRemote});
    }
    if (flags.peer_cert.empty()) {
      VIGIL_LOG(WARNING) << "national-backlog: no --peer-cert: the shards see no service "
                            "certificate and will refuse its calls unless they run --auth=dev";
    }
    shard_set = std::make_unique<national::ShardSet>(std::move(shards), shard_deadline);
    national_backlog = std::make_unique<national::NationalBacklog>(**store, *shard_set);
    national_service =
        std::make_unique<national::NationalBacklogServiceImpl>(new_runtime(), *national_backlog);
    hosted.push_back({v1::BacklogService::service_full_name(), national_service.get()});
    VIGIL_LOG(INFO) << "national backlog across " << shard_addresses.size()
                    << " shards, each given " << absl::FormatDuration(shard_deadline);
  }
  std::unique_ptr<alerts::AlertEngine> alert_engine;
  std::unique_ptr<alerts::AlertScanner> alert_scanner;
  std::unique_ptr<alerts::AlertServiceImpl> alert_service;
  if (hosts("alerts")) {
    alert_engine = std::make_unique<alerts::AlertEngine>(**store, **policies, clock, *zone);
    alert_scanner = std::make_unique<alerts::AlertScanner>(*alert_engine, clock);
    alert_engine->SetDeadlineListener(
        [scanner = alert_scanner.get()](absl::Time due) { scanner->WakeFor(due); });
    alert_service =
        std::make_unique<alerts::AlertServiceImpl>(new_runtime(), *alert_engine, notifier);
    hosted.push_back({v1::AlertService::service_full_name(), alert_service.get()});
  }
  std::unique_ptr<storage::Backups> backups;
  std::unique_ptr<admin::BackupKeeper> backup_keeper;
  if (!flags.backup_dir.empty()) {
    absl::StatusOr<std::unique_ptr<storage::Backups>> opened =
        storage::Backups::Open(**store, flags.backup_dir);
    if (!opened.ok())
      return Fail(kExitUsage, absl::StrCat("--backup-dir: ", opened.status().message()));
    backups = *std::move(opened);
    backup_keeper =
        std::make_unique<admin::BackupKeeper>(*backups, backup_every, flags.backup_keep);
  }
  std::unique_ptr<admin::AdminServiceImpl> admin_service;
  if (hosts("admin")) {
    std::vector<ClockRecomputer*> owners;
    if (offender_store != nullptr) owners.push_back(&offender_store->recomputer());
    if (referral_queue != nullptr) owners.push_back(&referral_queue->records());
    admin_service = std::make_unique<admin::AdminServiceImpl>(
        core_runtime, **policies, std::move(owners), **store, backup_keeper.get());
    hosted.push_back({v1::AdminService::service_full_name(), admin_service.get()});
  }
  // An erasure committed just before vigild stopped may not have been compacted away yet.
  for (RecordKeeper* keeper : std::initializer_list<RecordKeeper*>{
           offender_store != nullptr ? &offender_store->keeper() : nullptr,
           referral_queue != nullptr ? &referral_queue->records() : nullptr}) {
    if (keeper == nullptr) continue;
    absl::StatusOr<int> resumed = keeper->ResumeErasures();
    if (!resumed.ok()) {
      VIGIL_LOG(ERROR) << keeper->context() << ": compacting away an interrupted erasure failed: "
                       << resumed.status().message() << "; the next erasure will try again";
    } else if (*resumed > 0) {
      VIGIL_LOG(INFO) << keeper->context() << ": compacted away " << *resumed
                      << " erasure(s) interrupted by the last stop";
    }
  }
  std::unique_ptr<admin::RetentionServiceImpl> retention_service;
  if (hosts("admin")) {
    std::vector<RecordKeeper*> keepers;
    if (offender_store != nullptr) keepers.push_back(&offender_store->keeper());
    if (referral_queue != nullptr) keepers.push_back(&referral_queue->records());
    retention_service =
        std::make_unique<admin::RetentionServiceImpl>(core_runtime, std::move(keepers), **store);
    hosted.push_back({v1::RetentionService::service_full_name(), retention_service.get()});
  }

  // Gauges for `vigil metrics`: open clocks per owner, and feed heads to compare with how far
  // their followers have applied them. Cleared at shutdown, before what they read goes.
  std::vector<std::string> gauge_functions;
  auto gauge = [&](std::string name, const std::string& help, std::function<int64_t()> read) {
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
  gauge("audit_index_lag_records",
        "Audit records committed but not yet in the audit index (the indexer writes them after "
        "the commit; listings read them from the chain meanwhile)",
        [s = store->get()] {
          const uint64_t indexed = s->AuditIndexed();  // first: the head only grows
          return static_cast<int64_t>(s->AuditHead() - indexed);
        });
  gauge("store_condition",
        "What the store can do: 0 ok, 1 disk full, 2 write failed, 3 corrupt (see the log)",
        [s = store->get()] { return static_cast<int64_t>(s->condition().health); });
  Metrics::Default().AddHistogram("store_commit_group_changes",
                                  "Changes written per commit group (one fsync each)",
                                  &(*store)->group_sizes());
  Metrics::Default().AddHistogram("store_commit_group_write_seconds",
                                  "Time to write one commit group, its fsync included",
                                  &(*store)->write_seconds());
  // Figures computed at each Prometheus scrape: RocksDB's own, the data volume's space, and
  // the backlog by force, kind, risk and age band.
  Metrics::Default().SetCollector("storage", [s = store->get(), dir = flags.data_dir](
                                                 std::vector<CollectedFamily>& out) {
    const std::pair<const char*, const char*> properties[] = {
        {"rocksdb.estimate-pending-compaction-bytes", "Bytes compaction still has to rewrite"},
        {"rocksdb.compaction-pending", "1 when a compaction is waiting to run"},
        {"rocksdb.is-write-stopped", "1 while RocksDB stops writes (a stall)"},
        {"rocksdb.actual-delayed-write-rate", "Delayed write rate while RocksDB slows writes"},
        {"rocksdb.cur-size-all-mem-tables", "Bytes in memtables"},
        {"rocksdb.block-cache-usage", "Bytes in the block cache"},
        {"rocksdb.live-sst-files-size", "Bytes of live table files"},
        {"rocksdb.background-errors", "Background errors since open"},
    };
    for (const auto& [property, help] : properties) {
      std::string name = absl::StrReplaceAll(property, {{".", "_"}, {"-", "_"}});
      out.push_back(
          {std::move(name), help, "gauge", {{"", static_cast<double>(s->IntProperty(property))}}});
    }
    std::error_code ec;
    const std::filesystem::space_info space = std::filesystem::space(dir, ec);
    if (!ec) {
      out.push_back({"data_volume_size_bytes",
                     "Size of the data directory's filesystem",
                     "gauge",
                     {{"", static_cast<double>(space.capacity)}}});
      out.push_back({"data_volume_available_bytes",
                     "Bytes free for vigild on the data directory's filesystem",
                     "gauge",
                     {{"", static_cast<double>(space.available)}}});
    }
  });
  Metrics::Default().SetCollector("backlog", [&overdue_indexes](std::vector<CollectedFamily>& out) {
    CollectedFamily family{"backlog_overdue",
                           "Overdue obligations by owning context, force, kind, risk and age band",
                           "gauge",
                           {}};
    const absl::Time now = absl::Now();
    for (const auto& [context, index] : overdue_indexes) {
      for (const std::string& force : index->Forces()) {
        const OverdueIndex::Summary summary = index->Summarize({force, "", "", {}, {}, {}}, now);
        for (int kind = 0; kind < kObligationKindSlots; ++kind) {
          for (int risk = 0; risk < 5; ++risk) {
            for (int band = 0; band < 7; ++band) {
              if (summary.counts[kind][risk][band] == 0) continue;
              family.samples.emplace_back(
                  absl::StrCat("context=", LabelValue(context), ",force=", LabelValue(force),
                               ",kind=", LabelValue(v1::ObligationKind_Name(kind)),
                               ",risk=", LabelValue(v1::RiskLevel_Name(risk)),
                               ",age_band=", LabelValue(v1::AgeBand_Name(band))),
                  static_cast<double>(summary.counts[kind][risk][band]));
            }
          }
        }
      }
    }
    out.push_back(std::move(family));
  });
  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (!flags.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
        MetricsHttpServer::Start(flags.metrics_listen);
    if (!started.ok()) return Fail(kExitUsage, started.status().message());
    metrics_http = *std::move(started);
    VIGIL_LOG(INFO) << "Prometheus metrics on http://"
                    << flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':')) << ":"
                    << metrics_http->port() << "/metrics";
  }

  ServerOptions server_options;
  server_options.listen = flags.listen;
  server_options.health_listen = flags.health_listen;
  server_options.max_message_bytes = flags.max_message_bytes;
  server_options.max_concurrent_streams = flags.max_concurrent_streams;
  if (security->tls != nullptr) server_options.credentials = security->tls->credentials();
  absl::StatusOr<std::unique_ptr<ServerHost>> host = ServerHost::Start(server_options, hosted);
  if (!host.ok()) {
    for (auto& executor : executors) executor->Shutdown();
    (void)(*store)->Close();
    return Fail(kExitRuntime, host.status().message());
  }
  // While the store cannot write (disk full, I/O error, corruption), every vigil service
  // reports NOT_SERVING, so that a proxy or orchestrator routes around it; the server itself
  // ("") stays SERVING: restarting it would not help.
  auto report_condition = [host = host->get(), &hosted](const storage::StoreCondition& now) {
    for (const HostedService& service : hosted) {
      host->SetServing(service.name, now.health == storage::StoreHealth::kOk);
    }
  };
  (*store)->AddConditionListener(report_condition);
  report_condition((*store)->condition());
  for (const auto& [name, index] : overdue_indexes) {
    if (backlog_domain != nullptr) feed_clients.SetChannel(name, (*host)->InProcessChannel());
  }
  if (backlog_domain != nullptr) backlog_domain->StartSnapshots();
  if (team_findings != nullptr) team_findings->Start();
  // The alerts service follows every owning context's feed: straight from the store it shares
  // when co-hosted, through WatchObligations otherwise.
  std::vector<std::unique_ptr<alerts::FeedFollower>> followers;
  if (alert_engine != nullptr) {
    for (absl::string_view name : {"rso", "ocait"}) {
      if (overdue_indexes.count(std::string(name)) > 0) {
        followers.push_back(std::make_unique<alerts::FeedFollower>(*alert_engine, std::string(name),
                                                                   **store, notifier));
        followers.back()->Start();
        continue;
      }
      auto address = feed_addresses.find(std::string(name));
      if (address == feed_addresses.end()) {
        VIGIL_LOG(WARNING) << "alerts: " << name
                           << " is not hosted here and has no --feed-address: "
                           << "its obligations raise no alerts";
        continue;
      }
      absl::StatusOr<std::shared_ptr<grpc::Channel>> remote =
          client::Connect(address->second, *peers);
      if (!remote.ok()) {
        VIGIL_LOG(ERROR) << "alerts: " << remote.status().message();
        continue;
      }
      followers.push_back(std::make_unique<alerts::FeedFollower>(*alert_engine, std::string(name),
                                                                 *std::move(remote), Hop::kRemote));
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
  // Every table file is read through once after start: damage (a flipped bit, a truncated
  // file) is found now, not when a caller's read first meets it.
  std::atomic<bool> stop_verifying{false};
  std::thread verifier([s = store->get(), &stop_verifying] {
    const absl::Time start = absl::Now();
    absl::StatusOr<storage::VerifyReport> report = s->VerifyChecksums(&stop_verifying);
    if (!report.ok()) {
      VIGIL_LOG(ERROR) << "checking the store's table files: " << report.status();
    } else if (report->ok()) {
      VIGIL_LOG(INFO) << "store checked: " << report->files_checked << " table files, "
                      << report->bytes_checked << " bytes, no damage, in " << absl::Now() - start;
    } else {
      for (const auto& [file, problem] : report->damaged) {
        VIGIL_LOG(ERROR) << "store damaged: " << file << ": " << problem;
      }
    }
  });
  if (backup_keeper != nullptr) {
    backup_keeper->Start();
    VIGIL_LOG(INFO) << "backups in " << flags.backup_dir
                    << (backup_every > absl::ZeroDuration()
                            ? absl::StrCat(" every ", absl::FormatDuration(backup_every),
                                           ", keeping ", flags.backup_keep)
                            : std::string(" on request only (no --backup-every)"));
  } else {
    VIGIL_LOG(WARNING) << "no --backup-dir: this vigild takes no backups (docs/operations.md)";
  }
  VIGIL_LOG(INFO) << "vigild serving on " << flags.listen << " (port " << (*host)->port()
                  << "), data dir " << flags.data_dir
                  << ", services: " << absl::StrJoin(services, ",")
                  << ", auth: " << authenticator.name()
                  << (security->tls != nullptr ? ", TLS" : ", plaintext");
  if ((*host)->health_port() != 0) {
    VIGIL_LOG(INFO) << "grpc.health.v1 alone, plaintext, on " << flags.health_listen << " (port "
                    << (*host)->health_port() << ")";
  }
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
  if (team_findings != nullptr) team_findings->Stop();
  (*host)->SetNotServing();
  for (const auto& runtime : runtimes) runtime->StopAdmitting();
  const absl::Time grace_end = stop_start + absl::Seconds(flags.shutdown_grace_seconds);
  for (const auto& runtime : runtimes) {
    if (!runtime->WaitIdle(std::max(grace_end - absl::Now(), absl::ZeroDuration()))) {
      VIGIL_LOG(WARNING) << runtime->in_flight()
                         << " calls still running after the grace period; cancelling them";
    }
  }
  stop_verifying = true;
  verifier.join();
  if (link_outbox != nullptr) link_outbox->Stop();
  if (backup_keeper != nullptr) backup_keeper->Stop();
  if (backlog_domain != nullptr) backlog_domain->StopSnapshots();
  (*host)->Shutdown(absl::ZeroDuration());
  VIGIL_LOG(INFO) << "gRPC server stopped after " << absl::Now() - stop_start;
  for (auto& executor : executors) executor->Shutdown();
  for (const std::string& name : gauge_functions) Metrics::Default().ClearGaugeFunction(name);
  if (*witness != nullptr) (*witness)->Stop();  // a last checkpoint of the final head
  metrics_http.reset();
  Metrics::Default().ClearCollector("storage");
  Metrics::Default().ClearCollector("backlog");
  Metrics::Default().RemoveHistogram("store_commit_group_changes");
  Metrics::Default().RemoveHistogram("store_commit_group_write_seconds");
  backup_keeper.reset();
  backups.reset();
  if (absl::Status s = (*store)->Close(); !s.ok()) {
    return Fail(kExitRuntime, absl::StrCat("closing the store: ", s.message()));
  }
  VIGIL_LOG(INFO) << "vigild stopped cleanly";
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Run(argc, argv); }
