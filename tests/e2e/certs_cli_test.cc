// The real `vigil certs` and `vigil token` verbs: files and modes as docs/security.md says,
// certificates whose identity parses back, tokens that verify against the JWKS written beside
// their key, and nothing overwritten without --overwrite. No server is involved.
#include <sys/stat.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/crypto/jwt.h"
#include "base/crypto/x509.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::ReadFile;
using ::vigil::testing::RunResult;
using ::vigil::testing::VigilCliPath;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class CertsCliTest : public ::testing::Test {
 protected:
  RunResult Vigil(std::vector<std::string> args) {
    args.insert(args.begin(), VigilCliPath());
    absl::StatusOr<RunResult> result = testing::Run(args, absl::Seconds(60));
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : RunResult{};
  }

  vigil::testing::TempDir tmp_;
  const std::string dir_ = tmp_.Sub("tls");
};

TEST_F(CertsCliTest, CreatesCaServerAndClientCertificatesPrivately) {
  RunResult ca = Vigil({"certs", "create-ca", "--dir", dir_});
  ASSERT_EQ(ca.exit_code, 0) << ca.output;
  RunResult server = Vigil(
      {"certs", "create-server", "--dir", dir_, "--host", "localhost", "--host", "127.0.0.1"});
  ASSERT_EQ(server.exit_code, 0) << server.output;
  RunResult client =
      Vigil({"certs", "create-client", "--dir", dir_, "--actor", "DC 100", "--role", "officer",
             "--force", "wessex", "--team", "MOSOVO North", "--rank", "sergeant"});
  ASSERT_EQ(client.exit_code, 0) << client.output;

  EXPECT_EQ(ModeOf(dir_), 0700u);
  for (const char* file :
       {"ca.crt", "ca.key", "server.crt", "server.key", "client.dc-100.crt", "client.dc-100.key"}) {
    EXPECT_EQ(ModeOf(absl::StrCat(dir_, "/", file)), 0600u) << file;
  }
  VIGIL_ASSERT_OK_AND_ASSIGN(
      crypto::CertificateIdentity identity,
      crypto::ParseCertificateIdentity(ReadFile(dir_ + "/client.dc-100.crt")));
  EXPECT_EQ(identity.actor, "DC 100");
  EXPECT_EQ(identity.role, "officer");
  EXPECT_EQ(identity.force, "wessex");
  EXPECT_EQ(identity.team, "MOSOVO North");
  EXPECT_EQ(identity.rank, "sergeant");
  EXPECT_THAT(crypto::CheckKeyMatchesCertificate(ReadFile(dir_ + "/server.key"),
                                                 ReadFile(dir_ + "/server.crt")),
              IsOk());

  RunResult list = Vigil({"certs", "list", "--dir", dir_});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("actor=DC 100 role=officer force=wessex"));
  EXPECT_THAT(list.output, HasSubstr("hosts=localhost,127.0.0.1"));
}

TEST_F(CertsCliTest, RefusesToOverwriteWithoutTheFlag) {
  ASSERT_EQ(Vigil({"certs", "create-ca", "--dir", dir_}).exit_code, 0);
  const std::string key = ReadFile(dir_ + "/ca.key");
  RunResult again = Vigil({"certs", "create-ca", "--dir", dir_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("ca.crt already exists; give --overwrite to replace it"));
  EXPECT_EQ(ReadFile(dir_ + "/ca.key"), key);
  RunResult overwrite = Vigil({"certs", "create-ca", "--dir", dir_, "--overwrite"});
  EXPECT_EQ(overwrite.exit_code, 0) << overwrite.output;
  EXPECT_NE(ReadFile(dir_ + "/ca.key"), key);
  EXPECT_EQ(ModeOf(dir_ + "/ca.key"), 0600u);
}

TEST_F(CertsCliTest, BadFlagValuesExitTwoNamingTheFlag) {
  ASSERT_EQ(Vigil({"certs", "create-ca", "--dir", dir_}).exit_code, 0);
  const std::vector<std::string> client = {"certs", "create-client", "--dir",
                                           dir_,    "--actor",       "DC 100"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = client;
    args.insert(args.end(), extra.begin(), extra.end());
    return Vigil(args);
  };
  RunResult role = with({"--role", "chief", "--force", "wessex"});
  EXPECT_EQ(role.exit_code, 2);
  EXPECT_THAT(role.output, HasSubstr("--role: 'chief' is not one of officer"));
  RunResult force = with({"--role", "officer", "--force", "Wessex Police"});
  EXPECT_EQ(force.exit_code, 2);
  EXPECT_THAT(force.output, HasSubstr("--force: "));
  RunResult rank = with({"--role", "officer", "--force", "wessex", "--rank", "constable"});
  EXPECT_EQ(rank.exit_code, 2);
  EXPECT_THAT(rank.output, HasSubstr("--rank: "));
  RunResult host = Vigil({"certs", "create-server", "--dir", dir_, "--host", "bad host"});
  EXPECT_EQ(host.exit_code, 2);
  EXPECT_THAT(host.output, HasSubstr("--host: "));
  EXPECT_EQ(Vigil({"certs", "create-server", "--dir", dir_}).exit_code, 2);  // no --host
}

TEST_F(CertsCliTest, ServerCertificateNeedsTheCa) {
  RunResult server = Vigil({"certs", "create-server", "--dir", dir_, "--host", "localhost"});
  EXPECT_EQ(server.exit_code, 1);
  EXPECT_THAT(server.output, HasSubstr("vigil certs create-ca --dir"));
}

TEST_F(CertsCliTest, DevTokenVerifiesAgainstTheJwksWrittenBesideItsKey) {
  RunResult key = Vigil({"token", "create-key", "--dir", dir_});
  ASSERT_EQ(key.exit_code, 0) << key.output;
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/token-signing.key"), 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/jwks.json"), 0600u);

  RunResult dev =
      Vigil({"token", "dev", "--key", dir_ + "/token-signing.key", "--actor", "DC 100", "--role",
             "supervisor", "--force", "wessex", "--rank", "inspector", "--ttl-seconds", "600"});
  ASSERT_EQ(dev.exit_code, 0) << dev.output;
  const std::string token(absl::StripTrailingAsciiWhitespace(dev.output));

  VIGIL_ASSERT_OK_AND_ASSIGN(crypto::Jwks jwks, crypto::Jwks::ReadFile(dir_ + "/jwks.json"));
  ASSERT_EQ(jwks.keys().size(), 1u);
  EXPECT_EQ(crypto::JwkThumbprint(*jwks.keys()[0].key).value_or(""), jwks.keys()[0].kid);
  crypto::JwtVerifierOptions options;
  options.jwks = std::make_shared<crypto::Jwks>(jwks);
  options.issuer = "vigil-dev";
  options.audience = "vigil";
  VIGIL_ASSERT_OK_AND_ASSIGN(auto verifier, crypto::JwtVerifier::Create(std::move(options)));

  // Verified at the time the CLI says it issued the token, not at this test's clock.
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u) << token;
  google::protobuf::Struct payload;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  crypto::Base64UrlDecode(parts[1]).value_or(""), &payload)
                  .ok());
  const absl::Time issued =
      absl::FromUnixSeconds(static_cast<int64_t>(payload.fields().at("iat").number_value()));
  VIGIL_ASSERT_OK_AND_ASSIGN(crypto::VerifiedToken verified, verifier->Verify(token, issued));
  EXPECT_EQ(verified.kid(), jwks.keys()[0].kid);
  EXPECT_EQ(verified.algorithm(), "ES256");
  EXPECT_EQ(verified.expiry(), issued + absl::Seconds(600));
  EXPECT_EQ(verified.StringClaim("preferred_username"), "DC 100");
  EXPECT_EQ(verified.StringClaim("vigil_role"), "supervisor");
  EXPECT_EQ(verified.StringClaim("vigil_force"), "wessex");
  EXPECT_EQ(verified.StringClaim("vigil_rank"), "inspector");
  EXPECT_EQ(verified.StringClaim("vigil_team"), std::nullopt);

  RunResult again = Vigil({"token", "create-key", "--dir", dir_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("already exists; give --overwrite"));
}

TEST_F(CertsCliTest, DevTokensNeverCarryTheServiceRole) {
  ASSERT_EQ(Vigil({"token", "create-key", "--dir", dir_}).exit_code, 0);
  RunResult dev = Vigil({"token", "dev", "--key", dir_ + "/token-signing.key", "--actor",
                         "vigil-alerts", "--role", "service", "--force", "wessex"});
  EXPECT_EQ(dev.exit_code, 2);
  EXPECT_THAT(dev.output, HasSubstr("--role: tokens never carry the service role"));
}

TEST_F(CertsCliTest, DevTokenRefusesAKeyOthersCanRead) {
  ASSERT_EQ(Vigil({"token", "create-key", "--dir", dir_}).exit_code, 0);
  const std::string key = dir_ + "/token-signing.key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  RunResult dev = Vigil({"token", "dev", "--key", key, "--actor", "DC 100", "--role", "officer",
                         "--force", "wessex"});
  EXPECT_EQ(dev.exit_code, 1);
  EXPECT_THAT(dev.output, HasSubstr("run chmod 600 " + key));
}

}  // namespace
}  // namespace vigil
