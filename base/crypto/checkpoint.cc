#include "base/crypto/checkpoint.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/crypto/jwt.h"
#include "base/crypto/signature.h"
#include "base/status_macros.h"

namespace vigil::crypto {
namespace {

constexpr absl::string_view kMagic = "vigil-audit-checkpoint";
constexpr absl::string_view kVersion = "v1";

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("witness line ", line, ": ", what));
}

}  // namespace

std::string CheckpointText(const ChainCheckpoint& checkpoint) {
  return absl::StrCat(kMagic, " ", kVersion, " ", checkpoint.sequence, " ",
                      absl::BytesToHexString(checkpoint.hash), " ",
                      absl::ToUnixSeconds(checkpoint.time));
}

absl::StatusOr<std::string> SignCheckpointLine(const EVP_PKEY& key,
                                               const ChainCheckpoint& checkpoint) {
  const std::string text = CheckpointText(checkpoint);
  VIGIL_ASSIGN_OR_RETURN(const std::string signature, SignEd25519(key, text));
  return absl::StrCat(text, " ", Base64UrlEncode(signature), "\n");
}

absl::StatusOr<std::vector<ChainCheckpoint>> ReadCheckpoints(absl::string_view contents,
                                                             const EVP_PKEY& public_key) {
  std::vector<ChainCheckpoint> checkpoints;
  size_t number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++number;
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() != 6 || fields[0] != kMagic || fields[1] != kVersion) {
      return LineError(number, "not a vigil-audit-checkpoint v1 line");
    }
    ChainCheckpoint checkpoint;
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(fields[2], &checkpoint.sequence) || checkpoint.sequence == 0 ||
        fields[3].size() != 64 || !absl::SimpleAtoi(fields[4], &seconds)) {
      return LineError(number, "malformed sequence, hash or time");
    }
    checkpoint.hash = absl::HexStringToBytes(fields[3]);
    checkpoint.time = absl::FromUnixSeconds(seconds);
    const std::optional<std::string> signature = Base64UrlDecode(fields[5]);
    if (!signature.has_value()) return LineError(number, "the signature is not base64url");
    if (absl::Status s = VerifyEd25519(public_key, CheckpointText(checkpoint), *signature);
        !s.ok()) {
      return LineError(number, absl::StrCat(s.message(), " with this public key"));
    }
    checkpoints.push_back(std::move(checkpoint));
  }
  return checkpoints;
}

}  // namespace vigil::crypto
