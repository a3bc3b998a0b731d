// vigil-web: the people's interface to vigild (gateway.h). This file holds only what no test
// links: flags, signals.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/logging.h"
#include "base/version.h"
#include "services/web/gateway.h"
#include "services/web/oidc.h"

namespace vigil::web {
namespace {

constexpr int kExitUsage = 2;

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "vigil-web: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

int Run(int argc, char** argv) {
  GatewayOptions options;
  options.static_dir = VIGIL_WEB_STATIC_DIR;
  OidcOptions oidc;
  std::string oidc_secret_file;
  std::string port_file;
  std::string log_level = "info";
  std::string log_format = "text";
  int idle_minutes = 30;

  CLI::App app{
      "vigil-web: vigil in the browser. Serves the web application and a same-origin JSON "
      "gateway to vigild that calls it with each person's own credential (docs/web.md)."};
  app.set_version_flag("--version", absl::StrCat("vigil-web ", kVersion));
  app.add_option("--listen", options.listen,
                 "HOST:PORT to serve on (port 0 picks one); off loopback needs --tls-cert")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port to this file once serving");
  app.add_option("--static-dir", options.static_dir, "The built web application")
      ->capture_default_str();
  app.add_option("--public-url", options.public_url,
                 "The address people use, e.g. https://vigil.force.example (default: from "
                 "--listen); the provider redirects to PUBLIC_URL/auth/callback");
  app.add_option("--tls-cert", options.tls_cert, "Serve HTTPS with this certificate (PEM)");
  app.add_option("--tls-key", options.tls_key, "The private key of --tls-cert (PEM)");
  app.add_option("--vigild", options.vigild, "vigild's gRPC address")->capture_default_str();
  app.add_option("--tls-ca", options.transport.tls_ca, "CA bundle to trust for vigild (TLS)");
  app.add_option("--cert", options.transport.cert,
                 "Client certificate for vigild (mutual TLS: vigild's --auth=mtls+jwt)");
  app.add_option("--key", options.transport.key, "The private key of --cert");
  app.add_option("--server-name", options.transport.server_name,
                 "The name vigild's certificate carries, when not the --vigild host");
  app.add_option("--oidc-issuer", oidc.issuer,
                 "The force's OpenID provider (its issuer URL); people sign in there");
  app.add_option("--oidc-client-id", oidc.client_id, "vigil-web's client id at the provider");
  app.add_option("--oidc-client-secret-file", oidc_secret_file,
                 "File holding the client secret (a confidential client); none: public, PKCE");
  app.add_option("--oidc-ca", oidc.ca_file, "CA bundle to trust for the provider (https)");
  app.add_option("--oidc-scope", oidc.scope, "Scopes to ask for")->capture_default_str();
  app.add_option("--jwt-claim-actor", oidc.claims.actor, "Token claim naming the actor (display)")
      ->capture_default_str();
  app.add_option("--jwt-claim-role", oidc.claims.role, "Token claim naming the role (display)")
      ->capture_default_str();
  app.add_option("--jwt-claim-force", oidc.claims.force, "Token claim naming the force (display)")
      ->capture_default_str();
  app.add_option("--jwt-claim-team", oidc.claims.team, "Token claim naming the team (display)")
      ->capture_default_str();
  app.add_option("--jwt-claim-rank", oidc.claims.rank, "Token claim naming the rank (display)")
      ->capture_default_str();
  app.add_flag("--dev-sign-in", options.dev_sign_in,
               "Development only: sign in as anyone (loopback, with vigild --auth=dev)");
  app.add_option("--session-idle-minutes", idle_minutes, "Sign out after this long unused")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 60));
  app.add_option("--max-streams", options.max_streams, "Open alert streams at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--log-level", log_level, "debug, info, warning or error")->capture_default_str();
  app.add_option("--log-format", log_format, "text or json")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<LogLevel> level = ParseLogLevel(log_level);
  if (!level.ok()) return Fail(kExitUsage, absl::StrCat("--log-level: ", level.status().message()));
  SetLogThreshold(*level);
  absl::StatusOr<LogFormat> format = ParseLogFormat(log_format);
  if (!format.ok()) {
    return Fail(kExitUsage, absl::StrCat("--log-format: ", format.status().message()));
  }
  SetLogFormat(*format);
  options.sessions.idle = absl::Minutes(idle_minutes);

  // Signals are taken by the main thread; every thread started from here inherits the block.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!oidc.issuer.empty()) {
    if (!oidc_secret_file.empty()) {
      absl::StatusOr<std::string> secret =
          ReadFileNamedBy("--oidc-client-secret-file", oidc_secret_file);
      if (!secret.ok()) return Fail(kExitUsage, secret.status().message());
      oidc.client_secret = std::string(absl::StripAsciiWhitespace(*secret));
    }
    // The redirect address needs the public URL; without one it follows --listen, whose port
    // must then be fixed.
    std::string public_url = options.public_url;
    if (public_url.empty()) {
      if (absl::EndsWith(options.listen, ":0")) {
        return Fail(kExitUsage,
                    "--oidc-issuer with --listen port 0: give --public-url, the "
                    "address registered at the provider");
      }
      public_url = absl::StrCat(options.tls_cert.empty() ? "http://" : "https://", options.listen);
    }
    while (absl::EndsWith(public_url, "/")) public_url.pop_back();
    oidc.redirect_uri = public_url + "/auth/callback";
    absl::StatusOr<std::unique_ptr<OidcClient>> client = OidcClient::Discover(std::move(oidc));
    if (!client.ok()) {
      return Fail(client.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 1,
                  client.status().message());
    }
    options.oidc = *std::move(client);
  } else if (!oidc.client_id.empty() || !oidc_secret_file.empty()) {
    return Fail(kExitUsage, "--oidc-client-id and --oidc-client-secret-file need --oidc-issuer");
  }

  absl::StatusOr<std::unique_ptr<WebGateway>> gateway = WebGateway::Start(std::move(options));
  if (!gateway.ok()) {
    return Fail(gateway.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 1,
                gateway.status().message());
  }
  VIGIL_LOG(INFO) << "vigil-web " << kVersion << " serving " << (*gateway)->origin();
  if (!port_file.empty() && !WritePortFile(port_file, (*gateway)->port())) {
    VIGIL_LOG(ERROR) << "cannot write --port-file " << port_file;
    return 1;
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  VIGIL_LOG(INFO) << "received " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
                  << "; stopping";
  gateway->reset();
  return 0;
}

}  // namespace
}  // namespace vigil::web

int main(int argc, char** argv) { return vigil::web::Run(argc, argv); }
