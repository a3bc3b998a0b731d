#include "services/web/oidc.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/crypto/digest.h"
#include "base/crypto/jwt.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"

namespace vigil::web {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string StringField(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  if (it == object.fields().end() || it->second.kind_case() != Value::kStringValue) return {};
  return it->second.string_value();
}

absl::StatusOr<Struct> ParseJsonObject(absl::string_view json, absl::string_view what) {
  Struct object;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &object, options).ok()) {
    return absl::UnavailableError(absl::StrCat(what, " is not a JSON object"));
  }
  return object;
}

std::unique_ptr<httplib::Client> ClientFor(const std::string& origin, const OidcOptions& options) {
  auto client = std::make_unique<httplib::Client>(origin);
  client->set_connection_timeout(5);
  client->set_read_timeout(10);
  client->set_write_timeout(10);
  if (absl::StartsWith(origin, "https://")) {
    client->enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) client->set_ca_cert_path(options.ca_file);
  }
  return client;
}

bool IsLoopbackHost(absl::string_view origin) {
  for (absl::string_view host : {"http://127.0.0.1", "http://localhost", "http://[::1]"}) {
    if (origin == host || absl::StartsWith(origin, absl::StrCat(host, ":"))) return true;
  }
  return false;
}

// The issuer and the endpoints must be https, except a provider on this host (development and
// the tests): a token over plain HTTP elsewhere could be read on the way.
absl::Status CheckSecureUrl(absl::string_view url, absl::string_view what) {
  VIGIL_ASSIGN_OR_RETURN(SplitUrl split, SplitHttpUrl(url, what));
  if (absl::StartsWith(split.origin, "https://") || IsLoopbackHost(split.origin)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", url, ": must be https (plain http only on 127.0.0.1 or localhost)"));
}

}  // namespace

absl::StatusOr<SplitUrl> SplitHttpUrl(absl::string_view url, absl::string_view what) {
  size_t scheme_end = absl::StartsWith(url, "https://")  ? 8
                      : absl::StartsWith(url, "http://") ? 7
                                                         : 0;
  if (scheme_end == 0 || url.size() == scheme_end) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", url, "': give an absolute http(s) URL, e.g. https://host/path"));
  }
  size_t path_start = url.find_first_of("/?", scheme_end);
  if (path_start == absl::string_view::npos) path_start = url.size();
  if (absl::StrContains(url, '#')) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", url, "': no #fragment allowed"));
  }
  SplitUrl split{std::string(url.substr(0, path_start)), std::string(url.substr(path_start))};
  if (split.path.empty() || split.path[0] != '/') split.path = absl::StrCat("/", split.path);
  return split;
}

std::string FormEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string PkceChallenge(absl::string_view verifier) {
  return crypto::Base64UrlEncode(crypto::Sha256({verifier}));
}

absl::StatusOr<Struct> UnverifiedJwtPayload(absl::string_view jwt) {
  std::vector<absl::string_view> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) return absl::InvalidArgumentError("not a JWT (three parts)");
  std::optional<std::string> payload = crypto::Base64UrlDecode(parts[1]);
  if (!payload.has_value()) return absl::InvalidArgumentError("not a JWT (payload encoding)");
  absl::StatusOr<Struct> claims = ParseJsonObject(*payload, "the JWT payload");
  if (!claims.ok()) return absl::InvalidArgumentError(claims.status().message());
  return claims;
}

absl::StatusOr<std::unique_ptr<OidcClient>> OidcClient::Discover(OidcOptions options) {
  if (options.client_id.empty()) {
    return absl::InvalidArgumentError("--oidc-client-id: required with --oidc-issuer");
  }
  VIGIL_RETURN_IF_ERROR(CheckSecureUrl(options.issuer, "--oidc-issuer"));
  VIGIL_RETURN_IF_ERROR(SplitHttpUrl(options.redirect_uri, "--public-url").status());
  std::string issuer = options.issuer;
  while (absl::EndsWith(issuer, "/")) issuer.pop_back();
  VIGIL_ASSIGN_OR_RETURN(SplitUrl where,
                         SplitHttpUrl(issuer + "/.well-known/openid-configuration", "issuer"));
  std::unique_ptr<httplib::Client> client = ClientFor(where.origin, options);
  httplib::Result response = client->Get(where.path);
  if (!response) {
    return absl::UnavailableError(absl::StrCat("the OpenID provider ", issuer,
                                               " cannot be reached (",
                                               httplib::to_string(response.error()), ")"));
  }
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("the OpenID provider's discovery document ",
                                               where.origin, where.path, " answered HTTP ",
                                               response->status));
  }
  VIGIL_ASSIGN_OR_RETURN(Struct metadata,
                         ParseJsonObject(response->body, "the provider's discovery document"));
  // OpenID Connect Discovery 4.3: the document's issuer is exactly the one asked for.
  if (StringField(metadata, "issuer") != options.issuer &&
      StringField(metadata, "issuer") != issuer) {
    return absl::UnavailableError(absl::StrCat("the discovery document names issuer '",
                                               StringField(metadata, "issuer"), "', not '",
                                               options.issuer, "'"));
  }
  ProviderEndpoints endpoints{StringField(metadata, "authorization_endpoint"),
                              StringField(metadata, "token_endpoint"),
                              StringField(metadata, "end_session_endpoint")};
  VIGIL_RETURN_IF_ERROR(CheckSecureUrl(endpoints.authorization, "authorization_endpoint"));
  VIGIL_RETURN_IF_ERROR(CheckSecureUrl(endpoints.token, "token_endpoint"));
  return std::unique_ptr<OidcClient>(new OidcClient(std::move(options), std::move(endpoints)));
}

std::string OidcClient::AuthorizationUrl(absl::string_view state, absl::string_view nonce,
                                         absl::string_view code_verifier) const {
  const char separator = absl::StrContains(endpoints_.authorization, '?') ? '&' : '?';
  return absl::StrCat(
      endpoints_.authorization, std::string(1, separator),
      "response_type=code&client_id=", FormEncode(options_.client_id),
      "&redirect_uri=", FormEncode(options_.redirect_uri), "&scope=", FormEncode(options_.scope),
      "&state=", FormEncode(state), "&nonce=", FormEncode(nonce),
      "&code_challenge=", PkceChallenge(code_verifier), "&code_challenge_method=S256");
}

absl::StatusOr<Tokens> OidcClient::TokenRequest(
    const std::vector<std::pair<std::string, std::string>>& form, absl::Time now) const {
  VIGIL_ASSIGN_OR_RETURN(SplitUrl where, SplitHttpUrl(endpoints_.token, "token_endpoint"));
  std::unique_ptr<httplib::Client> client = ClientFor(where.origin, options_);
  std::string body;
  for (const auto& [name, value] : form) {
    absl::StrAppend(&body, body.empty() ? "" : "&", name, "=", FormEncode(value));
  }
  if (options_.client_secret.empty()) {
    absl::StrAppend(&body, "&client_id=", FormEncode(options_.client_id));
  } else {
    // RFC 6749 2.3.1: client_secret_basic, each part form-encoded first.
    client->set_basic_auth(FormEncode(options_.client_id), FormEncode(options_.client_secret));
  }
  httplib::Result response =
      client->Post(where.path, httplib::Headers{{"Accept", "application/json"}}, body,
                   "application/x-www-form-urlencoded");
  if (!response) {
    return absl::UnavailableError(
        absl::StrCat("the OpenID provider's token endpoint cannot be reached (",
                     httplib::to_string(response.error()), ")"));
  }
  absl::StatusOr<Struct> answer = ParseJsonObject(response->body, "the token response");
  if (response->status != 200) {
    // RFC 6749 5.2: error and error_description; both are the provider's words, not personal data.
    std::string error = answer.ok() ? StringField(*answer, "error") : "";
    std::string description = answer.ok() ? StringField(*answer, "error_description") : "";
    return absl::UnauthenticatedError(
        absl::StrCat("the provider refused the sign-in: ", error.empty() ? "HTTP error" : error,
                     description.empty() ? "" : " (", description, description.empty() ? "" : ")"));
  }
  VIGIL_RETURN_IF_ERROR(answer.status());
  Tokens tokens;
  tokens.access_token = StringField(*answer, "access_token");
  tokens.refresh_token = StringField(*answer, "refresh_token");
  tokens.id_token = StringField(*answer, "id_token");
  if (tokens.access_token.empty()) {
    return absl::UnauthenticatedError("the provider's token response has no access_token");
  }
  auto expires_in = answer->fields().find("expires_in");
  tokens.access_expires = now + absl::Minutes(5);
  if (expires_in != answer->fields().end() &&
      expires_in->second.kind_case() == Value::kNumberValue &&
      expires_in->second.number_value() > 0) {
    tokens.access_expires = now + absl::Seconds(expires_in->second.number_value());
  }
  return tokens;
}

absl::StatusOr<Tokens> OidcClient::Redeem(absl::string_view code, absl::string_view code_verifier,
                                          absl::string_view nonce, absl::Time now) const {
  VIGIL_ASSIGN_OR_RETURN(Tokens tokens,
                         TokenRequest({{"grant_type", "authorization_code"},
                                       {"code", std::string(code)},
                                       {"redirect_uri", options_.redirect_uri},
                                       {"code_verifier", std::string(code_verifier)}},
                                      now));
  absl::StatusOr<Struct> id = UnverifiedJwtPayload(tokens.id_token);
  if (!id.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the provider's ID token is unreadable: ", id.status().message()));
  }
  std::string issuer = options_.issuer;
  if (StringField(*id, "iss") != issuer) {
    return absl::UnauthenticatedError("the ID token is from another issuer");
  }
  bool audience_ok = StringField(*id, "aud") == options_.client_id;
  auto aud = id->fields().find("aud");
  if (!audience_ok && aud != id->fields().end() && aud->second.has_list_value()) {
    for (const Value& value : aud->second.list_value().values()) {
      audience_ok |= value.string_value() == options_.client_id;
    }
  }
  if (!audience_ok) return absl::UnauthenticatedError("the ID token is for another client");
  auto expiry = id->fields().find("exp");
  if (expiry == id->fields().end() || expiry->second.kind_case() != Value::kNumberValue ||
      absl::FromUnixSeconds(static_cast<int64_t>(expiry->second.number_value())) <
          now - absl::Minutes(1)) {
    return absl::UnauthenticatedError("the ID token has expired (or names no expiry)");
  }
  if (StringField(*id, "nonce") != nonce) {
    return absl::UnauthenticatedError("the ID token's nonce is not this sign-in's");
  }
  return tokens;
}

absl::StatusOr<Tokens> OidcClient::Refresh(absl::string_view refresh_token, absl::Time now) const {
  return TokenRequest(
      {{"grant_type", "refresh_token"}, {"refresh_token", std::string(refresh_token)}}, now);
}

WebIdentity OidcClient::IdentityOf(absl::string_view access_token) const {
  WebIdentity identity;
  absl::StatusOr<Struct> claims = UnverifiedJwtPayload(access_token);
  if (!claims.ok()) return identity;
  identity.actor = StringField(*claims, options_.claims.actor);
  identity.role = StringField(*claims, options_.claims.role);
  identity.force = StringField(*claims, options_.claims.force);
  identity.team = StringField(*claims, options_.claims.team);
  identity.rank = StringField(*claims, options_.claims.rank);
  return identity;
}

}  // namespace vigil::web
