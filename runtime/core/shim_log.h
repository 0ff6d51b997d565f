// Logging for code that runs inside the application's process: formats into a
// stack buffer and write(2)s one line to standard error, so it never
// allocates from the heap the shim manages and never takes stdio's locks
// (which a parked application thread may hold). Not async-signal-safe
// (vsnprintf), so never call it from a signal handler.
#pragma once

namespace respct::core {

enum LogLevel : int { kLogError = 0, kLogWarn = 1, kLogInfo = 2, kLogDebug = 3 };

void SetShimLogLevel(int level);
bool ShimLogEnabled(int level);
// "respct: <message>\n"
void ShimLog(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace respct::core
