// Secret files at rest: keys and the material beside them are written 0600 in a directory
// created 0700, atomically, never over an existing file unless asked; and a key file readable by
// group or others is refused with the chmod that fixes it (docs/security.md, "Files at rest").
#ifndef VIGIL_BASE_FILES_H_
#define VIGIL_BASE_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

struct PrivateFileOptions {
  // Replace an existing file. Default: false, and an existing file is AlreadyExists.
  bool overwrite = false;
};

// Writes `contents` to `path` with mode 0600: into a temporary file in the same directory,
// flushed to disk, then moved into place, so that `path` holds either its old content or all of
// the new, even after a crash. Without `overwrite` the move is link(2), which fails if `path`
// appeared meanwhile. Missing directories on the way are created with mode 0700; existing ones
// are left as they are.
// AlreadyExists: `path` exists and !overwrite (the message names --overwrite).
// FailedPrecondition / Unavailable: the directory cannot be created or written (with errno text).
absl::Status WritePrivateFile(const std::string& path, absl::string_view contents,
                              const PrivateFileOptions& options = {});

// OK when none of `paths` exists; otherwise AlreadyExists for the first that does, as
// WritePrivateFile says it. For commands that write several files and must refuse before
// writing any.
absl::Status CheckNoneExist(const std::vector<std::string>& paths);

// Creates `path` (and missing parents) with mode 0700 if it does not exist. OK if it exists as
// a directory, whatever its mode. FailedPrecondition when it is not a directory or cannot be
// created.
absl::Status CreatePrivateDirectory(const std::string& path);

// OK when `path` is a regular file (symbolic links are followed) that neither group nor
// others may read, write or execute; as PostgreSQL allows for its key, a file owned by root may
// also be read by its group when this process is not root (0640: a Kubernetes Secret mounted
// with an fsGroup). Otherwise
// FailedPrecondition with the fix:
//   "/etc/vigil/server.key may be read or changed by group or others (mode 0644): run
//    chmod 600 /etc/vigil/server.key"
// The path in the command is shell-quoted when it needs to be.
// NotFound when it does not exist.
absl::Status CheckPrivateFile(const std::string& path);

// OK when `path` is a directory that grants nothing to group or others. FailedPrecondition
// otherwise, with the chmod 700 that fixes it; NotFound when it does not exist.
absl::Status CheckPrivateDirectory(const std::string& path);

// The whole content of `path`. NotFound / FailedPrecondition with the path and errno text.
// Refuses files over `max_bytes` (Default: 1 MiB) with InvalidArgument.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

// ReadSmallFile of a file a flag names: every error is InvalidArgument and starts with the
// flag ("--tls-ca: /etc/vigil/ca.crt: cannot read: No such file or directory").
absl::StatusOr<std::string> ReadFileNamedBy(absl::string_view flag, const std::string& path);

// Writes the port a server bound to `path` ("7420\n"), atomically (a temporary file renamed into
// place), for the scripts and tests that wait for it. False when it cannot be written.
bool WritePortFile(const std::string& path, int port);

}  // namespace vigil

#endif  // VIGIL_BASE_FILES_H_
