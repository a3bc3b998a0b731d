// How vigild's contexts call each other's gRPC APIs (backlog asking the owners, alerts following
// their feeds, ocait linking a referral to the register) with a credential the receiving
// server accepts, whatever authenticator it runs:
//
//  - In the same process the call carries this process's internal token (metadata
//    x-vigil-internal: 32 random bytes made at start-up, never logged, never sent off the
//    process), which authenticates it as the service identity `vigild`.
//  - To another vigild the call goes over TLS with this vigild's service certificate (role
//    `service`, docs/security.md), which authenticates it the same way.
//
// Either way the call names the principal it acts for in the identity headers
// (x-vigil-actor, -role, -force, -team, -rank): a server honours them only from the service
// identity (delegation) and records the service as `via` in the audit log.
#ifndef VIGIL_SERVICES_COMMON_INTERNAL_CALL_H_
#define VIGIL_SERVICES_COMMON_INTERNAL_CALL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/client_context.h"
#include "services/common/auth.h"

namespace vigil {

// The metadata key of the internal token.
inline constexpr absl::string_view kInternalTokenMetadata = "x-vigil-internal";

// This process's internal token. Thread-safe.
const std::string& InternalToken();

// True when `presented` is this process's internal token (constant-time comparison).
bool IsInternalToken(absl::string_view presented);

// Where an internal call goes.
enum class Hop {
  kInProcess,  // an in-process channel to this vigild's own server
  kRemote,     // another vigild, reached over TLS with the service certificate
};

// Adds to `context` the credential for `hop` and the principal the call acts for.
void IdentifyInternalCall(grpc::ClientContext& context, Hop hop, const Principal& on_behalf_of,
                          absl::string_view purpose);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_INTERNAL_CALL_H_
