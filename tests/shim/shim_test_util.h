// Helpers for the shim integration tests: a scratch directory per test, child
// processes with their output in files (so a failure can show its tail), and
// the few facts the tests read back from the programs' output.
//
// Paths of the built binaries come from compile definitions set in
// CMakeLists.txt (RESPCT_RUN_BIN, BANK_BIN, ...).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/transport/transport.h"
#include "harness/memnode_process.h"

namespace respct::shimtest {

// A fresh directory under $TMPDIR (else /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct ChildOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) this process's environment
  std::string stdout_file;                               // where stdout goes; empty: <dir>/<tag>.out
  int timeout_s = 120;                                   // then SIGKILL: a hung child fails, never hangs the suite
};

struct ChildResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out;  // stdout, unless redirected to ChildOptions::stdout_file
  std::string err;
  std::string command;
  // "command: exit N" plus the last lines of stderr and stdout, for failure messages.
  std::string Describe() const;
};

// A running child process; its stdout/stderr go to <dir>/<tag>.out/.err.
class Child {
 public:
  Child(const std::string& dir, const std::string& tag, const std::vector<std::string>& argv,
        const ChildOptions& options = {});
  ~Child();  // kills and reaps a child still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Reaps the child (bounded by the timeout) and collects its output.
  ChildResult Wait();
  // Sends `sig` to the child (the crash tests' kill -9).
  void Signal(int sig);
  // Without blocking: true once the child has exited (Wait() then returns at once).
  bool Exited();
  // kill -9 and reap; Wait() then reports the signal and the output.
  void Kill();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_, err_path_;
  ChildOptions options_;
  std::string command_;
};

ChildOptions WithEnv(const std::string& name, const std::string& value);
ChildOptions StdoutTo(const std::string& path);

inline ChildResult RunChild(const std::string& dir, const std::string& tag, const std::vector<std::string>& argv,
                       const ChildOptions& options = {}) {
  return Child(dir, tag, argv, options).Wait();
}

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);
std::vector<std::string> Lines(const std::string& text);
// The last `n` lines of `text`, for failure messages.
std::string Tail(const std::string& text, size_t n = 12);
// 64-bit FNV-1a, to name large outputs in messages.
uint64_t Fnv1a(const std::string& data);

// The example's result line ("<name>: digest=<hex> ... ok") with the parts
// that depend on timing (bank's checker count) blanked; nullopt if absent.
std::optional<std::string> DigestLine(const std::string& name, const std::string& out);

// The value of an unsigned numeric JSON field `"key": N` anywhere in `json`.
std::optional<uint64_t> JsonUint(const std::string& json, const std::string& key);

// A loopback port nobody listens on (bound, read back, closed).
uint16_t ClosedLoopbackPort();

// The respct-run command line common to the tests: memnode, secret, app,
// 10 ms epochs; `extra` flags come before "--".
std::vector<std::string> RespctRun(const std::string& url, const std::string& secret_file, const std::string& app,
                                   const std::vector<std::string>& extra, const std::vector<std::string>& program);

// A memnode of the test's own (RESPCT_MEMNODE_BIN) on a fresh pool; start it
// with ASSERT_TRUE(Started(mn)).
test::MemnodeProcess::Options MemnodeOptions();
testing::AssertionResult Started(test::MemnodeProcess& mn);
// A read-only session of `app`, and an admin session (ListApps only).
ConnectOptions ReaderOf(const std::string& app);
ConnectOptions AdminSession(int timeout_ms);

// The app's committed epoch as the memnode lists it (admin session), 0 if the
// app is not there (yet) or the memnode does not answer.
uint64_t CommittedEpoch(const test::MemnodeProcess& mn, const std::string& app);

// The respct-recover command line matching RespctRun (10 ms epochs).
std::vector<std::string> RespctRecover(const test::MemnodeProcess& mn, const std::string& url,
                                       const std::string& app, const std::vector<std::string>& program);

// Waits (at most `bound`) until the memnode has committed epoch `at_least` or
// a later one for `app`; returns the last epoch seen.
uint64_t WaitForEpoch(const test::MemnodeProcess& mn, const std::string& app, uint64_t at_least,
                      std::chrono::seconds bound);
// Waits (at most 60 s) until the memnode has committed an epoch more than two
// beyond `after` for `app`; returns the last epoch seen.
uint64_t WaitForEpochBeyond(const test::MemnodeProcess& mn, const std::string& app, uint64_t after);

// The counter of the first "NAME: progress n=N" line in `out`, or -1.
long FirstProgress(const std::string& out);

// Runs `prog` (which prints "NAME: progress n=N" lines every 100 ms once its
// threads are created) under respct on a memnode of its own over `transport`
// (shm or tcp), kills it a few committed epochs after its second progress
// line, recovers it and kills it again once the recovered
// process has committed and shown progress of its own, then recovers it to
// the end, whose output must hold `done`. Reports failures with gtest.
void SurvivesTwoKills(const std::string& transport, const std::string& stem, const std::vector<std::string>& prog,
                      const std::string& done);

// A name no other test (or concurrent run of this suite) uses.
std::string UniqueApp(const std::string& stem);

}  // namespace respct::shimtest
