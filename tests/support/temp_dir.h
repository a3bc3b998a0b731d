// A fresh directory for one test, named after it, removed when the test passes. A failing
// test's directory is kept (and its path printed) so that logs and data can be inspected.
#ifndef VIGIL_TESTS_SUPPORT_TEMP_DIR_H_
#define VIGIL_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace vigil::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole content of the file at `path`; empty when it cannot be read.
std::string ReadFile(const std::string& path);

// Damages the largest file under `dir` (searched recursively) whose name ends in `suffix`
// (empty: any file): the byte in its middle is inverted, so the file is certainly changed.
// Returns the file's name (not its path); empty when there is no such file.
std::string FlipByteInLargestFile(const std::string& dir, const std::string& suffix = "");

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SUPPORT_TEMP_DIR_H_
