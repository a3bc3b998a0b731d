#include "services/common/internal_call.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "base/logging.h"

namespace vigil {

const std::string& InternalToken() {
  static const std::string* const token = [] {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      // Without randomness no credential can be made; nothing sensible can run.
      VIGIL_LOG(ERROR) << "the system random generator failed; vigild cannot start";
      std::abort();
    }
    return new std::string(
        absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes))));
  }();
  return *token;
}

bool IsInternalToken(absl::string_view presented) {
  const std::string& token = InternalToken();
  return presented.size() == token.size() &&
         CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

void IdentifyInternalCall(grpc::ClientContext& context, Hop hop, const Principal& on_behalf_of,
                          absl::string_view purpose) {
  if (hop == Hop::kInProcess) {
    context.AddMetadata(std::string(kInternalTokenMetadata), InternalToken());
  }
  context.AddMetadata("x-vigil-actor", on_behalf_of.actor.substr(0, 128));
  context.AddMetadata("x-vigil-role", std::string(RoleName(on_behalf_of.role)));
  context.AddMetadata("x-vigil-force", on_behalf_of.force);
  if (!on_behalf_of.team.empty()) context.AddMetadata("x-vigil-team", on_behalf_of.team);
  context.AddMetadata("x-vigil-rank", std::string(RankName(on_behalf_of.rank)));
  if (!purpose.empty()) {
    context.AddMetadata("x-vigil-purpose", std::string(purpose.substr(0, 500)));
  }
}

}  // namespace vigil
