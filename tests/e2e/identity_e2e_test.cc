// Identity end to end (issue #13, docs/security.md): the real vigild serving TLS on a
// non-loopback address, certificates made by the real `vigil certs`, tokens signed in the test
// with keys from `vigil token create-key`, and real gRPC clients: the CLI with mutual TLS, every
// bad token refused with the check named, identity headers ignored and the disagreement
// audited, one force's policy isolated from another's, need-to-know between teams, the read
// limit, files at rest, and certificates and keys reloaded on SIGHUP without dropping a stream.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/crypto/jwt.h"
#include "base/crypto/keys.h"
#include "base/files.h"
#include "clients/common/channel.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::TempDir;
using ::vigil::testing::VigildProcess;

constexpr char kIssuer[] = "https://idp.test/realms/vigil";
constexpr char kAudience[] = "vigil";

// The real CLI, without any identity in the environment.
RunResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), testing::VigilCliPath());
  absl::StatusOr<RunResult> result = testing::Run(args, absl::Seconds(60));
  EXPECT_THAT(result.status(), IsOk());
  return result.ok() ? *result : RunResult{};
}

// A directory of TLS material made with `vigil certs`, and a token signing key with its JWKS
// made with `vigil token create-key`.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  void Create() {
    Run({"certs", "create-ca", "--dir", dir_});
    Run({"certs", "create-server", "--dir", dir_, "--host", "localhost", "--host", "127.0.0.1"});
    Run({"token", "create-key", "--dir", dir_});
  }
  void Client(const std::string& actor, const std::string& role, const std::string& force,
              const std::string& team = "", const std::string& rank = "") {
    std::vector<std::string> args = {"certs", "create-client", "--dir", dir_,      "--actor",
                                     actor,   "--role",        role,    "--force", force};
    if (!team.empty()) args.insert(args.end(), {"--team", team});
    if (!rank.empty()) args.insert(args.end(), {"--rank", rank});
    Run(args);
  }
  client::TransportOptions As(const std::string& slug) const {
    return client::TransportOptions{Path("ca.crt"), Path("client." + slug + ".crt"),
                                    Path("client." + slug + ".key"), ""};
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  void Run(const std::vector<std::string>& args) {
    const RunResult r = Cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string dir_;
};

google::protobuf::Struct Claims(const std::map<std::string, std::string>& strings,
                                absl::Time expiry) {
  google::protobuf::Struct claims;
  auto& fields = *claims.mutable_fields();
  fields["iss"].set_string_value(kIssuer);
  fields["aud"].set_string_value(kAudience);
  fields["exp"].set_number_value(static_cast<double>(absl::ToUnixSeconds(expiry)));
  for (const auto& [name, value] : strings) fields[name].set_string_value(value);
  return claims;
}

std::map<std::string, std::string> Person(const std::string& actor, const std::string& role,
                                          const std::string& force, const std::string& team = "",
                                          const std::string& rank = "") {
  std::map<std::string, std::string> claims = {
      {"preferred_username", actor}, {"vigil_role", role}, {"vigil_force", force}};
  if (!team.empty()) claims["vigil_team"] = team;
  if (!rank.empty()) claims["vigil_rank"] = rank;
  return claims;
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.Create();
    pki_.Client("DC 100", "officer", "wessex", "north");
    pki_.Client("DS Holt", "supervisor", "wessex", "north", "sergeant");
    pki_.Client("Auditor A", "auditor", "wessex");
    absl::StatusOr<std::string> key = ReadSmallFile(pki_.Path("token-signing.key"));
    ASSERT_THAT(key.status(), IsOk());
    absl::StatusOr<crypto::EvpPkeyPtr> parsed = crypto::ReadPrivateKeyPem(*key);
    ASSERT_THAT(parsed.status(), IsOk());
    std::shared_ptr<EVP_PKEY> shared = crypto::ShareKey(*std::move(parsed));
    absl::StatusOr<std::string> kid = crypto::JwkThumbprint(*shared);
    ASSERT_THAT(kid.status(), IsOk());
    absl::StatusOr<crypto::JwtSigner> signer = crypto::JwtSigner::FromKey(shared, *kid);
    ASSERT_THAT(signer.status(), IsOk());
    signer_ = std::make_unique<crypto::JwtSigner>(*std::move(signer));
    public_key_pem_ = *crypto::PublicKeyToPem(*shared);
  }

  // vigild on 0.0.0.0 (a non-loopback listen) with TLS and `auth`; clients reach 127.0.0.1.
  void StartVigild(const std::string& auth, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--auth",     auth,
                                     "--tls-cert", pki_.Path("server.crt"),
                                     "--tls-key",  pki_.Path("server.key")};
    if (auth != "jwt") args.insert(args.end(), {"--tls-client-ca", pki_.Path("ca.crt")});
    if (auth != "mtls") {
      args.insert(args.end(), {"--jwks", pki_.Path("jwks.json"), "--jwt-issuer", kIssuer,
                               "--jwt-audience", kAudience});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auth_ = auth;
    vigild_.SetListenHost("0.0.0.0");
    vigild_.SetTransport(auth == "jwt" ? client::TransportOptions{pki_.Path("ca.crt"), "", "", ""}
                                       : pki_.As("dc-100"));
    ASSERT_THAT(vigild_.Start(args), IsOk());
  }

  std::shared_ptr<grpc::Channel> Channel(const client::TransportOptions& transport) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::Connect(vigild_.address(), transport);
    EXPECT_THAT(channel.status(), IsOk());
    return channel.ok() ? *channel : nullptr;
  }
  std::shared_ptr<grpc::Channel> TokenChannel() {
    return Channel(client::TransportOptions{pki_.Path("ca.crt"), "", "", ""});
  }

  std::string Token(const std::map<std::string, std::string>& claims,
                    absl::Duration lifetime = absl::Minutes(10)) {
    absl::StatusOr<std::string> token = signer_->Sign(Claims(claims, absl::Now() + lifetime));
    EXPECT_THAT(token.status(), IsOk());
    return token.ok() ? *token : "";
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "",
                                               const std::string& purpose = "identity e2e") {
    auto context = std::make_unique<grpc::ClientContext>();
    client::AddBearerToken(*context, token);
    if (!purpose.empty()) context->AddMetadata("x-vigil-purpose", purpose);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  // Creates offender `id` in `team`, owned by `owner`, through `channel` as whoever `context`
  // says.
  grpc::Status CreateOffender(const std::shared_ptr<grpc::Channel>& channel,
                              grpc::ClientContext* context, const std::string& id,
                              const std::string& team, v1::Offender* created) {
    v1::CreateOffenderRequest request;
    request.mutable_offender()->set_id(id);
    request.mutable_offender()->set_display_name("Name " + id);
    request.mutable_offender()->set_team(team);
    request.mutable_offender()->set_owner_officer("DC 7");
    request.mutable_offender()->mutable_registered_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 400)));
    return v1::OffenderService::NewStub(channel)->CreateOffender(context, request, created);
  }

  // Every audit record of the force, read by its auditor: through a token, or with wessex's
  // auditor certificate when vigild runs --auth=mtls.
  std::vector<v1::AuditRecord> AuditOf(const std::string& force) {
    const bool certificates = auth_ == "mtls";
    const std::shared_ptr<grpc::Channel> channel =
        certificates ? Channel(pki_.As("auditor-a")) : TokenChannel();
    std::vector<v1::AuditRecord> records;
    v1::ListAuditRecordsRequest request;
    request.mutable_page()->set_page_size(1000);
    do {
      v1::ListAuditRecordsResponse page;
      auto context =
          Context(certificates ? "" : Token(Person("Auditor A", "auditor", force)), "DPA review");
      const grpc::Status s =
          v1::AuditService::NewStub(channel)->ListAuditRecords(context.get(), request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      records.insert(records.end(), page.records().begin(), page.records().end());
      request.mutable_page()->set_page_token(page.next_page_token());
    } while (!request.page().page_token().empty());
    return records;
  }

  TempDir dir_;
  Pki pki_{dir_.Sub("pki")};
  VigildProcess vigild_{dir_.path()};
  std::unique_ptr<crypto::JwtSigner> signer_;
  std::string public_key_pem_;
  std::string auth_;
};

TEST_F(IdentityTest, MutualTlsCliCallsOnANonLoopbackListen) {
  StartVigild("mtls");
  const std::vector<std::string> connect = {"--server",  vigild_.address(),
                                            "--tls-ca",  pki_.Path("ca.crt"),
                                            "--cert",    pki_.Path("client.ds-holt.crt"),
                                            "--key",     pki_.Path("client.ds-holt.key"),
                                            "--purpose", "identity e2e"};
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), connect.begin(), connect.end());
    return Cli(args);
  };
  RunResult created = cli({"offender", "create", "--id", "R1", "--name", "Reg One", "--registered",
                           "2020-01-01", "--owner", "DC 100", "--team", "north"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  RunResult got = cli({"offender", "get", "R1"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr("Reg One"));

  // The audit log names the certificate's actor, role, team and rank.
  bool found = false;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    if (r.rpc() == "vigil.v1.OffenderService/CreateOffender" && r.outcome().empty()) {
      found = r.actor() == "DS Holt" && r.role() == "supervisor" && r.team() == "north" &&
              r.rank() == "sergeant";
    }
  }
  EXPECT_TRUE(found);

  // Without a certificate the handshake fails; vigild carries on.
  RunResult anonymous =
      Cli({"--server", vigild_.address(), "--tls-ca", pki_.Path("ca.crt"), "health"});
  EXPECT_NE(anonymous.exit_code, 0);
  // A certificate from another CA is refused the same way.
  Pki other(dir_.Sub("other-pki"));
  other.Create();
  other.Client("DC 100", "officer", "wessex", "north");
  RunResult foreign =
      Cli({"--server", vigild_.address(), "--tls-ca", pki_.Path("ca.crt"), "--cert",
           other.Path("client.dc-100.crt"), "--key", other.Path("client.dc-100.key"), "--purpose",
           "x", "offender", "get", "R1"});
  EXPECT_NE(foreign.exit_code, 0);
  EXPECT_THAT(foreign.output, Not(HasSubstr("Reg One")));
  EXPECT_EQ(cli({"health"}).exit_code, 0);
}

TEST_F(IdentityTest, AHeaderClaimingAnotherForceIsIgnoredAndAudited) {
  StartVigild("mtls");
  const std::shared_ptr<grpc::Channel> channel = Channel(pki_.As("ds-holt"));
  auto context = Context();
  context->AddMetadata("x-vigil-force", "mercia");
  context->AddMetadata("x-vigil-role", "force-admin");
  v1::Offender created;
  const grpc::Status s = CreateOffender(channel, context.get(), "R1", "north", &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.force(), "wessex");

  std::vector<std::string> refusals;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    if (absl::StartsWith(r.outcome(), "refused claim")) refusals.push_back(r.outcome());
  }
  EXPECT_THAT(refusals, ::testing::UnorderedElementsAre(
                            HasSubstr("x-vigil-force 'mercia' disagrees with the credential"),
                            HasSubstr("x-vigil-role 'force-admin' disagrees")));
}

TEST_F(IdentityTest, EveryBadTokenIsRefusedNamingTheCheckAndCounted) {
  StartVigild("jwt");
  const std::shared_ptr<grpc::Channel> channel = TokenChannel();
  auto stub = v1::OffenderService::NewStub(channel);
  auto get = [&](const std::string& token) {
    auto context = Context(token);
    v1::GetOffenderRequest request;
    request.set_id("R1");
    v1::Offender offender;
    return stub->GetOffender(context.get(), request, &offender);
  };
  const auto officer = Person("DC 100", "officer", "wessex", "north");
  auto signed_with = [&](std::map<std::string, std::string> strings, absl::Time expiry,
                         std::map<std::string, double> numbers = {}) {
    google::protobuf::Struct claims = Claims(strings, expiry);
    for (const auto& [name, value] : numbers) {
      (*claims.mutable_fields())[name].set_number_value(value);
    }
    return *signer_->Sign(claims);
  };
  const std::string good = Token(officer);
  const std::string payload = absl::StrCat(
      R"({"iss":")", kIssuer, R"(","aud":"vigil","exp":)",
      absl::ToUnixSeconds(absl::Now() + absl::Minutes(10)),
      R"(,"preferred_username":"DC 100","vigil_role":"officer","vigil_force":"wessex"})");
  auto with_claim = [&](const std::string& name, const std::string& value) {
    auto claims = officer;
    claims[name] = value;
    return claims;
  };
  auto without = [&](const std::string& name) {
    auto claims = officer;
    claims.erase(name);
    return claims;
  };
  // HS256 with the public key's PEM as the HMAC secret: the classic algorithm confusion.
  std::string hs256;
  {
    const std::string signing_input = crypto::Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") +
                                      "." + crypto::Base64UrlEncode(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), public_key_pem_.data(), static_cast<int>(public_key_pem_.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
         &mac_size);
    hs256 = signing_input + "." +
            crypto::Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_size));
  }
  std::string tampered = good;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';

  const std::vector<std::pair<std::string, std::string>> cases = {
      {signed_with(officer, absl::Now() - absl::Minutes(10)), "expired at"},
      {signed_with(officer, absl::Now() + absl::Minutes(10),
                   {{"nbf", static_cast<double>(absl::ToUnixSeconds(absl::Now()) + 3600)}}),
       "not valid before"},
      {Token(with_claim("iss", "https://evil.test")), "issuer"},
      {Token(with_claim("aud", "another-api")), "audience"},
      {crypto::EncodeUnsignedJwt(R"({"alg":"none","typ":"JWT"})", payload), "'none'"},
      {hs256, "HS256"},
      {good.substr(0, good.size() / 2), "token:"},
      {*signer_->SignRaw(R"({"alg":"ES256","typ":"JWT","kid":"rotated-away"})", payload),
       "signing key 'rotated-away'"},
      {tampered, "signature"},
      {Token(without("vigil_force")), "vigil_force"},
      {Token(with_claim("vigil_role", "service")), "service certificate"},
  };
  for (const auto& [token, check] : cases) {
    const grpc::Status s = get(token);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << check;
    EXPECT_THAT(s.error_message(), HasSubstr(check));
    // The refusal never echoes the token back.
    EXPECT_THAT(s.error_message(), Not(HasSubstr(token.substr(0, 40))));
  }
  EXPECT_EQ(get("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(get(good).error_code(), grpc::StatusCode::NOT_FOUND);  // through the door

  // Operators see the refusals by reason.
  v1::GetMetricsResponse metrics;
  auto context = Context(good, "");
  ASSERT_TRUE(v1::AdminService::NewStub(channel)
                  ->GetMetrics(context.get(), v1::GetMetricsRequest(), &metrics)
                  .ok());
  std::map<std::string, int64_t> value;
  for (const v1::Metric& m : metrics.metrics()) value[m.name()] = m.value();
  EXPECT_GE(value["auth_token_refused_expired"], 1);
  EXPECT_GE(value["auth_token_refused_bad_signature"], 1);
  EXPECT_GE(value["auth_token_refused_alg_refused"], 2);
  EXPECT_GE(value["auth_token_refused_missing"], 1);

  // The national security log names the subject the refused tokens claimed (once a minute per
  // subject, with the count), under no force; a wessex auditor cannot read it.
  v1::ListAuditRecordsRequest national;
  national.set_national_security_log(true);
  v1::ListAuditRecordsResponse log;
  auto auditor = Context(Token(Person("NA 1", "national-auditor", "national")), "security review");
  const grpc::Status listed =
      v1::AuditService::NewStub(channel)->ListAuditRecords(auditor.get(), national, &log);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  int refused_tokens = 0;
  for (const v1::AuditRecord& r : log.records()) {
    if (r.refusal() != v1::AUDIT_REFUSAL_UNAUTHENTICATED) continue;
    ++refused_tokens;
    EXPECT_EQ(r.actor(), "DC 100");
    EXPECT_EQ(r.force(), "");
    EXPECT_THAT(r.outcome(), HasSubstr("attempt"));
  }
  EXPECT_EQ(refused_tokens, 1);
  auto wessex = Context(Token(Person("Auditor A", "auditor", "wessex")), "DPA review");
  EXPECT_EQ(v1::AuditService::NewStub(channel)
                ->ListAuditRecords(wessex.get(), national, &log)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // vigild survived every one of them.
  EXPECT_TRUE(vigild_.running());
}

TEST_F(IdentityTest, OneForcesPolicyNeverChangesAnothersAndIsAuditedUnderIt) {
  StartVigild("jwt");
  const std::shared_ptr<grpc::Channel> channel = TokenChannel();
  auto admin = v1::AdminService::NewStub(channel);
  v1::Policy eastshire;
  {
    auto context = Context(Token(Person("Admin East", "force-admin", "eastshire")), "");
    ASSERT_TRUE(admin->GetPolicy(context.get(), v1::GetPolicyRequest(), &eastshire).ok());
  }
  eastshire.mutable_visit_interval_days()->set_very_high(3650);
  v1::SetPolicyRequest set;
  *set.mutable_policy() = eastshire;
  set.set_request_id("lax-1");
  v1::Policy stored;
  {
    auto context = Context(Token(Person("Admin East", "force-admin", "eastshire")), "");
    const grpc::Status s = admin->SetPolicy(context.get(), set, &stored);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(stored.version(), "v2");
  v1::Policy wessex;
  {
    auto context = Context(Token(Person("Admin West", "force-admin", "wessex")), "");
    ASSERT_TRUE(admin->GetPolicy(context.get(), v1::GetPolicyRequest(), &wessex).ok());
  }
  EXPECT_EQ(wessex.version(), "v1");
  EXPECT_EQ(wessex.visit_interval_days().very_high(), 30);
  // wessex's new clocks run on its own policy.
  auto context = Context(Token(Person("DS Holt", "supervisor", "wessex", "north")));
  v1::Offender created;
  ASSERT_TRUE(CreateOffender(channel, context.get(), "W1", "north", &created).ok());
  ASSERT_GT(created.obligations_size(), 0);
  for (const v1::Obligation& o : created.obligations()) EXPECT_EQ(o.policy_version(), "v1");

  bool audited_east = false;
  for (const v1::AuditRecord& r : AuditOf("eastshire")) {
    audited_east = audited_east || (r.rpc() == "vigil.v1.AdminService/SetPolicy" &&
                                    r.actor() == "Admin East" && r.role() == "force-admin");
  }
  EXPECT_TRUE(audited_east);
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    EXPECT_NE(r.rpc(), "vigil.v1.AdminService/SetPolicy") << "wessex's auditor sees its own only";
  }
}

TEST_F(IdentityTest, AnOfficerReadsAnotherTeamsRecordOnlyWithAnAuditedReason) {
  StartVigild("jwt");
  const std::shared_ptr<grpc::Channel> channel = TokenChannel();
  {
    auto context = Context(Token(Person("DS Holt", "supervisor", "wessex", "south")));
    v1::Offender created;
    ASSERT_TRUE(CreateOffender(channel, context.get(), "S1", "south", &created).ok());
  }
  const std::string officer = Token(Person("DC 100", "officer", "wessex", "north"));
  auto stub = v1::OffenderService::NewStub(channel);
  v1::GetOffenderRequest get;
  get.set_id("S1");
  v1::Offender offender;
  auto refused_context = Context(officer);
  const grpc::Status refused = stub->GetOffender(refused_context.get(), get, &offender);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("team south's caseload"));

  auto cross = Context(officer);
  cross->AddMetadata("x-vigil-cross-team", "MAPPA meeting: S1 shares an address with N4");
  const grpc::Status allowed = stub->GetOffender(cross.get(), get, &offender);
  ASSERT_TRUE(allowed.ok()) << allowed.error_message();

  int refusals = 0, cross_team = 0;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    if (r.actor() != "DC 100") continue;
    if (absl::StrContains(r.outcome(), "caseload")) ++refusals;
    if (r.cross_team_reason() == "MAPPA meeting: S1 shares an address with N4") ++cross_team;
  }
  EXPECT_EQ(refusals, 1);
  EXPECT_EQ(cross_team, 1);
}

TEST_F(IdentityTest, TheReadLimitRefusesBulkExtractionAndAuditsIt) {
  StartVigild("jwt", {"--read-rate", "5", "--read-burst", "10"});
  const std::shared_ptr<grpc::Channel> channel = TokenChannel();
  const std::string supervisor = Token(Person("DS Holt", "supervisor", "wessex", "north"));
  for (int i = 0; i < 30; ++i) {
    auto context = Context(supervisor);
    v1::Offender created;
    ASSERT_TRUE(
        CreateOffender(channel, context.get(), absl::StrCat("B", i), "north", &created).ok());
  }
  auto stub = v1::OffenderService::NewStub(channel);
  v1::ListOffendersRequest list;
  list.mutable_page()->set_page_size(30);
  v1::ListOffendersResponse page;
  auto first = Context(supervisor);
  ASSERT_TRUE(stub->ListOffenders(first.get(), list, &page).ok());  // overdraws the burst
  EXPECT_EQ(page.offenders_size(), 30);
  auto second = Context(supervisor);
  const grpc::Status limited = stub->ListOffenders(second.get(), list, &page);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.error_message(), HasSubstr("faster than 5 records/s"));
  const auto& trailers = second->GetServerTrailingMetadata();
  auto pushback = trailers.find("grpc-retry-pushback-ms");
  ASSERT_NE(pushback, trailers.end());
  EXPECT_GT(std::stoi(std::string(pushback->second.data(), pushback->second.size())), 1000);

  int episodes = 0;
  for (const v1::AuditRecord& r : AuditOf("wessex")) {
    if (r.actor() == "DS Holt" && absl::StrContains(r.outcome(), "possible bulk extraction")) {
      ++episodes;
    }
  }
  EXPECT_EQ(episodes, 1);
}

TEST_F(IdentityTest, CertificatesAndKeysAreReloadedOnSighupWithoutDroppingAStream) {
  StartVigild("mtls");
  const std::shared_ptr<grpc::Channel> channel = Channel(pki_.As("ds-holt"));
  // A live alert stream over the first connection.
  grpc::ClientContext stream_context;
  stream_context.AddMetadata("x-vigil-purpose", "identity e2e");
  v1::SubscribeRequest subscribe;
  auto reader = v1::AlertService::NewStub(channel)->Subscribe(&stream_context, subscribe);
  reader->WaitForInitialMetadata();
  ASSERT_NE(stream_context.GetServerInitialMetadata().count("x-vigil-cursor"), 0u);

  // A new CA signs a new server certificate and client certificates; vigild is told of the new
  // files by SIGHUP (the old CA stays trusted for clients through a bundle).
  Pki next(dir_.Sub("next-pki"));
  next.Create();
  next.Client("DS Holt", "supervisor", "wessex", "north", "sergeant");
  ASSERT_THAT(ReadSmallFile(next.Path("server.crt")).status(), IsOk());
  const std::string bundle =
      *ReadSmallFile(pki_.Path("ca.crt")) + *ReadSmallFile(next.Path("ca.crt"));
  ASSERT_THAT(WritePrivateFile(pki_.Path("ca.crt"), bundle, {.overwrite = true}), IsOk());
  ASSERT_THAT(WritePrivateFile(pki_.Path("server.crt"), *ReadSmallFile(next.Path("server.crt")),
                               {.overwrite = true}),
              IsOk());
  ASSERT_THAT(WritePrivateFile(pki_.Path("server.key"), *ReadSmallFile(next.Path("server.key")),
                               {.overwrite = true}),
              IsOk());
  const client::TransportOptions fresh{next.Path("ca.crt"), next.Path("client.ds-holt.crt"),
                                       next.Path("client.ds-holt.key"), ""};
  auto reaches = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection, a new handshake
    absl::StatusOr<std::shared_ptr<grpc::Channel>> c =
        client::Connect(vigild_.address(), fresh, args);
    EXPECT_THAT(c.status(), IsOk());
    auto context = Context("", "");
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::Policy policy;
    return c.ok() && v1::AdminService::NewStub(*c)
                         ->GetPolicy(context.get(), v1::GetPolicyRequest(), &policy)
                         .ok();
  };
  // The files changed on disk, but until SIGHUP vigild serves the old certificate.
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_FALSE(reaches());
  ::kill(vigild_.pid(), SIGHUP);

  // Within a few seconds a client trusting only the new CA gets through.
  bool through = false;
  for (int i = 0; i < 100 && !through; ++i) {
    through = reaches();
    if (!through) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(through);

  // A bad file on the next SIGHUP is refused and the server keeps serving.
  std::ofstream(pki_.Path("server.key"), std::ios::trunc) << "not a key";
  ::kill(vigild_.pid(), SIGHUP);
  absl::SleepFor(absl::Seconds(2));
  EXPECT_THAT(vigild_.log(), HasSubstr("TLS files not reloaded, the old ones stay in use"));

  // The stream opened before both reloads is still up.
  stream_context.TryCancel();
  v1::AlertEvent event;
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

class IdentityStartupTest : public ::testing::Test {
 protected:
  RunResult Vigild(std::vector<std::string> args) {
    args.insert(args.begin(), testing::VigildPath());
    absl::StatusOr<RunResult> result = testing::Run(args, absl::Seconds(60));
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : RunResult{};
  }
  TempDir dir_;
};

TEST_F(IdentityStartupTest, ADataDirectoryOthersMayEnterIsRefusedWithTheChmod) {
  const std::string data = dir_.Sub("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
  RunResult r = Vigild({"--data-dir", data, "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("run chmod 700 " + data));
}

TEST_F(IdentityStartupTest, ANewDataDirectoryIsCreatedPrivate) {
  VigildProcess vigild(dir_.path());
  ASSERT_THAT(vigild.Start(), IsOk());
  struct stat st;
  ASSERT_EQ(::stat(vigild.data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((vigild.data_dir() + "/CURRENT").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(IdentityStartupTest, PlaintextOrTheDevAuthenticatorBeyondLoopbackIsRefused) {
  RunResult dev = Vigild({"--data-dir", dir_.Sub("a"), "--listen", "0.0.0.0:0"});
  EXPECT_EQ(dev.exit_code, 2);
  EXPECT_THAT(dev.output, HasSubstr("beyond loopback vigild needs TLS"));
  RunResult mtls_without_ca = Vigild({"--data-dir", dir_.Sub("b"), "--auth", "mtls"});
  EXPECT_EQ(mtls_without_ca.exit_code, 2);
  EXPECT_THAT(mtls_without_ca.output, HasSubstr("--tls-client-ca"));
  RunResult jwt_without_jwks = Vigild({"--data-dir", dir_.Sub("c"), "--auth", "jwt"});
  EXPECT_EQ(jwt_without_jwks.exit_code, 2);
  EXPECT_THAT(jwt_without_jwks.output, HasSubstr("--jwks"));
}

}  // namespace
}  // namespace vigil
