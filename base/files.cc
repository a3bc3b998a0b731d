#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace vigil {
namespace {

std::string ErrnoText(int error) { return strerror(error); }

// Unavailable for errors that may pass (disk full, I/O), FailedPrecondition for the rest
// (permissions, not a directory), which need an operator.
absl::Status FileError(absl::string_view what, const std::string& path, int error) {
  const std::string message = absl::StrCat(path, ": ", what, ": ", ErrnoText(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == ENOSPC || error == EIO || error == EDQUOT || error == EINTR) {
    return absl::UnavailableError(message);
  }
  return absl::FailedPreconditionError(message);
}

absl::Status AlreadyExists(const std::string& path) {
  return absl::AlreadyExistsError(
      absl::StrCat(path, " already exists; give --overwrite to replace it"));
}

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// `path` as a POSIX shell word, so that the chmod in a message can be pasted as it is.
std::string ShellWord(const std::string& path) {
  bool plain = !path.empty();
  for (char c : path) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        absl::string_view("_./-+,:@%=").find(c) == absl::string_view::npos) {
      plain = false;
    }
  }
  if (plain) return path;
  return absl::StrCat("'", absl::StrReplaceAll(path, {{"'", "'\\''"}}), "'");
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FileError("cannot open the directory", dir, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return FileError("cannot sync the directory", dir, error);
  return absl::OkStatus();
}

}  // namespace

absl::Status CreatePrivateDirectory(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("directory: empty path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, ": not a directory"));
    }
    return absl::OkStatus();
  }
  if (errno != ENOENT) return FileError("cannot inspect", path, errno);
  const std::string parent = Parent(path);
  if (parent != path) {
    if (absl::Status s = CreatePrivateDirectory(parent); !s.ok()) return s;
  }
  if (::mkdir(path.c_str(), 0700) != 0) {
    // Created meanwhile by someone else: theirs, left as it is.
    if (errno == EEXIST) return absl::OkStatus();
    return FileError("cannot create the directory", path, errno);
  }
  // mkdir applies the umask, which can only remove bits; make the mode exactly 0700.
  if (::chmod(path.c_str(), 0700) != 0) return FileError("cannot chmod 700", path, errno);
  return absl::OkStatus();
}

absl::Status CheckNoneExist(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) return AlreadyExists(path);
  }
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, absl::string_view contents,
                              const PrivateFileOptions& options) {
  const std::string dir = Parent(path);
  if (absl::Status s = CreatePrivateDirectory(dir); !s.ok()) return s;
  struct stat st;
  if (!options.overwrite && ::lstat(path.c_str(), &st) == 0) {
    return AlreadyExists(path);
  }
  std::string temp = absl::StrCat(path, ".tmp.XXXXXX");
  // mkstemp creates the file with mode 0600 whatever the umask.
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return FileError("cannot create a temporary file", temp, errno);
  auto fail = [&](absl::string_view what, const std::string& name, int error) {
    ::unlink(temp.c_str());
    return FileError(what, name, error);
  };
  if (::fchmod(fd, 0600) != 0) {
    const int error = errno;
    ::close(fd);
    return fail("cannot chmod 600", temp, error);
  }
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return fail("cannot write", temp, error);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return fail("cannot sync", temp, error);
  }
  if (::close(fd) != 0) return fail("cannot close", temp, errno);
  if (options.overwrite) {
    if (::rename(temp.c_str(), path.c_str()) != 0) return fail("cannot rename into", path, errno);
  } else {
    // link(2) refuses an existing target, closing the window since the lstat above.
    if (::link(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      if (error == EEXIST) return AlreadyExists(path);
      return FileError("cannot create", path, error);
    }
    ::unlink(temp.c_str());
  }
  return SyncDirectory(dir);
}

absl::Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return FileError("cannot read", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  // A key root owns and lets this (non-root) process's group read, as Kubernetes mounts a
  // Secret with an fsGroup: the rule PostgreSQL applies to its server key.
  const bool root_shares_with_group = st.st_uid == 0 && ::geteuid() != 0;
  const mode_t shared = st.st_mode & (root_shares_with_group ? 037 : 077);
  if (shared != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s may be read or changed by group or others (mode %04o): run chmod 600 %s", path,
        st.st_mode & 07777, ShellWord(path)));
  }
  return absl::OkStatus();
}

absl::Status CheckPrivateDirectory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return FileError("cannot inspect", path, errno);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a directory"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s holds personal data but group or others may enter it (mode %04o): run chmod 700 %s",
        path, st.st_mode & 07777, ShellWord(path)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileNamedBy(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> contents = ReadSmallFile(path);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", contents.status().message()));
  }
  return contents;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError("cannot read", path, errno);
  std::string contents;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return FileError("cannot read", path, error);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return contents;
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace vigil
