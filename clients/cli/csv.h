// A streaming reader of RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line
// breaks; lines end in LF or CRLF. Used by `vigil import`. And the writer's half: one record
// as a line (`vigil demo generate`).
#ifndef VIGIL_CLIENTS_CLI_CSV_H_
#define VIGIL_CLIENTS_CLI_CSV_H_

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::cli {

struct CsvRecord {
  // The line on which the record starts (1-based).
  int64_t line = 0;
  std::vector<std::string> fields;
};

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // The next record, or nullopt at the end. InvalidArgument naming the line for an unterminated
  // quote, a quote in the middle of an unquoted field, or a record over 1 MiB.
  absl::StatusOr<std::optional<CsvRecord>> Next();

 private:
  std::istream& in_;
  int64_t line_ = 1;
};

// One record as an RFC 4180 line ending in LF: a field holding a comma, quote, CR or LF is
// quoted, its quotes doubled. CsvReader reads it back as the same fields.
std::string CsvLine(const std::vector<std::string>& fields);

// Parses a whole text (for tests and the fuzzer).
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(const std::string& text);

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_CSV_H_
