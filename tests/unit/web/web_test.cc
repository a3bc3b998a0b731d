// vigil-web's pieces that need no server: sessions, sign-in state, the OIDC helpers, the
// gRPC-to-HTTP status map, and how the application's files are named and sent. The whole gateway
// runs in tests/e2e/web_gateway_test.py.
#include <zlib.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/crypto/jwt.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "services/web/gateway.h"
#include "services/web/gzip.h"
#include "services/web/oidc.h"
#include "services/web/sessions.h"
#include "services/web/static_files.h"
#include "tests/support/status_matchers.h"

namespace vigil::web {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::StatusIs;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

Session DevSession(absl::string_view actor) {
  Session session;
  session.identity.actor = std::string(actor);
  session.identity.role = "officer";
  session.identity.force = "wessex";
  return session;
}

TEST(SessionStoreTest, FindsASessionByItsCookieOnlyWhileLive) {
  SessionLimits limits;
  limits.idle = absl::Minutes(30);
  limits.absolute = absl::Hours(2);
  SessionStore store(limits);
  absl::StatusOr<std::string> cookie = store.Create(DevSession("DC 100"), kStart);
  VIGIL_ASSERT_OK(cookie.status());
  EXPECT_GE(cookie->size(), 43u);  // 32 random bytes, base64url

  std::optional<Session> found = store.Find(*cookie, kStart + absl::Minutes(29));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->identity.actor, "DC 100");
  EXPECT_FALSE(store.Find(*cookie + "x", kStart).has_value());
  EXPECT_FALSE(store.Find("", kStart).has_value());

  // Used every 20 minutes it lives until the absolute limit, then never again.
  for (absl::Duration t = absl::Minutes(40); t < absl::Hours(2); t += absl::Minutes(20)) {
    EXPECT_TRUE(store.Find(*cookie, kStart + t).has_value()) << t;
  }
  EXPECT_FALSE(store.Find(*cookie, kStart + absl::Hours(2)).has_value());
  EXPECT_EQ(store.size(), 0u);
}

TEST(SessionStoreTest, IdleSessionsEndAndLogoutErases) {
  SessionStore store(SessionLimits{});
  std::string idle = *store.Create(DevSession("DC 100"), kStart);
  std::string other = *store.Create(DevSession("DC 200"), kStart);
  EXPECT_NE(idle, other);
  EXPECT_FALSE(store.Find(idle, kStart + absl::Minutes(31)).has_value());
  store.Erase(other);
  EXPECT_FALSE(store.Find(other, kStart).has_value());
}

TEST(SessionStoreTest, RefusesNewSessionsAtCapacityAfterSweepingTheExpired) {
  SessionLimits limits;
  limits.max_sessions = 2;
  SessionStore store(limits);
  VIGIL_ASSERT_OK(store.Create(DevSession("a"), kStart).status());
  VIGIL_ASSERT_OK(store.Create(DevSession("b"), kStart).status());
  EXPECT_THAT(store.Create(DevSession("c"), kStart + absl::Minutes(1)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // Once the first two have idled out, room again.
  EXPECT_THAT(store.Create(DevSession("c"), kStart + absl::Hours(1)).status(),
              ::vigil::testing::IsOk());
}

TEST(SessionStoreTest, UpdatesTheCredentialAfterARefresh) {
  SessionStore store(SessionLimits{});
  Session session = DevSession("DS Holt");
  session.access_token = "old";
  session.refresh_token = "r1";
  std::string cookie = *store.Create(session, kStart);
  EXPECT_TRUE(store.UpdateCredential(cookie, "new", "", kStart + absl::Minutes(10)));
  std::optional<Session> found = store.Find(cookie, kStart);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->access_token, "new");
  EXPECT_EQ(found->refresh_token, "r1");  // kept when the provider did not rotate it
  EXPECT_EQ(found->access_expires, kStart + absl::Minutes(10));
  store.Erase(cookie);
  EXPECT_FALSE(store.UpdateCredential(cookie, "newer", "", kStart));
}

TEST(SessionStoreTest, ASignInStateIsUsableOnceWithinItsWindow) {
  SessionStore store(SessionLimits{});
  PendingLogin login;
  login.code_verifier = "verifier";
  login.nonce = "nonce";
  login.return_to = "#/work";
  std::string state = store.BeginLogin(login, kStart);
  std::optional<PendingLogin> finished = store.FinishLogin(state, kStart + absl::Minutes(1));
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->code_verifier, "verifier");
  EXPECT_EQ(finished->return_to, "#/work");
  EXPECT_FALSE(store.FinishLogin(state, kStart + absl::Minutes(1)).has_value());  // replayed

  std::string late = store.BeginLogin(login, kStart);
  EXPECT_FALSE(store.FinishLogin(late, kStart + absl::Minutes(10)).has_value());
  EXPECT_FALSE(store.FinishLogin("", kStart).has_value());
}

TEST(SessionStoreTest, AFloodOfSignInsDropsTheOldestNotTheNext) {
  SessionLimits limits;
  limits.max_pending_logins = 3;
  SessionStore store(limits);
  std::string first = store.BeginLogin(PendingLogin{}, kStart);
  for (int i = 1; i <= 3; ++i) store.BeginLogin(PendingLogin{}, kStart + absl::Seconds(i));
  EXPECT_FALSE(store.FinishLogin(first, kStart + absl::Seconds(5)).has_value());
  std::string newest = store.BeginLogin(PendingLogin{}, kStart + absl::Seconds(6));
  EXPECT_TRUE(store.FinishLogin(newest, kStart + absl::Seconds(7)).has_value());
}

TEST(SessionStoreTest, IsLiveDoesNotKeepASessionAlive) {
  SessionStore store(SessionLimits{});
  std::string cookie = *store.Create(DevSession("DC 100"), kStart);
  EXPECT_TRUE(store.IsLive(cookie, kStart + absl::Minutes(20)));
  EXPECT_FALSE(store.IsLive(cookie, kStart + absl::Minutes(31)));  // not touched at 20
  EXPECT_FALSE(store.IsLive("", kStart));
}

TEST(RandomTokenTest, IsBase64UrlAndDoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string token = RandomToken();
    ASSERT_EQ(token.size(), 43u);
    ASSERT_EQ(
        token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_TRUE(seen.insert(token).second);
  }
}

TEST(OidcTest, PkceChallengeIsRfc7636AppendixB) {
  EXPECT_EQ(PkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(OidcTest, SplitsHttpUrls) {
  absl::StatusOr<SplitUrl> split = SplitHttpUrl("https://idp.example:8443/realms/x?a=1", "issuer");
  VIGIL_ASSERT_OK(split.status());
  EXPECT_EQ(split->origin, "https://idp.example:8443");
  EXPECT_EQ(split->path, "/realms/x?a=1");
  EXPECT_EQ(SplitHttpUrl("http://127.0.0.1:9", "x")->path, "/");
  EXPECT_EQ(SplitHttpUrl("http://h?q", "x")->path, "/?q");
  EXPECT_THAT(SplitHttpUrl("ftp://h/", "--oidc-issuer").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--oidc-issuer")));
  EXPECT_THAT(SplitHttpUrl("https://", "x").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SplitHttpUrl("https://h/#frag", "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fragment")));
}

TEST(OidcTest, FormEncodesEverythingButUnreserved) {
  EXPECT_EQ(FormEncode("a-Z_0.~"), "a-Z_0.~");
  EXPECT_EQ(FormEncode("openid profile"), "openid%20profile");
  EXPECT_EQ(FormEncode("http://x/cb?a=1&b"), "http%3A%2F%2Fx%2Fcb%3Fa%3D1%26b");
  EXPECT_EQ(FormEncode("\xc3\xa9"), "%C3%A9");
}

TEST(OidcTest, ReadsAJwtPayloadWithoutTrustingIt) {
  const std::string jwt = absl::StrCat(crypto::Base64UrlEncode(R"({"alg":"none"})"), ".",
                                       crypto::Base64UrlEncode(R"({"sub":"holt","n":3})"), ".");
  absl::StatusOr<google::protobuf::Struct> payload = UnverifiedJwtPayload(jwt);
  VIGIL_ASSERT_OK(payload.status());
  EXPECT_EQ(payload->fields().at("sub").string_value(), "holt");
  EXPECT_THAT(UnverifiedJwtPayload("a.b").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(UnverifiedJwtPayload("a.!!!.c").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      UnverifiedJwtPayload(absl::StrCat("a.", crypto::Base64UrlEncode("[1]"), ".c")).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpStatusTest, MapsEveryGrpcCode) {
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::OK), 200);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::ALREADY_EXISTS), 409);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::FAILED_PRECONDITION), 409);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::ABORTED), 409);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::DATA_LOSS), 500);
  EXPECT_EQ(HttpStatusOf(grpc::StatusCode::INTERNAL), 500);
}

TEST(StaticFilesTest, NamesFilesInsideTheDirectoryOnly) {
  EXPECT_EQ(StaticPathOf("/"), "index.html");
  EXPECT_EQ(StaticPathOf("/favicon.svg"), "favicon.svg");
  EXPECT_EQ(StaticPathOf("/assets/app-O6IEX3ZE.js"), "assets/app-O6IEX3ZE.js");
  EXPECT_EQ(StaticPathOf("/assets/"), "assets/index.html");
  EXPECT_EQ(StaticPathOf("/../etc/passwd"), std::nullopt);
  EXPECT_EQ(StaticPathOf("/assets/../../x"), std::nullopt);
  EXPECT_EQ(StaticPathOf("/.git/config"), std::nullopt);
  EXPECT_EQ(StaticPathOf("//etc/passwd"), std::nullopt);
  EXPECT_EQ(StaticPathOf("/a\\b"), std::nullopt);
  EXPECT_EQ(StaticPathOf(std::string("/a\0b", 4)), std::nullopt);
  EXPECT_EQ(StaticPathOf("relative"), std::nullopt);
}

TEST(StaticFilesTest, OnlyHashedAssetsAreImmutable) {
  EXPECT_TRUE(IsHashedAsset("assets/app-O6IEX3ZE.js"));
  EXPECT_FALSE(IsHashedAsset("index.html"));
  EXPECT_FALSE(IsHashedAsset("favicon.svg"));
  EXPECT_EQ(ContentTypeOf("assets/app-X.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("assets/app-X.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeOf("x.bin"), "application/octet-stream");
}

TEST(StaticFilesTest, ReadsAcceptEncodingWithItsQValues) {
  EXPECT_TRUE(AcceptsEncoding("gzip, deflate, br", "br"));
  EXPECT_TRUE(AcceptsEncoding("gzip, deflate, br", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("gzip, deflate", "br"));
  EXPECT_FALSE(AcceptsEncoding("", "gzip"));
  EXPECT_TRUE(AcceptsEncoding("BR;q=0.5", "br"));
  EXPECT_FALSE(AcceptsEncoding("br;q=0, gzip", "br"));
  EXPECT_FALSE(AcceptsEncoding("br;q=0.0, *", "br"));
  EXPECT_TRUE(AcceptsEncoding("*", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("*;q=0", "gzip"));
  EXPECT_FALSE(AcceptsEncoding("brotli", "br"));
}

TEST(GzipTest, IsAGzipMemberThatInflatesToTheInput) {
  std::string json = "{\"items\":[";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&json, "{\"id\":\"obligation-", i, "\"},");
  json += "{}]}";
  const std::optional<std::string> gzipped = GzipFast(json);
  ASSERT_TRUE(gzipped.has_value());
  ASSERT_GE(gzipped->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*gzipped)[0]), 0x1f);  // RFC 1952 magic
  EXPECT_EQ(static_cast<unsigned char>((*gzipped)[1]), 0x8b);
  EXPECT_LT(gzipped->size(), json.size() / 4);

  z_stream stream{};
  ASSERT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(json.size() + 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped->data()));
  stream.avail_in = static_cast<uInt>(gzipped->size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  EXPECT_EQ(out, json);
  EXPECT_TRUE(GzipFast("").has_value());
}

}  // namespace
}  // namespace vigil::web
