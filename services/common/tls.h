// TLS for vigild's server (docs/security.md). Clients, vigild's calls to other vigild processes
// included, make their channel credentials with clients/common/channel.h.
//
// The server's certificate, key and client CA are the operator's files (--tls-cert, --tls-key,
// --tls-client-ca). vigild copies them into a private directory (0700, removed at exit) that
// gRPC's file-watching certificate provider reads every second; Reload (SIGHUP) checks new
// files first (the key matches the certificate, every PEM parses) and only then replaces the
// copies, so a bad file never reaches the server and connections and streams stay up while
// new handshakes pick up the new material.
#ifndef VIGIL_SERVICES_COMMON_TLS_H_
#define VIGIL_SERVICES_COMMON_TLS_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace vigil {

// Whether the server asks clients for a certificate. A presented certificate is always
// verified against the client CA; the handshake fails when it does not verify.
enum class ClientCertificates {
  kNone,     // no client CA: certificates are not asked for
  kRequest,  // asked for and verified when presented (--auth=jwt: service certificates)
  kRequire,  // required (--auth=mtls, mtls+jwt)
};

struct ServerTlsFiles {
  std::string cert;       // PEM certificate chain
  std::string key;        // PEM private key; must not be readable by group or others
  std::string client_ca;  // PEM CA bundle for client certificates; empty: none
};

class ServerTls {
 public:
  // Checks the files and starts watching private copies of them. InvalidArgument naming the
  // file (unreadable, not PEM, key not matching the certificate, key readable by others with
  // the chmod to run); kRequest/kRequire need a client CA.
  static absl::StatusOr<std::unique_ptr<ServerTls>> Create(const ServerTlsFiles& files,
                                                           ClientCertificates clients);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }

  // Re-reads the configured files; when they check out, the server uses them for every new
  // handshake within about a second. On error nothing changes. Thread-safe.
  absl::Status Reload();

 private:
  ServerTls() = default;
  // Checks the operator's files and writes them over the private copies.
  absl::Status Install();

  ServerTlsFiles files_;
  std::string private_dir_;
  std::mutex reload_mu_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_TLS_H_
