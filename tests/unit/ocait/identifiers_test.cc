#include "services/ocait/identifiers.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::ocait {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::StatusIs;

std::string Norm(v1::IdentifierType type, absl::string_view value) {
  absl::StatusOr<std::string> n = NormalizeIdentifier(type, value, "id");
  EXPECT_TRUE(n.ok()) << value << ": " << n.status();
  return n.ok() ? *n : "";
}

TEST(Identifiers, SpellingsOfOneEmailMatch) {
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_EMAIL, " Alice@Example.ORG "), "alice@example.org");
  EXPECT_THAT(NormalizeIdentifier(v1::IDENTIFIER_TYPE_EMAIL, "alice.example.org", "identifiers[0]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identifiers[0]")));
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_EMAIL, "a@b@c.org", "f").ok());
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_EMAIL, "a@localhost", "f").ok());
}

TEST(Identifiers, UkPhoneNumbersMatchInNationalForm) {
  for (const char* spelling : {"07700 900123", "+44 7700 900123", "+44 (0)7700 900123",
                               "0044-7700-900123", "(07700) 900.123"}) {
    EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_PHONE, spelling), "07700900123") << spelling;
  }
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_PHONE, "+33 1 23 45 67 89"), "+33123456789");
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_PHONE, "12345", "f").ok());
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_PHONE, "call me", "f").ok());
}

TEST(Identifiers, AccountsKeepTheirPlatform) {
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_ACCOUNT, "Snapchat: @Kid_99"), "snapchat:kid_99");
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_ACCOUNT, "@Kid_99"), "kid_99");
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_ACCOUNT, "snapchat:", "f").ok());
}

TEST(Identifiers, DevicesLoseSeparatorsAndImeisAreChecked) {
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_DEVICE, "35-209900-176148-1"), "352099001761481");
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_DEVICE, "aa:bb:cc:dd:ee:ff"), "AABBCCDDEEFF");
  EXPECT_THAT(NormalizeIdentifier(v1::IDENTIFIER_TYPE_DEVICE, "352099001761482", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IMEI check digit")));
  EXPECT_TRUE(ValidImei("490154203237518"));
  EXPECT_FALSE(ValidImei("490154203237517"));
}

TEST(Identifiers, IpAddressesTakeTheirCanonicalForm) {
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_IP_ADDRESS, "2001:0DB8:0000::0001"), "2001:db8::1");
  EXPECT_EQ(Norm(v1::IDENTIFIER_TYPE_IP_ADDRESS, "192.0.2.7"), "192.0.2.7");
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_IP_ADDRESS, "192.0.2.300", "f").ok());
}

TEST(Identifiers, UnspecifiedTypeAndControlCharactersAreRefused) {
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_UNSPECIFIED, "x", "f").ok());
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_ACCOUNT, std::string("a\0b", 3), "f").ok());
  EXPECT_FALSE(NormalizeIdentifier(v1::IDENTIFIER_TYPE_ACCOUNT, "   ", "f").ok());
}

}  // namespace
}  // namespace vigil::ocait
