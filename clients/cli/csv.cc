#include "clients/cli/csv.h"

#include <sstream>

#include "absl/strings/str_cat.h"

namespace vigil::cli {
namespace {

constexpr size_t kMaxRecordBytes = 1 << 20;

}  // namespace

absl::StatusOr<std::optional<CsvRecord>> CsvReader::Next() {
  CsvRecord record;
  record.line = line_;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // the current field was quoted (only a separator may follow)
  bool any = false;         // read anything for this record
  size_t bytes = 0;
  for (;;) {
    const int next = in_.get();
    if (next == std::char_traits<char>::eof()) {
      if (quoted) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", record.line, ": a quoted field is not closed"));
      }
      if (!any) return std::optional<CsvRecord>();
      record.fields.push_back(std::move(field));
      return std::optional<CsvRecord>(std::move(record));
    }
    const char c = static_cast<char>(next);
    any = true;
    if (++bytes > kMaxRecordBytes) {
      return absl::InvalidArgumentError(absl::StrCat("line ", record.line, ": record over 1 MiB"));
    }
    if (quoted) {
      if (c == '"') {
        if (in_.peek() == '"') {
          in_.get();
          field.push_back('"');
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(c);
      }
      continue;
    }
    if (c == ',') {
      record.fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && in_.peek() == '\n') in_.get();
      ++line_;
      record.fields.push_back(std::move(field));
      return std::optional<CsvRecord>(std::move(record));
    } else if (c == '"') {
      if (!field.empty() || was_quoted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_, ": a quote inside an unquoted field (quote the whole field)"));
      }
      quoted = true;
      was_quoted = true;
    } else {
      if (was_quoted) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_, ": text after a closing quote"));
      }
      field.push_back(c);
    }
  }
}

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<CsvRecord> records;
  for (;;) {
    absl::StatusOr<std::optional<CsvRecord>> record = reader.Next();
    if (!record.ok()) return record.status();
    if (!record->has_value()) return records;
    records.push_back(**std::move(record));
  }
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      line += f;
      continue;
    }
    line += '"';
    for (char c : f) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  }
  line += '\n';
  return line;
}

}  // namespace vigil::cli
