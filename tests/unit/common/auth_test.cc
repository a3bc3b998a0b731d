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
  EXPECT_EQ(*p, (Principal{"DC 4512", Role::kSupervisor, "wessex"}));
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
       {Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kAuditor, Role::kSystem}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
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
