#include "services/web/static_files.h"

#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::web {

std::optional<std::string> StaticPathOf(absl::string_view request_path) {
  if (!absl::ConsumePrefix(&request_path, "/")) return std::nullopt;
  std::string path(request_path);
  if (path.empty() || path.back() == '/') path += "index.html";
  for (char c : path) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != '/') {
      return std::nullopt;
    }
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment.front() == '.') return std::nullopt;
  }
  return path;
}

std::string ContentTypeOf(absl::string_view path) {
  struct Type {
    absl::string_view extension;
    absl::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Type& t : kTypes) {
    if (absl::EndsWith(path, t.extension)) return std::string(t.type);
  }
  return "application/octet-stream";
}

bool AcceptsEncoding(absl::string_view accept_encoding, absl::string_view coding) {
  // The coding's own entry decides; without one, "*" does.
  std::optional<bool> named, any;
  for (absl::string_view item : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    const absl::string_view name = absl::StripAsciiWhitespace(parts[0]);
    const bool is_named = absl::EqualsIgnoreCase(name, coding);
    if (!is_named && name != "*") continue;
    bool accepted = true;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      double q = 1;
      if (absl::ConsumePrefix(&param, "q=") && absl::SimpleAtod(param, &q) && q <= 0) {
        accepted = false;
      }
    }
    (is_named ? named : any) = accepted;
  }
  return named.value_or(any.value_or(false));
}

bool IsHashedAsset(absl::string_view relative_path) {
  return absl::StartsWith(relative_path, "assets/");
}

}  // namespace vigil::web
