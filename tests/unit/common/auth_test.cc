#include "services/common/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

TEST(DevIdentity, CompleteHeadersGiveAPrincipal) {
  absl::StatusOr<Principal> p = ParseDevIdentity("DC 4512", "supervisor", "wessex");
  ASSERT_THAT(p.status(), IsOk());
  EXPECT_EQ(*p, (Principal{"DC 4512", Role::kSupervisor, "wessex", "", Rank::kSergeant}));
}

TEST(DevIdentity, EachMissingHeaderIsNamed) {
  EXPECT_THAT(ParseDevIdentity(std::nullopt, "officer", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-vigil-actor")));
  EXPECT_THAT(ParseDevIdentity("DC 1", std::nullopt, "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-vigil-role")));
  EXPECT_THAT(ParseDevIdentity("DC 1", "officer", std::nullopt),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-vigil-force")));
}

TEST(DevIdentity, MalformedValuesAreUnauthenticatedNotCrashes) {
  EXPECT_THAT(ParseDevIdentity("DC 1", "chief", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("'chief' is not a role")));
  EXPECT_THAT(ParseDevIdentity("", "officer", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ParseDevIdentity(std::string(129, 'a'), "officer", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ParseDevIdentity("DC\n1", "officer", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ParseDevIdentity("DC 1", "officer", "Wessex Police"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-vigil-force")));
  EXPECT_THAT(ParseDevIdentity("DC 1", "Officer", "wessex"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(Roles, NamesRoundTrip) {
  for (Role role :
       {Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kAuditor, Role::kSystem,
        Role::kService, Role::kNationalAuditor, Role::kHmicfrsInspector}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kHmicfrsInspector), "hmicfrs-inspector");
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
}

TEST(Roles, TheLastRoleFitsTheSet) {
  constexpr RoleSet national{Role::kNationalAuditor, Role::kHmicfrsInspector};
  EXPECT_TRUE(national.contains(Role::kHmicfrsInspector));
  EXPECT_FALSE(national.contains(Role::kSupervisor));
  EXPECT_EQ(national.ToString(), "national-auditor, hmicfrs-inspector");
  EXPECT_TRUE(RoleSet::All().contains(Role::kHmicfrsInspector));
}

TEST(Roles, RoleSetDeniesByDefault) {
  constexpr RoleSet nobody;
  EXPECT_TRUE(nobody.empty());
  EXPECT_FALSE(nobody.contains(Role::kSystem));
  constexpr RoleSet readers{Role::kAuditor, Role::kForceAdmin};
  EXPECT_TRUE(readers.contains(Role::kAuditor));
  EXPECT_FALSE(readers.contains(Role::kOfficer));
  EXPECT_EQ(readers.ToString(), "force-admin, auditor");
  EXPECT_EQ(nobody.ToString(), "nobody");
}

TEST(Ranks, NamesRoundTripAndOrderAsTheChainOfCommand) {
  for (Rank rank : {Rank::kOfficer, Rank::kSergeant, Rank::kInspector, Rank::kSuperintendent}) {
    EXPECT_EQ(ParseRank(RankName(rank)), rank);
  }
  EXPECT_EQ(ParseRank("chief constable"), std::nullopt);
  EXPECT_LT(Rank::kOfficer, Rank::kSergeant);
  EXPECT_LT(Rank::kSergeant, Rank::kInspector);
  EXPECT_LT(Rank::kInspector, Rank::kSuperintendent);
}

TEST(Ranks, ACredentialWithoutARankHasTheLowestItsRoleAllows) {
  VIGIL_ASSERT_OK_AND_ASSIGN(Principal officer, ParseDevIdentity("DC 1", "officer", "wessex"));
  EXPECT_EQ(officer.rank, Rank::kOfficer);
  VIGIL_ASSERT_OK_AND_ASSIGN(Principal supervisor,
                             ParseDevIdentity("PS 2", "supervisor", "wessex"));
  EXPECT_EQ(supervisor.rank, Rank::kSergeant);
  VIGIL_ASSERT_OK_AND_ASSIGN(Principal inspector, ParseDevIdentity("DI 3", "supervisor", "wessex",
                                                                   "MOSOVO North", "inspector"));
  EXPECT_EQ(inspector.rank, Rank::kInspector);
  EXPECT_EQ(inspector.team, "MOSOVO North");
}

TEST(Claims, EachBadPartIsNamedByItsSource) {
  ClaimSources token;
  token.actor = "token claim preferred_username";
  token.role = "token claim vigil_role";
  token.force = "token claim vigil_force";
  token.rank = "token claim vigil_rank";
  IdentityClaims claims{"DC 1", "officer", "wessex", std::nullopt, std::nullopt};
  VIGIL_EXPECT_OK(PrincipalFromClaims(claims, token, false).status());
  IdentityClaims no_force = claims;
  no_force.force.reset();
  EXPECT_THAT(PrincipalFromClaims(no_force, token, false),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("token claim vigil_force")));
  IdentityClaims bad_rank = claims;
  bad_rank.rank = "general";
  EXPECT_THAT(PrincipalFromClaims(bad_rank, token, false),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("token claim vigil_rank: 'general' is not a rank")));
}

TEST(Claims, TheServiceRoleIsNeverGrantedWhereNotAllowed) {
  IdentityClaims service{"vigild", "service", "wessex", std::nullopt, std::nullopt};
  EXPECT_THAT(PrincipalFromClaims(service, ClaimSources(), /*allow_service=*/false),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("service certificate")));
  VIGIL_EXPECT_OK(PrincipalFromClaims(service, ClaimSources(), /*allow_service=*/true).status());
}

TEST(Loopback, RecognisesLocalAddressesOnly) {
  for (const char* address : {"127.0.0.1:7420", "127.1.2.3:0", "[::1]:7420", "localhost:7420",
                              "unix:/run/vigil.sock", "ipv4:127.0.0.1:1"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"0.0.0.0:7420", "[::]:7420", "10.0.0.5:7420", "vigil.example:7420",
                              "192.168.1.1:0", "[::1", "", ":7420"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

}  // namespace
}  // namespace vigil
