// Signed checkpoints of a hash chain's head, as one line of text each, so that a witness file
// outside a store can later prove what the chain's head was. The line:
//   line      := "vigil-audit-checkpoint v1 " sequence " " hash_hex " " unix_seconds " " signature
//   signature := base64url(Ed25519(the line up to and excluding " " signature))
// Written by vigild's audit witness (services/audit/witness.h), read by `vigil audit verify`.
#ifndef VIGIL_BASE_CRYPTO_CHECKPOINT_H_
#define VIGIL_BASE_CRYPTO_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/crypto/keys.h"

namespace vigil::crypto {

// The chain head at one instant.
struct ChainCheckpoint {
  uint64_t sequence = 0;
  std::string hash;  // 32 raw bytes
  absl::Time time;

  friend bool operator==(const ChainCheckpoint&, const ChainCheckpoint&) = default;
};

// The signed text of a checkpoint (its line without the signature).
std::string CheckpointText(const ChainCheckpoint& checkpoint);

// The whole line, newline included, signed with the Ed25519 private `key`.
absl::StatusOr<std::string> SignCheckpointLine(const EVP_PKEY& key,
                                               const ChainCheckpoint& checkpoint);

// Every checkpoint of a witness file's `contents`, each signature checked with `public_key`.
// InvalidArgument naming the line (from 1) that is malformed or whose signature does not verify.
absl::StatusOr<std::vector<ChainCheckpoint>> ReadCheckpoints(absl::string_view contents,
                                                             const EVP_PKEY& public_key);

}  // namespace vigil::crypto

#endif  // VIGIL_BASE_CRYPTO_CHECKPOINT_H_
