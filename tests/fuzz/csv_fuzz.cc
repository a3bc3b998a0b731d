// Fuzzes the CSV reader behind `vigil import`: any bytes either parse or give an error, and
// what parses re-serialises (quoted) to records with the same fields.
#include <cstddef>
#include <cstdint>
#include <string>

#include "clients/cli/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<vigil::cli::CsvRecord>> records = vigil::cli::ParseCsv(input);
  if (!records.ok()) return 0;
  std::string again;
  for (const vigil::cli::CsvRecord& record : *records) {
    for (size_t i = 0; i < record.fields.size(); ++i) {
      if (i > 0) again.push_back(',');
      again.push_back('"');
      for (char c : record.fields[i]) {
        if (c == '"') again.push_back('"');
        again.push_back(c);
      }
      again.push_back('"');
    }
    again.push_back('\n');
  }
  absl::StatusOr<std::vector<vigil::cli::CsvRecord>> reparsed = vigil::cli::ParseCsv(again);
  if (!reparsed.ok() || reparsed->size() != records->size()) __builtin_trap();
  for (size_t r = 0; r < records->size(); ++r) {
    if ((*reparsed)[r].fields != (*records)[r].fields) __builtin_trap();
  }
  return 0;
}
