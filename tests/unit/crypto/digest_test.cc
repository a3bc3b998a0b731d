// Sha256: the standard's answers, parts hashed as their concatenation, and one context per
// thread that never leaks one digest into the next.
#include "base/crypto/digest.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace vigil::crypto {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

TEST(Sha256, GivesTheStandardsAnswers) {
  // FIPS 180-2, appendix B.1 and the empty message.
  EXPECT_EQ(Hex(Sha256({"abc"})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256({"abc"}).size(), kSha256Bytes);
}

TEST(Sha256, HashesItsPartsAsOneMessage) {
  EXPECT_EQ(Sha256({"a", "", "bc"}), Sha256({"abc"}));
  EXPECT_NE(Sha256({"abc"}), Sha256({"abd"}));
  // A digest started and left behind by nothing: each call begins afresh.
  EXPECT_EQ(Sha256({"abc"}), Sha256({"abc"}));
}

TEST(Sha256, IsRightOnEveryThread) {
  const std::string expected = Sha256({"vigil"});
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<int> wrong(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (Sha256({"vi", "gil"}) != expected) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace vigil::crypto
