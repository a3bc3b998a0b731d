// Secret files: 0600 in a 0700 directory whatever the umask, never overwritten by accident,
// and refused with the chmod to run when group or others can read them.
#include "base/files.h"

#include <sys/stat.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::ReadFile;
using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Sets the umask for the scope of the test: the modes must not depend on it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(WritePrivateFile, Writes0600InDirectoriesCreated0700WhateverTheUmask) {
  TempDir dir;
  ScopedUmask umask(0);
  const std::string path = dir.Sub("certs/nested/ca.key");
  ASSERT_THAT(WritePrivateFile(path, "secret\n"), IsOk());
  EXPECT_EQ(ReadFile(path), "secret\n");
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(dir.Sub("certs")), 0700u);
  EXPECT_EQ(ModeOf(dir.Sub("certs/nested")), 0700u);
}

TEST(WritePrivateFile, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  const std::string path = dir.Sub("server.key");
  ASSERT_THAT(WritePrivateFile(path, "first"), IsOk());
  EXPECT_THAT(WritePrivateFile(path, "second"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       path + " already exists; give --overwrite to replace it"));
  EXPECT_EQ(ReadFile(path), "first");
  ASSERT_THAT(WritePrivateFile(path, "third", {.overwrite = true}), IsOk());
  EXPECT_EQ(ReadFile(path), "third");
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST(WritePrivateFile, OverwriteMakesAnOpenFilePrivate) {
  TempDir dir;
  const std::string path = dir.Sub("client.key");
  ASSERT_THAT(WritePrivateFile(path, "old"), IsOk());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_THAT(WritePrivateFile(path, "new", {.overwrite = true}), IsOk());
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST(WritePrivateFile, LeavesNoTemporaryFilesBehind) {
  TempDir dir;
  ASSERT_THAT(WritePrivateFile(dir.Sub("d/a"), "a"), IsOk());
  ASSERT_THAT(WritePrivateFile(dir.Sub("d/a"), "b", {.overwrite = true}), IsOk());
  EXPECT_THAT(WritePrivateFile(dir.Sub("d/a"), "c"), StatusIs(absl::StatusCode::kAlreadyExists));
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("d"))) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("a"));
}

TEST(WritePrivateFile, ReportsADirectoryItCannotCreate) {
  TempDir dir;
  ASSERT_THAT(WritePrivateFile(dir.Sub("file"), "x"), IsOk());
  EXPECT_THAT(WritePrivateFile(dir.Sub("file/key"), "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
}

TEST(CreatePrivateDirectory, LeavesAnExistingDirectoryAsItIs) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  EXPECT_THAT(CreatePrivateDirectory(dir.path()), IsOk());
  EXPECT_EQ(ModeOf(dir.path()), 0755u);
}

TEST(CheckPrivateFile, AcceptsAFileOnlyItsOwnerCanRead) {
  TempDir dir;
  ASSERT_THAT(WritePrivateFile(dir.Sub("key"), "x"), IsOk());
  EXPECT_THAT(CheckPrivateFile(dir.Sub("key")), IsOk());
  ASSERT_EQ(::chmod(dir.Sub("key").c_str(), 0400), 0);
  EXPECT_THAT(CheckPrivateFile(dir.Sub("key")), IsOk());
}

TEST(CheckPrivateFile, RefusesAFileOthersCanReadWithTheChmodToRun) {
  TempDir dir;
  const std::string path = dir.Sub("server.key");
  ASSERT_THAT(WritePrivateFile(path, "x"), IsOk());
  for (mode_t mode : {0644, 0640, 0604, 0620, 0601}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", mode);
    EXPECT_THAT(CheckPrivateFile(path),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         path + " may be read or changed by group or others (mode " + octal +
                             "): run chmod 600 " + path));
  }
}

TEST(CheckPrivateFile, QuotesAPathTheShellWouldSplit) {
  TempDir dir;
  const std::string path = dir.Sub("my key's file");
  ASSERT_THAT(WritePrivateFile(path, "x"), IsOk());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_THAT(CheckPrivateFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("run chmod 600 '" + dir.path() + "/my key'\\''s file'")));
}

TEST(CheckPrivateFile, RefusesMissingFilesAndDirectories) {
  TempDir dir;
  EXPECT_THAT(CheckPrivateFile(dir.Sub("absent")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir.Sub("absent"))));
  EXPECT_THAT(CheckPrivateFile(dir.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
}

TEST(CheckPrivateDirectory, RefusesADataDirectoryOthersMayEnterWithTheChmodToRun) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_THAT(CreatePrivateDirectory(data), IsOk());
  EXPECT_THAT(CheckPrivateDirectory(data), IsOk());
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
  EXPECT_THAT(CheckPrivateDirectory(data),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       data +
                           " holds personal data but group or others may enter it (mode 0755): "
                           "run chmod 700 " +
                           data));
  EXPECT_THAT(CheckPrivateDirectory(dir.Sub("absent")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ReadFileNamedBy, ErrorsStartWithTheFlag) {
  TempDir dir;
  EXPECT_THAT(ReadFileNamedBy("--tls-ca", dir.Sub("ca.crt")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--tls-ca: " + dir.Sub("ca.crt") + ": cannot read")));
}

TEST(ReadSmallFile, ReadsAndRefusesWhatIsTooLarge) {
  TempDir dir;
  ASSERT_THAT(WritePrivateFile(dir.Sub("f"), "0123456789"), IsOk());
  EXPECT_EQ(ReadSmallFile(dir.Sub("f")).value_or(""), "0123456789");
  EXPECT_THAT(ReadSmallFile(dir.Sub("f"), 9),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("larger than 9 bytes")));
  EXPECT_THAT(ReadSmallFile(dir.Sub("none")), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vigil
