// How every vigil client reaches vigild: the CLI, the load driver, vigild's own calls to other
// vigild processes, and the tests. Plain gRPC for loopback development servers, TLS when given
// a CA to trust, mutual TLS with a certificate and key, and a bearer token per call
// (docs/security.md).
#ifndef VIGIL_CLIENTS_COMMON_CHANNEL_H_
#define VIGIL_CLIENTS_COMMON_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace vigil::client {

struct TransportOptions {
  // PEM CA bundle to trust; empty: plaintext (only loopback servers accept that).
  std::string tls_ca;
  // PEM certificate and key for mutual TLS; both or neither.
  std::string cert;
  std::string key;
  // The name the server's certificate must carry, when it differs from the address's host
  // (e.g. connecting to 127.0.0.1 a server whose certificate names "vigild.local").
  std::string server_name;
};

// Channel credentials for `options`. InvalidArgument naming the unreadable file, or a
// certificate without its key (or the reverse).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const TransportOptions& options);

// A channel to `address` with `options` and `args` (server_name, when set, is added to args).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& address,
                                                       const TransportOptions& options,
                                                       grpc::ChannelArguments args = {});

// Adds `authorization: Bearer <token>` to the call; nothing for an empty token.
void AddBearerToken(grpc::ClientContext& context, absl::string_view token);

}  // namespace vigil::client

#endif  // VIGIL_CLIENTS_COMMON_CHANNEL_H_
