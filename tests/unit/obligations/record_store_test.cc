// WithoutField and OnlyFields: a record's bytes without one top-level field (or with only some), as
// a listing that wants only a subject's name reads an offender without parsing its clocks.
#include "services/obligations/record_store.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "vigil/v1/rso.pb.h"

namespace vigil {
namespace {

v1::Offender Example() {
  v1::Offender o;
  o.set_id("R00001");
  o.set_force("wessex");
  o.set_display_name("Alex Smith");
  o.set_team("north");
  for (const char* id : {"R00001/arms", "R00001/visit"}) {
    v1::Obligation* clock = o.add_obligations();
    clock->set_id(id);
    clock->set_subject_id("R00001");
    clock->set_reason("a clock's reason, longer than the name");
  }
  o.set_change_pending_note("fields after the clocks survive too");
  return o;
}

TEST(WithoutFieldTest, DropsEveryOccurrenceOfTheFieldAndKeepsTheRest) {
  const v1::Offender offender = Example();
  const std::optional<std::string> kept = WithoutField(offender.SerializeAsString(), 13);
  ASSERT_TRUE(kept.has_value());
  v1::Offender parsed;
  ASSERT_TRUE(parsed.ParseFromString(*kept));
  v1::Offender expected = offender;
  expected.clear_obligations();
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(parsed.display_name(), "Alex Smith");
  EXPECT_EQ(parsed.obligations_size(), 0);
}

TEST(WithoutFieldTest, ARecordWithoutTheFieldComesBackByteForByte) {
  v1::Offender offender = Example();
  offender.clear_obligations();
  const std::string raw = offender.SerializeAsString();
  EXPECT_EQ(WithoutField(raw, 13), raw);
  EXPECT_EQ(WithoutField("", 13), "");
}

TEST(WithoutFieldTest, MalformedBytesAreRefused) {
  const std::string raw = Example().SerializeAsString();
  EXPECT_EQ(WithoutField(raw.substr(0, raw.size() - 3), 13), std::nullopt) << "truncated";
  EXPECT_EQ(WithoutField(std::string("\x00\x01", 2), 13), std::nullopt) << "a zero tag";
  EXPECT_EQ(WithoutField(std::string("\x01", 1) + std::string(8, 'x'), 13), std::nullopt)
      << "field number 0 (fixed64)";
  EXPECT_EQ(WithoutField("\x0f", 13), std::nullopt) << "wire type 7";
  EXPECT_EQ(WithoutField("\x08\xff\xff", 13), std::nullopt) << "truncated varint";
}

TEST(OnlyFieldsTest, KeepsTheNamedFieldsAlone) {
  const v1::Offender offender = Example();
  const int fields[] = {1, 13};  // id, obligations
  const std::optional<std::string> kept = OnlyFields(offender.SerializeAsString(), fields);
  ASSERT_TRUE(kept.has_value());
  v1::Offender parsed;
  ASSERT_TRUE(parsed.ParseFromString(*kept));
  EXPECT_EQ(parsed.id(), "R00001");
  EXPECT_EQ(parsed.obligations_size(), 2);
  EXPECT_EQ(parsed.display_name(), "");
  EXPECT_EQ(parsed.change_pending_note(), "");
  EXPECT_EQ(OnlyFields("", fields), "");
  const std::string raw = offender.SerializeAsString();
  EXPECT_EQ(OnlyFields(raw.substr(0, raw.size() - 3), fields), std::nullopt) << "truncated";
}

}  // namespace
}  // namespace vigil
