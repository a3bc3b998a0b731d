#include "services/common/tls.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/crypto/x509.h"
#include "base/files.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace vigil {
namespace {

// How often gRPC's provider looks at the private copies.
constexpr unsigned int kRefreshSeconds = 1;

// Writes `contents` to `path` through a temporary file and a rename, mode 0600.
absl::Status WritePrivate(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
    out.flush();
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (::chmod(tmp.c_str(), 0600) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot install ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(const ServerTlsFiles& files,
                                                             ClientCertificates clients) {
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: TLS needs both");
  }
  if (clients != ClientCertificates::kNone && files.client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca: client certificates are verified against a CA; give its file");
  }
  std::unique_ptr<ServerTls> tls(new ServerTls());
  tls->files_ = files;
  if (clients == ClientCertificates::kNone) tls->files_.client_ca.clear();
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "vigild-tls.XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return absl::UnavailableError("cannot create a private directory for the TLS files");
  }
  tls->private_dir_ = dir_template;
  VIGIL_RETURN_IF_ERROR(tls->Install());

  const std::string key = tls->private_dir_ + "/key.pem";
  const std::string cert = tls->private_dir_ + "/cert.pem";
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (tls->files_.client_ca.empty()) {
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        key, cert, kRefreshSeconds);
  } else {
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        key, cert, tls->private_dir_ + "/client-ca.pem", kRefreshSeconds);
  }
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  switch (clients) {
    case ClientCertificates::kNone:
      options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
    case ClientCertificates::kRequest:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientCertificates::kRequire:
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  return tls;
}

ServerTls::~ServerTls() {
  std::error_code ignored;  // a leftover 0700 directory of copies is harmless
  std::filesystem::remove_all(private_dir_, ignored);
}

absl::Status ServerTls::Install() {
  if (absl::Status s = CheckPrivateFile(files_.key); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", s.message()));
  }
  VIGIL_ASSIGN_OR_RETURN(std::string cert, ReadFileNamedBy("--tls-cert", files_.cert));
  VIGIL_ASSIGN_OR_RETURN(std::string key, ReadFileNamedBy("--tls-key", files_.key));
  if (absl::Status s = crypto::CheckKeyMatchesCertificate(key, cert); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert ", files_.cert, " and --tls-key ", files_.key, ": ", s.message()));
  }
  std::string client_ca;
  if (!files_.client_ca.empty()) {
    VIGIL_ASSIGN_OR_RETURN(client_ca, ReadFileNamedBy("--tls-client-ca", files_.client_ca));
    if (absl::Status s = crypto::SummarizeCertificate(client_ca).status(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-client-ca ", files_.client_ca, ": ", s.message()));
    }
  }
  // The key before the certificate: the provider refuses a pair that does not match and
  // keeps the old one, so a reload read half-way is retried on the next refresh.
  VIGIL_RETURN_IF_ERROR(WritePrivate(private_dir_ + "/key.pem", key));
  VIGIL_RETURN_IF_ERROR(WritePrivate(private_dir_ + "/cert.pem", cert));
  if (!client_ca.empty()) {
    VIGIL_RETURN_IF_ERROR(WritePrivate(private_dir_ + "/client-ca.pem", client_ca));
  }
  return absl::OkStatus();
}

absl::Status ServerTls::Reload() {
  std::lock_guard lock(reload_mu_);
  return Install();
}

}  // namespace vigil
