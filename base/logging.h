// A small logging facade: the packaged Abseil has no absl/log. One line per message, written to
// stderr with a single write(2) so that lines from concurrent threads never interleave.
//
//   VIGIL_LOG(INFO) << "listening on " << address;
#ifndef VIGIL_BASE_LOGGING_H_
#define VIGIL_BASE_LOGGING_H_

#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below the threshold are dropped. Thread-safe. Default: kInfo.
void SetLogThreshold(LogLevel level);
LogLevel LogThreshold();

// Parses "debug", "info", "warning", "error".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

// kText: `2026-12-02T14:00:00.000Z INFO file.cc:12] message`. kJson: one JSON object per line,
// {"time":...,"level":...,"source":"file.cc:12","message":...}, for log shippers.
enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);
// Parses "text", "json".
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

namespace internal {

// Collects one message and emits it when destroyed.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Lets the macro discard the stream expression when the level is disabled.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal
}  // namespace vigil

#define VIGIL_LOG_LEVEL_DEBUG ::vigil::LogLevel::kDebug
#define VIGIL_LOG_LEVEL_INFO ::vigil::LogLevel::kInfo
#define VIGIL_LOG_LEVEL_WARNING ::vigil::LogLevel::kWarning
#define VIGIL_LOG_LEVEL_ERROR ::vigil::LogLevel::kError

#define VIGIL_LOG(level)                              \
  (VIGIL_LOG_LEVEL_##level < ::vigil::LogThreshold()) \
      ? (void)0                                       \
      : ::vigil::internal::LogVoidify() &             \
            ::vigil::internal::LogMessage(VIGIL_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

#endif  // VIGIL_BASE_LOGGING_H_
