#include "clients/common/channel.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "grpcpp/create_channel.h"

namespace vigil::client {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const TransportOptions& options) {
  if (options.tls_ca.empty()) {
    if (!options.cert.empty() || !options.key.empty()) {
      return absl::InvalidArgumentError(
          "--cert/--key: a client certificate needs TLS: give the CA to trust with --tls-ca");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (options.cert.empty() != options.key.empty()) {
    return absl::InvalidArgumentError(
        "--cert and --key: give both (mutual TLS) or neither (TLS without a client certificate)");
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadFileNamedBy("--tls-ca", options.tls_ca);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *std::move(ca);
  if (!options.cert.empty()) {
    absl::StatusOr<std::string> cert = ReadFileNamedBy("--cert", options.cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFileNamedBy("--key", options.key);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& address,
                                                       const TransportOptions& options,
                                                       grpc::ChannelArguments args) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  return grpc::CreateCustomChannel(address, *credentials, args);
}

void AddBearerToken(grpc::ClientContext& context, absl::string_view token) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(token);
  if (trimmed.empty()) return;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", trimmed));
}

}  // namespace vigil::client
