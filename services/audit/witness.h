// Tamper evidence outside the store: signed checkpoints of the audit chain's head, appended to a
// witness directory that lives outside the data directory (a separate mount, or a directory an
// object-store sync ships away). Someone who rewrites the whole store (records and chain head
// recomputed) cannot rewrite the checkpoints without the signing key, which also lives outside
// the data directory; VerifyAgainstCheckpoints then finds the chain's hash at a checkpointed
// sequence no longer the one that was signed.
//
// The witness file, DIR/audit-checkpoints.log, holds one signed line per checkpoint
// (base/crypto/checkpoint.h) and is only ever appended to.
#ifndef VIGIL_SERVICES_AUDIT_WITNESS_H_
#define VIGIL_SERVICES_AUDIT_WITNESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/crypto/checkpoint.h"
#include "base/crypto/keys.h"
#include "storage/store.h"

namespace vigil::audit {

inline constexpr absl::string_view kWitnessFileName = "audit-checkpoints.log";

using AuditCheckpoint = crypto::ChainCheckpoint;

// What checking a chain against checkpoints found.
struct WitnessReport {
  bool ok = true;
  uint64_t checkpoints_checked = 0;
  // The first checkpoint the chain disagrees with, and how; empty when ok.
  uint64_t first_mismatched_sequence = 0;
  std::string problem;
};

// Checks that the chain in `view` holds, at each checkpoint's sequence, the hash that was
// signed. A chain shorter than a checkpoint (records removed) or with another hash there (records
// rewritten and rehashed) fails. Unavailable/DataLoss: reading failed.
absl::StatusOr<WitnessReport> VerifyAgainstCheckpoints(
    const storage::ReadView& view, const std::vector<AuditCheckpoint>& checkpoints);

// Writes checkpoints of a store's chain head to a witness directory. Thread-safe.
class AuditWitness {
 public:
  struct Options {
    // The witness directory; must exist, be writable and lie outside the data directory.
    std::string dir;
    // A checkpoint after this many new records... Default: 1000.
    uint64_t every_records = 1000;
    // ...or this long after the last one, when the head moved. Default: 5 minutes.
    absl::Duration every = absl::Minutes(5);
  };

  // Opens (creating) the witness file for appending. FailedPrecondition naming the directory and
  // the fix when it is missing, not a directory, or not writable; InvalidArgument when `key` is
  // not an Ed25519 private key. `store` must outlive the witness.
  static absl::StatusOr<std::unique_ptr<AuditWitness>> Open(storage::Store& store,
                                                            crypto::EvpPkeyPtr key,
                                                            Options options);
  ~AuditWitness();
  AuditWitness(const AuditWitness&) = delete;
  AuditWitness& operator=(const AuditWitness&) = delete;

  // Appends a signed checkpoint of the current head (synced) when one is due, or with `force`
  // whenever the head moved since the last. The first after Open is due as soon as the chain
  // has a record, so that every start anchors the head it found. Returns whether one was written.
  // Unavailable when the witness file cannot be written (the store is unaffected).
  absl::StatusOr<bool> MaybeCheckpoint(absl::Time now, bool force = false) ABSL_LOCKS_EXCLUDED(mu_);

  // A thread that calls MaybeCheckpoint every second until Stop, which writes a last checkpoint.
  void Start(const Clock& clock);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& path() const { return path_; }

 private:
  AuditWitness(storage::Store& store, crypto::EvpPkeyPtr key, Options options, int fd,
               std::string path);

  storage::Store& store_;
  const crypto::EvpPkeyPtr key_;
  const Options options_;
  const int fd_;
  const std::string path_;

  absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the thread awaits it
  const Clock* clock_ = nullptr;
  std::thread thread_;
};

}  // namespace vigil::audit

#endif  // VIGIL_SERVICES_AUDIT_WITNESS_H_
