#include "services/web/gateway.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/crypto/digest.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "httplib.h"
#include "services/common/auth.h"
#include "services/web/gzip.h"
#include "services/web/static_files.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::web {
namespace {

namespace pb = google::protobuf;
using MessageStub = grpc::TemplatedGenericStub<pb::Message, pb::Message>;

constexpr char kSessionCookie[] = "vigil_session";
constexpr char kSecureSessionCookie[] = "__Host-vigil_session";
constexpr char kLoginCookie[] = "vigil_login";
constexpr char kSecureLoginCookie[] = "__Host-vigil_login";
constexpr size_t kMaxBodyBytes = 4 << 20;
// Events a slow browser may fall behind by before its stream is ended (it reconnects and
// resumes from its Last-Event-ID).
constexpr size_t kMaxQueuedEvents = 1000;

// What a browser may call: the people's work, method by method (deny by default). Administration,
// audit, bulk imports, snapshots and the calls between vigild's own processes (LinkReferral)
// stay with the CLI and the force's systems. Each service is found through a message of its file,
// which also makes the linker keep that file's descriptors.
struct AllowedService {
  const pb::ServiceDescriptor* service;
  std::vector<std::string> methods;
};

const std::vector<AllowedService>& AllowedMethods() {
  static const auto* const allowed = new std::vector<AllowedService>{
      {v1::GetOffenderRequest::descriptor()->file()->FindServiceByName("OffenderService"),
       {"CreateOffender", "GetOffender", "ListOffenders", "UpdateOffender", "RecordTrigger"}},
      {v1::RecordArmsAssessmentRequest::descriptor()->file()->FindServiceByName(
           "AssessmentService"),
       {"RecordArmsAssessment", "ListArmsAssessments", "RecordRiskManagementPlan",
        "GetRiskManagementPlan", "ListRiskManagementPlans", "SignOffRiskManagementPlan"}},
      {v1::RecordVisitRequest::descriptor()->file()->FindServiceByName("VisitService"),
       {"RecordVisit", "ListVisits", "GetVisitSchedule", "SetReactiveManagement",
        "ListComplianceFindings", "GetVisitPlan"}},
      {v1::GetReferralRequest::descriptor()->file()->FindServiceByName("ReferralService"),
       {"CreateReferral", "TriageReferral", "AllocateReferral", "RecordIntelRefresh",
        "RecordCscCheck", "ActionReferral", "CloseReferral", "GetReferral", "ListReferrals",
        "CountReferrals"}},
      {v1::ListAlertsRequest::descriptor()->file()->FindServiceByName("AlertService"),
       {"ListAlerts", "GetAlert", "AcknowledgeAlert"}},
      {v1::ListMyWorkRequest::descriptor()->file()->FindServiceByName("BacklogService"),
       {"GetBacklogSummary", "ListBacklogItems", "GetWorkload", "ListMyWork", "GetBacklogTrend"}},
  };
  return *allowed;
}

const pb::MethodDescriptor* FindAllowedMethod(absl::string_view service, absl::string_view method) {
  for (const AllowedService& allowed : AllowedMethods()) {
    if (allowed.service == nullptr || allowed.service->full_name() != service) continue;
    if (std::find(allowed.methods.begin(), allowed.methods.end(), method) ==
        allowed.methods.end()) {
      return nullptr;
    }
    const pb::MethodDescriptor* found = allowed.service->FindMethodByName(std::string(method));
    if (found == nullptr || found->client_streaming() || found->server_streaming()) return nullptr;
    return found;
  }
  return nullptr;
}

std::string ToJson(const pb::Message& message) {
  std::string json;
  pb::util::JsonPrintOptions options;
  // Defaults are left out (the app reads a missing number as 0); enums print as names.
  if (!pb::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

pb::Value StringValue(absl::string_view text) {
  pb::Value value;
  value.set_string_value(std::string(text));
  return value;
}

std::string ErrorJson(absl::string_view code, absl::string_view message) {
  pb::Struct error;
  (*error.mutable_fields())["code"] = StringValue(code);
  (*error.mutable_fields())["message"] = StringValue(message);
  return ToJson(error);
}

void NoStore(httplib::Response& response) { response.set_header("Cache-Control", "no-store"); }

// Bodies are sent through a provider of known length, which cpp-httplib sends as it is: left to
// itself it compresses every JSON or text body with brotli at quality 11 when the browser
// accepts br (Chromium does, even on loopback), ~120 ms for 37 kB and seconds for a large page.
void SendBody(httplib::Response& response, std::string body, const char* content_type) {
  if (body.empty()) {
    response.set_content("", content_type);
    return;
  }
  auto content = std::make_shared<const std::string>(std::move(body));
  response.set_content_provider(content->size(), content_type,
                                [content](size_t offset, size_t length, httplib::DataSink& sink) {
                                  return sink.write(content->data() + offset, length);
                                });
}

// A JSON answer, gzipped (fast) when the browser accepts it and it is large enough to gain.
void SendJson(const httplib::Request* request, httplib::Response& response, std::string json) {
  constexpr size_t kCompressFrom = 1024;
  if (request != nullptr && json.size() >= kCompressFrom &&
      AcceptsEncoding(request->get_header_value("Accept-Encoding"), "gzip")) {
    if (std::optional<std::string> gzipped = GzipFast(json); gzipped.has_value()) {
      response.set_header("Content-Encoding", "gzip");
      response.set_header("Vary", "Accept-Encoding");
      json = *std::move(gzipped);
    }
  }
  SendBody(response, std::move(json), "application/json");
}

void SendError(httplib::Response& response, int http_status, absl::string_view code,
               absl::string_view message) {
  response.status = http_status;
  NoStore(response);
  SendJson(nullptr, response, ErrorJson(code, message));
}

void SendStatus(httplib::Response& response, const grpc::Status& status) {
  SendError(response, HttpStatusOf(status.error_code()),
            absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
            status.error_message());
}

std::string CookieValue(const httplib::Request& request, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(request.get_header_value("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return {};
}

// A header value gRPC metadata can carry: printable ASCII, at most `max` characters.
absl::Status CheckMetadataText(absl::string_view text, absl::string_view header, size_t max) {
  if (text.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(header, ": at most ", max, " characters"));
  }
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat(header, ": printable ASCII only (letters, digits, spaces, punctuation)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int HttpStatusOf(int grpc_code) {
  switch (static_cast<grpc::StatusCode>(grpc_code)) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;  // UNKNOWN, INTERNAL, DATA_LOSS
  }
}

// One browser's alert stream: AlertService.Subscribe read on a thread of its own into a bounded
// queue of server-sent-event chunks, which the HTTP worker writes out.
class AlertStream {
 public:
  AlertStream(std::unique_ptr<grpc::ClientContext> context,
              std::unique_ptr<v1::AlertService::Stub> stub, v1::SubscribeRequest request)
      : context_(std::move(context)), stub_(std::move(stub)) {
    reader_thread_ = std::thread([this, request = std::move(request)] { Read(request); });
  }
  ~AlertStream() {
    Cancel();
    reader_thread_.join();
  }

  // Until the stream has delivered an event or ended, at most `wait`: its status when it ended.
  std::optional<grpc::Status> EndedWithin(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &AlertStream::Ready), wait);
    if (ended_ && chunks_.empty()) return status_;
    return std::nullopt;
  }

  // The next chunk to send, waiting at most `wait`: a keep-alive comment when none came,
  // nullopt once the stream has ended and everything was taken.
  std::optional<std::string> Next(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &AlertStream::Ready), wait);
    if (!chunks_.empty()) {
      std::string chunk = std::move(chunks_.front());
      chunks_.pop_front();
      return chunk;
    }
    if (ended_) return std::nullopt;
    return std::string(": keep-alive\n\n");
  }

  void Cancel() { context_->TryCancel(); }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ || !chunks_.empty(); }

  void Read(const v1::SubscribeRequest& request) {
    std::unique_ptr<grpc::ClientReader<v1::AlertEvent>> reader =
        stub_->Subscribe(context_.get(), request);
    v1::AlertEvent event;
    while (reader->Read(&event)) {
      std::string chunk =
          absl::StrCat("id: ", event.sequence(), "\nevent: alert\ndata: ", ToJson(event), "\n\n");
      absl::MutexLock lock(&mu_);
      if (chunks_.size() >= kMaxQueuedEvents) {
        // The browser is not keeping up: end the stream; it resumes after its last event.
        context_->TryCancel();
        break;
      }
      chunks_.push_back(std::move(chunk));
    }
    grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
    ended_ = true;
  }

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<v1::AlertService::Stub> stub_;
  mutable absl::Mutex mu_;
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread reader_thread_;
};

class WebGateway::Impl {
 public:
  explicit Impl(GatewayOptions options)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : &system_clock_),
        sessions_(options_.sessions) {}

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  const std::string& origin() const { return origin_; }

 private:
  struct Caller {
    std::string cookie;
    Session session;
  };

  // The signed-in caller, with a fresh credential; otherwise answers 401 and returns nullopt.
  std::optional<Caller> SignedIn(const httplib::Request& request, httplib::Response& response);
  // POSTs must come from this origin's pages: the custom header (which no other site can send
  // without a CORS preflight that vigil-web never grants) and, when sent, the Origin.
  bool SameOriginPost(const httplib::Request& request, httplib::Response& response) const;
  void ApplyCredential(const Session& session, grpc::ClientContext& context) const;
  absl::Status ApplyPurpose(absl::string_view purpose, absl::string_view cross_team,
                            grpc::ClientContext& context) const;
  std::string SessionCookieName() const { return secure_ ? kSecureSessionCookie : kSessionCookie; }
  std::string LoginCookieName() const { return secure_ ? kSecureLoginCookie : kLoginCookie; }
  // The session cookie is SameSite=Strict: another site cannot make the browser use it, not even
  // by a link (the app's own requests are same-site). The sign-in cookie must survive the
  // provider's redirect back, a cross-site navigation: Lax.
  std::string SessionCookie(absl::string_view value, absl::string_view extra = "") const {
    return absl::StrCat(SessionCookieName(), "=", value, "; Path=/; HttpOnly; SameSite=Strict",
                        secure_ ? "; Secure" : "", extra);
  }
  std::string LoginCookie(absl::string_view value, absl::string_view extra) const {
    return absl::StrCat(LoginCookieName(), "=", value, "; Path=/; HttpOnly; SameSite=Lax",
                        secure_ ? "; Secure" : "", extra);
  }

  void Routes(httplib::Server& server);
  void HandleConfig(const httplib::Request&, httplib::Response& response) const;
  void HandleLogin(const httplib::Request& request, httplib::Response& response);
  void HandleCallback(const httplib::Request& request, httplib::Response& response);
  void HandleDevSignIn(const httplib::Request& request, httplib::Response& response);
  void HandleLogout(const httplib::Request& request, httplib::Response& response);
  void HandleSession(const httplib::Request& request, httplib::Response& response);
  void HandleCall(const httplib::Request& request, httplib::Response& response);
  void HandleAlertEvents(const httplib::Request& request, httplib::Response& response);
  void HandleStatic(const httplib::Request& request, httplib::Response& response) const;
  void SignInFailed(httplib::Response& response, int status, absl::string_view why) const;

  const GatewayOptions options_;
  SystemClock system_clock_;
  Clock* const clock_;
  SessionStore sessions_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<MessageStub> stub_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string origin_;
  bool secure_ = false;

  absl::Mutex refresh_mu_;
  absl::Mutex streams_mu_;
  absl::flat_hash_set<AlertStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  absl::flat_hash_map<std::string, int> streams_per_person_ ABSL_GUARDED_BY(streams_mu_);
  int open_streams_ ABSL_GUARDED_BY(streams_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
};

absl::Status WebGateway::Impl::Start() {
  const bool tls = !options_.tls_cert.empty() || !options_.tls_key.empty();
  if (tls && (options_.tls_cert.empty() || options_.tls_key.empty())) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: give both or neither");
  }
  if (!tls && !IsLoopbackAddress(options_.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", options_.listen,
        ": plain HTTP only on loopback (cookies and tokens would cross the network in clear); "
        "give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy"));
  }
  // The dev sign-in lets anyone be anyone: only a development machine's loopback, never beside
  // a real credential (a vigild that honours a service certificate would take the identity
  // metadata as a delegated principal), never with a provider or behind a public address.
  if (options_.dev_sign_in &&
      (!IsLoopbackAddress(options_.listen) || !IsLoopbackAddress(options_.vigild) || tls ||
       !options_.transport.cert.empty() || !options_.transport.key.empty() ||
       options_.oidc != nullptr ||
       (!options_.public_url.empty() &&
        !absl::StartsWith(options_.public_url, "http://127.0.0.1") &&
        !absl::StartsWith(options_.public_url, "http://localhost")))) {
    return absl::InvalidArgumentError(
        "--dev-sign-in: only on a development machine: --listen and --vigild on loopback, and "
        "no --tls-cert, --cert/--key, --oidc-issuer or public --public-url (it lets anyone be "
        "anyone)");
  }
  if (options_.oidc == nullptr && !options_.dev_sign_in) {
    return absl::InvalidArgumentError(
        "no way to sign in: give --oidc-issuer and --oidc-client-id (or, on a development "
        "machine, --dev-sign-in)");
  }
  if (options_.static_dir.empty()) {
    return absl::InvalidArgumentError("--static-dir: required (the built web application)");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::Connect(options_.vigild, options_.transport);
  if (!channel.ok()) return channel.status();
  channel_ = *std::move(channel);
  stub_ = std::make_unique<MessageStub>(channel_);

  const size_t colon = options_.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(options_.listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", options_.listen, ": give HOST:PORT, e.g. 127.0.0.1:8080"));
  }
  std::string host = options_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (tls) {
    server_ =
        std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  if (!server_->is_valid()) {
    return absl::InvalidArgumentError(
        "--tls-cert/--tls-key: cannot be loaded (PEM certificate and its private key)");
  }
  if (tls) {
    SSL_CTX_set_min_proto_version(static_cast<httplib::SSLServer&>(*server_).ssl_context(),
                                  TLS1_2_VERSION);
  }
  httplib::Server& server = *server_;
  const int threads = std::max(options_.threads, options_.max_streams + 8);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_read_timeout(10);
  server.set_write_timeout(10);
  server.set_payload_max_length(kMaxBodyBytes);
  server.set_default_headers({
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
  });
  if (std::error_code error; !std::filesystem::is_directory(options_.static_dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--static-dir ", options_.static_dir,
                     ": not a directory (build the application: ./x build)"));
  }
  // cpp-httplib 0.11 bounds a body only when it comes with a Content-Length: refuse chunked or
  // compressed bodies, and POSTs without a length, before the body is read.
  server.set_pre_routing_handler([](const httplib::Request& request, httplib::Response& response) {
    if (request.has_header("Transfer-Encoding") || request.has_header("Content-Encoding")) {
      SendError(response, 411, "INVALID_ARGUMENT",
                "send the body with a Content-Length, uncompressed");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.method == "POST" && !request.has_header("Content-Length")) {
      SendError(response, 411, "INVALID_ARGUMENT", "a POST needs a Content-Length");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  Routes(server);
  server.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    // The path names a method or a file, never a person; queries (which may) are not logged.
    if (absl::StartsWith(request.path, "/api/") || absl::StartsWith(request.path, "/auth/")) {
      // Escaped: the path is the client's, decoded (no forged log lines).
      VIGIL_LOG(INFO) << absl::CHexEscape(request.method) << " " << absl::CHexEscape(request.path)
                      << " " << response.status;
    }
  });

  if (port == 0) {
    port_ = server.bind_to_any_port(host);
  } else {
    port_ = server.bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen ", options_.listen, ": cannot bind (in use, or not an address of this host)"));
  }
  if (!options_.public_url.empty()) {
    origin_ = options_.public_url;
    while (absl::EndsWith(origin_, "/")) origin_.pop_back();
  } else {
    origin_ = absl::StrCat(
        tls ? "https://" : "http://",
        host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host, ":", port_);
  }
  secure_ = absl::StartsWith(origin_, "https://");
  thread_ = std::thread([&server] { server.listen_after_bind(); });
  return absl::OkStatus();
}

void WebGateway::Impl::Stop() {
  {
    absl::MutexLock lock(&streams_mu_);
    stopping_ = true;
    for (AlertStream* stream : streams_) stream->Cancel();
  }
  if (server_ == nullptr) return;
  for (int i = 0; i < 2000 && thread_.joinable() && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void WebGateway::Impl::Routes(httplib::Server& server) {
  server.Get("/auth/config",
             [this](const httplib::Request& q, httplib::Response& r) { HandleConfig(q, r); });
  server.Get("/auth/login",
             [this](const httplib::Request& q, httplib::Response& r) { HandleLogin(q, r); });
  server.Get("/auth/callback",
             [this](const httplib::Request& q, httplib::Response& r) { HandleCallback(q, r); });
  server.Post("/auth/dev",
              [this](const httplib::Request& q, httplib::Response& r) { HandleDevSignIn(q, r); });
  server.Post("/auth/logout",
              [this](const httplib::Request& q, httplib::Response& r) { HandleLogout(q, r); });
  server.Get("/api/session",
             [this](const httplib::Request& q, httplib::Response& r) { HandleSession(q, r); });
  server.Get("/api/events/alerts",
             [this](const httplib::Request& q, httplib::Response& r) { HandleAlertEvents(q, r); });
  server.Post(R"(/api/([A-Za-z0-9_.]+)/([A-Za-z0-9_]+))",
              [this](const httplib::Request& q, httplib::Response& r) { HandleCall(q, r); });
  // Last: what no route above took is a file of the application.
  server.Get(".*", [this](const httplib::Request& q, httplib::Response& r) { HandleStatic(q, r); });
}

void WebGateway::Impl::HandleStatic(const httplib::Request& request,
                                    httplib::Response& response) const {
  const std::optional<std::string> relative = StaticPathOf(request.path);
  if (!relative.has_value() || absl::StartsWith(*relative, "api/") ||
      absl::StartsWith(*relative, "auth/")) {
    response.status = 404;
    return;
  }
  const bool hashed = IsHashedAsset(*relative);
  const std::filesystem::path base = std::filesystem::path(options_.static_dir) / *relative;
  std::filesystem::path file = base;
  std::string encoding;
  if (hashed) {
    // The build's precompressed copies (best brotli and gzip), never compressed per request.
    const std::string accepted = request.get_header_value("Accept-Encoding");
    for (const auto& [coding, extension] : {std::pair{"br", ".br"}, std::pair{"gzip", ".gz"}}) {
      std::filesystem::path candidate = base;
      candidate += extension;
      if (std::error_code error;
          AcceptsEncoding(accepted, coding) && std::filesystem::is_regular_file(candidate, error)) {
        file = std::move(candidate);
        encoding = coding;
        break;
      }
    }
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    response.status = 404;
    return;
  }
  std::ifstream in(file, std::ios::binary);
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    response.status = 500;
    return;
  }
  response.set_header("Cache-Control", hashed ? kImmutableCache : kRevalidateCache);
  if (hashed) response.set_header("Vary", "Accept-Encoding");
  if (!encoding.empty()) response.set_header("Content-Encoding", encoding);
  const std::string type = ContentTypeOf(*relative);
  SendBody(response, std::move(content), type.c_str());
}

bool WebGateway::Impl::SameOriginPost(const httplib::Request& request,
                                      httplib::Response& response) const {
  if (request.get_header_value("X-Vigil-Web") != "1") {
    SendError(response, 403, "PERMISSION_DENIED",
              "requests must come from vigil's own pages (header X-Vigil-Web: 1)");
    return false;
  }
  const std::string origin = request.get_header_value("Origin");
  if (!origin.empty() && origin != origin_) {
    SendError(response, 403, "PERMISSION_DENIED",
              absl::StrCat("requests from ", origin, " are refused; this is ", origin_));
    return false;
  }
  return true;
}

std::optional<WebGateway::Impl::Caller> WebGateway::Impl::SignedIn(const httplib::Request& request,
                                                                   httplib::Response& response) {
  // Browsers say where a request comes from: only vigil's own pages (or no browser at all).
  const std::string site = request.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin") {
    SendError(response, 403, "PERMISSION_DENIED", "requests must come from vigil's own pages");
    return std::nullopt;
  }
  const absl::Time now = clock_->Now();
  Caller caller;
  caller.cookie = CookieValue(request, SessionCookieName());
  std::optional<Session> session = sessions_.Find(caller.cookie, now);
  if (!session.has_value()) {
    SendError(response, 401, "UNAUTHENTICATED", "sign in first");
    return std::nullopt;
  }
  caller.session = *std::move(session);
  if (caller.session.access_token.empty() ||
      now + absl::Seconds(30) < caller.session.access_expires) {
    return caller;
  }
  // One refresh at a time: a provider that rotates refresh tokens refuses the second use of
  // one, and would end the grant. A request that waited here finds the token renewed.
  absl::MutexLock refreshing(&refresh_mu_);
  std::optional<Session> current = sessions_.Find(caller.cookie, now);
  if (!current.has_value()) {
    SendError(response, 401, "UNAUTHENTICATED", "sign in first");
    return std::nullopt;
  }
  caller.session = *std::move(current);
  if (now + absl::Seconds(30) < caller.session.access_expires) return caller;
  absl::StatusOr<Tokens> fresh = caller.session.refresh_token.empty() || options_.oidc == nullptr
                                     ? absl::UnauthenticatedError("no refresh token")
                                     : options_.oidc->Refresh(caller.session.refresh_token, now);
  if (!fresh.ok()) {
    if (absl::IsUnauthenticated(fresh.status())) {
      sessions_.Erase(caller.cookie);
      SendError(response, 401, "UNAUTHENTICATED", "your sign-in has expired; sign in again");
    } else {
      // The provider is unreachable: the session stays, the person retries.
      SendError(response, 503, "UNAVAILABLE",
                "your sign-in needs renewing and the sign-in service cannot be reached; try again");
    }
    return std::nullopt;
  }
  sessions_.UpdateCredential(caller.cookie, fresh->access_token, fresh->refresh_token,
                             fresh->access_expires);
  caller.session.access_token = fresh->access_token;
  caller.session.access_expires = fresh->access_expires;
  return caller;
}

void WebGateway::Impl::ApplyCredential(const Session& session, grpc::ClientContext& context) const {
  if (!session.access_token.empty()) {
    client::AddBearerToken(context, session.access_token);
    return;
  }
  // The dev sign-in: identity metadata, which only a loopback vigild on --auth=dev believes.
  context.AddMetadata("x-vigil-actor", session.identity.actor);
  context.AddMetadata("x-vigil-role", session.identity.role);
  context.AddMetadata("x-vigil-force", session.identity.force);
  if (!session.identity.team.empty()) context.AddMetadata("x-vigil-team", session.identity.team);
  if (!session.identity.rank.empty()) context.AddMetadata("x-vigil-rank", session.identity.rank);
}

absl::Status WebGateway::Impl::ApplyPurpose(absl::string_view purpose, absl::string_view cross_team,
                                            grpc::ClientContext& context) const {
  VIGIL_RETURN_IF_ERROR(CheckMetadataText(purpose, "X-Vigil-Purpose (purpose of access)", 500));
  VIGIL_RETURN_IF_ERROR(CheckMetadataText(cross_team, "X-Vigil-Cross-Team (reason)", 500));
  if (!purpose.empty()) context.AddMetadata("x-vigil-purpose", std::string(purpose));
  if (!cross_team.empty()) context.AddMetadata("x-vigil-cross-team", std::string(cross_team));
  return absl::OkStatus();
}

void WebGateway::Impl::HandleConfig(const httplib::Request&, httplib::Response& response) const {
  pb::Struct config;
  (*config.mutable_fields())["oidc"].set_bool_value(options_.oidc != nullptr);
  (*config.mutable_fields())["devSignIn"].set_bool_value(options_.dev_sign_in);
  NoStore(response);
  SendJson(nullptr, response, ToJson(config));
}

void WebGateway::Impl::SignInFailed(httplib::Response& response, int status,
                                    absl::string_view why) const {
  // Plain text: nothing from the request is echoed into markup.
  response.status = status;
  NoStore(response);
  response.set_content(
      absl::StrCat("Sign-in failed: ", why, "\n\nStart again at ", origin_, "/ (Sign in).\n"),
      "text/plain; charset=utf-8");
}

void WebGateway::Impl::HandleLogin(const httplib::Request& request, httplib::Response& response) {
  if (options_.oidc == nullptr) {
    SignInFailed(response, 404, "this vigil-web has no OpenID provider configured");
    return;
  }
  std::string return_to = request.get_param_value("return");
  // Only a route of the app itself: never a redirect elsewhere.
  if (!absl::StartsWith(return_to, "#/") ||
      !std::all_of(return_to.begin(), return_to.end(), [](char c) {
        return absl::ascii_isalnum(c) || absl::StrContains("#/-_.?=&%", c);
      })) {
    return_to = "#/";
  }
  PendingLogin login;
  login.code_verifier = RandomToken(32);
  login.nonce = RandomToken(16);
  login.return_to = return_to;
  const std::string verifier = login.code_verifier;
  const std::string nonce = login.nonce;
  const std::string state = sessions_.BeginLogin(std::move(login), clock_->Now());
  // The state also goes into a cookie, so that the callback completes only in the browser that
  // began the sign-in (no one can sign a victim in as themselves).
  response.set_header("Set-Cookie", LoginCookie(state, "; Max-Age=600"));
  NoStore(response);
  response.set_redirect(options_.oidc->AuthorizationUrl(state, nonce, verifier));
}

void WebGateway::Impl::HandleCallback(const httplib::Request& request,
                                      httplib::Response& response) {
  if (options_.oidc == nullptr) {
    SignInFailed(response, 404, "this vigil-web has no OpenID provider configured");
    return;
  }
  const std::string state = request.get_param_value("state");
  const std::string cookie_state = CookieValue(request, LoginCookieName());
  // Clear the pre-login cookie whatever happens.
  response.set_header("Set-Cookie", LoginCookie("", "; Max-Age=0"));
  if (state.empty() || state != cookie_state) {
    SignInFailed(response, 400,
                 "this sign-in was not started in this browser, or it was already completed");
    return;
  }
  std::optional<PendingLogin> login = sessions_.FinishLogin(state, clock_->Now());
  if (!login.has_value()) {
    SignInFailed(response, 400, "the sign-in took longer than 10 minutes, or was already used");
    return;
  }
  if (request.has_param("error")) {
    SignInFailed(response, 401,
                 absl::StrCat("the provider said ", request.get_param_value("error")));
    return;
  }
  // RFC 9207: when the provider names itself, it must be ours.
  if (request.has_param("iss") &&
      request.get_param_value("iss") != options_.oidc->options().issuer) {
    SignInFailed(response, 400, "the answer came from another provider");
    return;
  }
  absl::StatusOr<Tokens> tokens = options_.oidc->Redeem(
      request.get_param_value("code"), login->code_verifier, login->nonce, clock_->Now());
  if (!tokens.ok()) {
    VIGIL_LOG(WARNING) << "sign-in refused: " << tokens.status().message();
    SignInFailed(response, 401, tokens.status().message());
    return;
  }
  Session session;
  session.identity = options_.oidc->IdentityOf(tokens->access_token);
  session.access_token = tokens->access_token;
  session.refresh_token = tokens->refresh_token;
  session.id_token = tokens->id_token;
  session.access_expires = tokens->access_expires;
  absl::StatusOr<std::string> cookie = sessions_.Create(std::move(session), clock_->Now());
  if (!cookie.ok()) {
    SignInFailed(response, 503, cookie.status().message());
    return;
  }
  // Two cookies: the session's, and the login cookie cleared.
  response.headers.erase("Set-Cookie");
  response.headers.emplace("Set-Cookie", LoginCookie("", "; Max-Age=0"));
  response.headers.emplace("Set-Cookie", SessionCookie(*cookie));
  NoStore(response);
  response.set_redirect(absl::StrCat("/", login->return_to));
}

void WebGateway::Impl::HandleDevSignIn(const httplib::Request& request,
                                       httplib::Response& response) {
  if (!options_.dev_sign_in) {
    SendError(response, 404, "NOT_FOUND", "the development sign-in is off (--dev-sign-in)");
    return;
  }
  if (!SameOriginPost(request, response)) return;
  pb::Struct body;
  if (!pb::util::JsonStringToMessage(request.body, &body).ok()) {
    SendError(response, 400, "INVALID_ARGUMENT",
              "give a JSON object {actor, role, force, team, rank}");
    return;
  }
  auto text = [&](const char* name) -> std::optional<std::string> {
    auto it = body.fields().find(name);
    if (it == body.fields().end() || it->second.string_value().empty()) return std::nullopt;
    return it->second.string_value();
  };
  IdentityClaims claims{text("actor"), text("role"), text("force"), text("team"), text("rank")};
  absl::StatusOr<Principal> principal = PrincipalFromClaims(
      claims, ClaimSources{"actor", "role", "force", "team", "rank"}, /*allow_service=*/false);
  if (!principal.ok()) {
    SendError(response, 400, "INVALID_ARGUMENT", principal.status().message());
    return;
  }
  Session session;
  session.identity =
      WebIdentity{claims.actor.value_or(""), claims.role.value_or(""), claims.force.value_or(""),
                  claims.team.value_or(""), claims.rank.value_or("")};
  absl::StatusOr<std::string> cookie = sessions_.Create(std::move(session), clock_->Now());
  if (!cookie.ok()) {
    SendError(response, 503, "UNAVAILABLE", cookie.status().message());
    return;
  }
  response.set_header("Set-Cookie", SessionCookie(*cookie));
  NoStore(response);
  response.status = 204;
}

void WebGateway::Impl::HandleLogout(const httplib::Request& request, httplib::Response& response) {
  if (!SameOriginPost(request, response)) return;
  const std::string cookie = CookieValue(request, SessionCookieName());
  const std::optional<Session> session = sessions_.Find(cookie, clock_->Now());
  sessions_.Erase(cookie);
  response.set_header("Set-Cookie", SessionCookie("", "; Max-Age=0"));
  NoStore(response);
  // Signed in at the provider: its session ends too, or the next sign-in there would pass
  // without a password (OpenID Connect RP-Initiated Logout 1.0). The page goes to this address;
  // the provider sends the browser back to PUBLIC_URL/ (registered there as a
  // post_logout_redirect_uri).
  const std::string& end_session =
      options_.oidc == nullptr ? std::string() : options_.oidc->endpoints().end_session;
  if (!session.has_value() || session->id_token.empty() || end_session.empty()) {
    response.status = 204;
    return;
  }
  const std::string url =
      absl::StrCat(end_session, absl::StrContains(end_session, '?') ? "&" : "?",
                   "id_token_hint=", FormEncode(session->id_token),
                   "&post_logout_redirect_uri=", FormEncode(absl::StrCat(origin_, "/")),
                   "&client_id=", FormEncode(options_.oidc->options().client_id));
  pb::Struct answer;
  (*answer.mutable_fields())["endSessionUrl"] = StringValue(url);
  SendJson(nullptr, response, ToJson(answer));
}

void WebGateway::Impl::HandleSession(const httplib::Request& request, httplib::Response& response) {
  std::optional<Caller> caller = SignedIn(request, response);
  if (!caller.has_value()) return;
  const WebIdentity& who = caller->session.identity;
  pb::Struct session;
  auto& fields = *session.mutable_fields();
  fields["actor"] = StringValue(who.actor);
  fields["role"] = StringValue(who.role);
  fields["force"] = StringValue(who.force);
  fields["team"] = StringValue(who.team);
  fields["rank"] = StringValue(who.rank);
  fields["signIn"] = StringValue(caller->session.access_token.empty() ? "dev" : "oidc");
  fields["expiresAt"] = StringValue(
      absl::FormatTime(absl::RFC3339_sec, caller->session.created + options_.sessions.absolute,
                       absl::UTCTimeZone()));
  NoStore(response);
  SendJson(nullptr, response, ToJson(session));
}

void WebGateway::Impl::HandleCall(const httplib::Request& request, httplib::Response& response) {
  if (!SameOriginPost(request, response)) return;
  std::optional<Caller> caller = SignedIn(request, response);
  if (!caller.has_value()) return;
  const std::string service = request.matches[1];
  const std::string method_name = request.matches[2];
  const pb::MethodDescriptor* method = FindAllowedMethod(service, method_name);
  if (method == nullptr) {
    SendError(
        response, 404, "NOT_FOUND",
        absl::StrCat(service, "/", method_name, " is not a method the web application may call"));
    return;
  }
  if (!absl::StartsWith(request.get_header_value("Content-Type"), "application/json")) {
    SendError(response, 415, "INVALID_ARGUMENT", "send the request as application/json");
    return;
  }
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  const pb::Message* response_prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  std::unique_ptr<pb::Message> call_request(prototype->New());
  std::unique_ptr<pb::Message> call_response(response_prototype->New());
  const std::string body = request.body.empty() ? "{}" : request.body;
  if (auto parsed = pb::util::JsonStringToMessage(body, call_request.get()); !parsed.ok()) {
    SendError(response, 400, "INVALID_ARGUMENT",
              absl::StrCat(method->input_type()->name(), ": ", std::string(parsed.message())));
    return;
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  ApplyCredential(caller->session, context);
  if (absl::Status ok = ApplyPurpose(request.get_header_value("X-Vigil-Purpose"),
                                     request.get_header_value("X-Vigil-Cross-Team"), context);
      !ok.ok()) {
    SendError(response, 400, "INVALID_ARGUMENT", ok.message());
    return;
  }
  absl::Notification done;
  grpc::Status status;
  stub_->UnaryCall(&context, absl::StrCat("/", service, "/", method_name), grpc::StubOptions(),
                   call_request.get(), call_response.get(), [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
  done.WaitForNotification();
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      // vigild no longer accepts the credential (revoked, rotated keys): sign in again.
      sessions_.Erase(caller->cookie);
    }
    SendStatus(response, status);
    return;
  }
  NoStore(response);
  SendJson(&request, response, ToJson(*call_response));
}

void WebGateway::Impl::HandleAlertEvents(const httplib::Request& request,
                                         httplib::Response& response) {
  std::optional<Caller> caller = SignedIn(request, response);
  if (!caller.has_value()) return;
  v1::SubscribeRequest subscribe;
  uint64_t after = 0;
  const std::string last_event = request.get_header_value("Last-Event-ID");
  const std::string after_param = request.get_param_value("after");
  if (!last_event.empty() && !absl::SimpleAtoi(last_event, &after)) {
    SendError(response, 400, "INVALID_ARGUMENT", "Last-Event-ID: an event sequence number");
    return;
  }
  if (last_event.empty() && !after_param.empty() && !absl::SimpleAtoi(after_param, &after)) {
    SendError(response, 400, "INVALID_ARGUMENT", "after: an event sequence number");
    return;
  }
  if (last_event.empty() && after_param.empty()) {
    subscribe.set_start_at_head(true);
  } else {
    subscribe.set_resume_after_sequence(after);
  }
  auto context = std::make_unique<grpc::ClientContext>();
  ApplyCredential(caller->session, *context);
  if (absl::Status ok = ApplyPurpose(request.get_param_value("purpose"), "", *context); !ok.ok()) {
    SendError(response, 400, "INVALID_ARGUMENT", ok.message());
    return;
  }
  // Streams are counted per person (however many sessions they open), and the slot is taken
  // before the stream starts, so that parallel requests cannot pass the limit together.
  const std::string person =
      absl::StrCat(caller->session.identity.force, "/", caller->session.identity.actor);
  {
    absl::MutexLock lock(&streams_mu_);
    if (stopping_) {
      SendError(response, 503, "UNAVAILABLE", "vigil-web is stopping");
      return;
    }
    int& mine = streams_per_person_[person];
    if (open_streams_ >= options_.max_streams || mine >= options_.max_streams_per_person) {
      if (mine == 0) streams_per_person_.erase(person);
      response.set_header("Retry-After", "30");
      SendError(response, 429, "RESOURCE_EXHAUSTED",
                "too many open alert streams; close other vigil tabs or try again shortly");
      return;
    }
    ++mine;
    ++open_streams_;
  }
  auto release = [this, person] {
    absl::MutexLock lock(&streams_mu_);
    --open_streams_;
    if (--streams_per_person_[person] <= 0) streams_per_person_.erase(person);
  };
  auto stream = std::make_shared<AlertStream>(
      std::move(context), v1::AlertService::NewStub(channel_), std::move(subscribe));
  // A refusal (role, purpose, force) comes at once: answer it as an HTTP error, which the
  // browser's EventSource does not retry.
  if (std::optional<grpc::Status> ended = stream->EndedWithin(absl::Milliseconds(500));
      ended.has_value()) {
    release();
    SendStatus(response,
               ended->ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended") : *ended);
    return;
  }
  {
    absl::MutexLock lock(&streams_mu_);
    streams_.insert(stream.get());
    if (stopping_) stream->Cancel();  // Stop() has cancelled the others already
  }
  NoStore(response);
  response.set_header("X-Accel-Buffering", "no");
  const absl::Duration heartbeat = options_.heartbeat;
  // vigild checked the credential when the stream began; the stream ends (at the next event or
  // keep-alive) once the session has: signed out, idle, too old, or its token refused.
  response.set_chunked_content_provider(
      "text/event-stream",
      [this, stream, heartbeat, cookie = caller->cookie](size_t, httplib::DataSink& sink) {
        std::optional<std::string> chunk = stream->Next(heartbeat);
        if (!chunk.has_value() || !sessions_.IsLive(cookie, clock_->Now())) {
          sink.done();
          return true;
        }
        return sink.write(chunk->data(), chunk->size());
      },
      [this, stream, release](bool) {
        stream->Cancel();
        {
          absl::MutexLock lock(&streams_mu_);
          streams_.erase(stream.get());
        }
        release();
      });
}

WebGateway::WebGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebGateway::~WebGateway() { impl_->Stop(); }

absl::StatusOr<std::unique_ptr<WebGateway>> WebGateway::Start(GatewayOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  VIGIL_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<WebGateway>(new WebGateway(std::move(impl)));
}

int WebGateway::port() const { return impl_->port(); }
const std::string& WebGateway::origin() const { return impl_->origin(); }

}  // namespace vigil::web
