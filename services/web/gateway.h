// vigil-web: the people's interface. It serves the web application (services/web/app, built by
// esbuild) and a same-origin JSON gateway in front of vigild:
//
//   POST /api/vigil.v1.<Service>/<Method>   a unary call in protobuf's JSON mapping
//   GET  /api/events/alerts                 AlertService.Subscribe as server-sent events
//   GET  /api/session                       who the browser is signed in as
//   GET  /auth/config | /auth/login | /auth/callback,  POST /auth/dev | /auth/logout
//
// Every call goes to vigild with the signed-in person's own credential: the access token from
// the force's OpenID provider (authorization code + PKCE), or on a development machine the
// identity chosen at the dev sign-in, which only a loopback vigild running --auth=dev believes.
// vigil-web holds no data and no privilege of its own: vigild authorises, audits and refuses
// exactly as for any other client. docs/web.md describes it for its users and operators.
#ifndef VIGIL_SERVICES_WEB_GATEWAY_H_
#define VIGIL_SERVICES_WEB_GATEWAY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "clients/common/channel.h"
#include "services/web/oidc.h"
#include "services/web/sessions.h"

namespace vigil::web {

struct GatewayOptions {
  // HOST:PORT to serve on (port 0: any free port).
  std::string listen = "127.0.0.1:8080";
  // The built application (index.html, app.js, ...).
  std::string static_dir;
  // vigild's address and how to reach it.
  std::string vigild = "127.0.0.1:7420";
  client::TransportOptions transport;
  // Serve HTTPS with this certificate and key (PEM). Required off loopback.
  std::string tls_cert;
  std::string tls_key;
  // The address people's browsers use, e.g. https://vigil.force.example (cookies are Secure
  // when it is https; the provider redirects to PUBLIC_URL/auth/callback). Empty: taken from
  // --listen.
  std::string public_url;
  // Sign-in with the force's OpenID provider; null: none.
  std::shared_ptr<const OidcClient> oidc;
  // The loopback-only development sign-in (pick any identity; vigild must run --auth=dev).
  bool dev_sign_in = false;
  SessionLimits sessions;
  // HTTP worker threads; each open event stream holds one.
  int threads = 48;
  // Open event streams at most, in all and per person.
  int max_streams = 32;
  int max_streams_per_person = 4;
  // Deadline of each call to vigild.
  absl::Duration call_timeout = absl::Seconds(30);
  // Keep-alive comment on a quiet event stream.
  absl::Duration heartbeat = absl::Seconds(15);
  Clock* clock = nullptr;  // default: the system clock
};

class WebGateway {
 public:
  // Checks the options (InvalidArgument naming the flag), binds and starts serving.
  static absl::StatusOr<std::unique_ptr<WebGateway>> Start(GatewayOptions options);
  // Ends the event streams, stops serving and joins the threads.
  ~WebGateway();
  WebGateway(const WebGateway&) = delete;
  WebGateway& operator=(const WebGateway&) = delete;

  int port() const;
  // The origin browsers use (public_url, or http(s)://listen with the bound port).
  const std::string& origin() const;

  class Impl;

 private:
  explicit WebGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The HTTP status that stands for a gRPC status code in the gateway's answers.
int HttpStatusOf(int grpc_code);

}  // namespace vigil::web

#endif  // VIGIL_SERVICES_WEB_GATEWAY_H_
