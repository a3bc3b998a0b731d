#include "services/audit/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/crypto/jwt.h"
#include "base/crypto/signature.h"
#include "base/logging.h"
#include "base/status_macros.h"

namespace vigil::audit {
namespace {

// Writes all of `data` to `fd` and syncs it.
absl::Status AppendSynced(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("writing ", path, ": ", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    return absl::UnavailableError(absl::StrCat("syncing ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WitnessReport> VerifyAgainstCheckpoints(
    const storage::ReadView& view, const std::vector<AuditCheckpoint>& checkpoints) {
  WitnessReport report;
  for (const AuditCheckpoint& checkpoint : checkpoints) {
    VIGIL_ASSIGN_OR_RETURN(std::optional<storage::StoredAuditRecord> record,
                           view.AuditRecord(checkpoint.sequence));
    ++report.checkpoints_checked;
    std::string problem;
    if (!record.has_value()) {
      problem = "the chain no longer reaches this checkpointed record: records were removed";
    } else if (record->hash != checkpoint.hash) {
      problem =
          absl::StrCat("the chain's hash differs from the one signed at ",
                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", checkpoint.time, absl::UTCTimeZone()),
                       ": the log was rewritten up to here");
    }
    if (!problem.empty()) {
      report.ok = false;
      report.first_mismatched_sequence = checkpoint.sequence;
      report.problem = std::move(problem);
      return report;
    }
  }
  return report;
}

absl::StatusOr<std::unique_ptr<AuditWitness>> AuditWitness::Open(storage::Store& store,
                                                                 crypto::EvpPkeyPtr key,
                                                                 Options options) {
  if (key == nullptr || !crypto::IsEd25519(*key)) {
    return absl::InvalidArgumentError(
        "--audit-signing-key: not an Ed25519 private key (make one with `openssl genpkey "
        "-algorithm ed25519 -out audit-signing.key`)");
  }
  struct stat st;
  if (::stat(options.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--audit-witness-dir: ", options.dir,
                     " is not a directory: create it (outside the data directory, ideally on "
                     "another mount) or leave the flag unset"));
  }
  std::string path = absl::StrCat(options.dir, "/", kWitnessFileName);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("--audit-witness-dir: cannot append to ",
                                                      path, ": ", std::strerror(errno),
                                                      " (vigild must be able to write there)"));
  }
  return std::unique_ptr<AuditWitness>(
      new AuditWitness(store, std::move(key), std::move(options), fd, std::move(path)));
}

AuditWitness::AuditWitness(storage::Store& store, crypto::EvpPkeyPtr key, Options options, int fd,
                           std::string path)
    : store_(store),
      key_(std::move(key)),
      options_(std::move(options)),
      fd_(fd),
      path_(std::move(path)) {}

AuditWitness::~AuditWitness() {
  Stop();
  ::close(fd_);
}

absl::StatusOr<bool> AuditWitness::MaybeCheckpoint(absl::Time now, bool force) {
  absl::MutexLock lock(&mu_);
  const uint64_t head = store_.AuditHead();
  if (head == 0 || head == last_sequence_) return false;
  const bool due = force || head - last_sequence_ >= options_.every_records ||
                   now - last_time_ >= options_.every;
  if (!due) return false;
  VIGIL_ASSIGN_OR_RETURN(std::optional<storage::StoredAuditRecord> record,
                         store_.Snapshot().AuditRecord(head));
  if (!record.has_value())
    return absl::DataLossError(absl::StrCat("audit record ", head, " is missing"));
  VIGIL_ASSIGN_OR_RETURN(const std::string line,
                         crypto::SignCheckpointLine(*key_, {head, record->hash, now}));
  VIGIL_RETURN_IF_ERROR(AppendSynced(fd_, line, path_));
  last_sequence_ = head;
  last_time_ = now;
  return true;
}

void AuditWitness::Start(const Clock& clock) {
  clock_ = &clock;
  thread_ = std::thread([this] {
    mu_.Lock();
    while (!stopping_) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
      if (stopping_) break;
      mu_.Unlock();
      if (absl::StatusOr<bool> written = MaybeCheckpoint(clock_->Now()); !written.ok()) {
        VIGIL_LOG(ERROR) << "audit witness: " << written.status().message();
      }
      mu_.Lock();
    }
    mu_.Unlock();
  });
}

void AuditWitness::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  thread_.join();
  if (absl::StatusOr<bool> last = MaybeCheckpoint(clock_->Now(), /*force=*/true); !last.ok()) {
    VIGIL_LOG(ERROR) << "audit witness: the last checkpoint failed: " << last.status().message();
  }
}

}  // namespace vigil::audit
