// Logging for code that runs inside the application's process: formats into a
// stack buffer and write(2)s one line to standard error, so it never
// allocates from the heap the shim manages and never takes stdio's locks
// (which a parked application thread may hold). Not async-signal-safe
// (vsnprintf), so never call it from a signal handler.
#pragma once

namespace respct::core {

enum LogLevel : int { kLogError = 0, kLogWarn = 1, kLogInfo = 2, kLogDebug = 3 };

void SetShimLogLevel(int level);
// Duplicates standard error to a descriptor of the shim's own (at start-up):
// the program may close fd 2 or reopen it onto one of its files, and respct's
// messages must neither vanish nor land in the program's data.
void KeepShimLogFd();
int ShimLogFd();
bool ShimLogEnabled(int level);
// "respct: <message>\n"
void ShimLog(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace respct::core
