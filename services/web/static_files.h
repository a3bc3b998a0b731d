// The web application's files (services/web/app/dist) as vigil-web sends them. The build names
// the scripts and styles by their content (assets/app-HASH.js) and puts a brotli and a gzip copy
// beside each, so that:
//   - assets/ are cached by the browser for a year without asking again (a new build is a new
//     name, which index.html gives), and sent compressed without compressing anything per
//     request;
//   - everything else (index.html, the icon) is checked with the server on each load.
#ifndef VIGIL_SERVICES_WEB_STATIC_FILES_H_
#define VIGIL_SERVICES_WEB_STATIC_FILES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil::web {

// The file of the static directory a request path names, relative to it ("index.html" for "/"
// and for a path ending in "/"), or nullopt for a path that could leave the directory or name a
// hidden file: anything but letters, digits, '-', '_', '.' and '/', an empty segment, or a
// segment starting with '.'.
std::optional<std::string> StaticPathOf(absl::string_view request_path);

// The Content-Type of a file, by its extension (application/octet-stream when unknown).
std::string ContentTypeOf(absl::string_view path);

// Whether an Accept-Encoding header value accepts `coding` (e.g. "br", "gzip"): named, or "*",
// with a q-value other than 0.
bool AcceptsEncoding(absl::string_view accept_encoding, absl::string_view coding);

// A file named by its content (under assets/): cacheable for a year, immutable.
bool IsHashedAsset(absl::string_view relative_path);

// Cache-Control for a file of the static directory.
inline constexpr char kImmutableCache[] = "public, max-age=31536000, immutable";
inline constexpr char kRevalidateCache[] = "no-cache";

}  // namespace vigil::web

#endif  // VIGIL_SERVICES_WEB_STATIC_FILES_H_
