// Kernel objects across kill -9 and respct-recover (DESIGN §9): kernel_prog
// sets up, before a committed epoch, a file read mid-way and its dup, an
// O_APPEND file, a pipe and a socketpair with bytes buffered, two eventfds
// (a counter, a semaphore), an interval timerfd, a signalfd, an epoll set
// with EPOLLET/EPOLLONESHOT entries carrying distinct data, a TCP listener,
// a bound UDP socket, a memfd, a SIGUSR1 handler, SIGPIPE ignored, umask,
// cwd and two resource limits. Killed once an epoch past its "ready" line has
// committed and resumed, it checks that each object behaves as before and
// prints one line per property; each is a check here.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

std::vector<std::string> RespctRecover(const test::MemnodeProcess& mn, const std::string& app,
                                       const std::vector<std::string>& extra,
                                       const std::vector<std::string>& program) {
  std::vector<std::string> argv = {RESPCT_RECOVER_BIN, "--memnode", mn.tcp_url(), "--secret-file", mn.secret_path(),
                                   "--app", app, "--epoch-ms", "10"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("--");
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

// Waits (at most 60 s) for `needle` in the file at `path`.
bool WaitForOutput(const std::string& path, const std::string& needle, Child* child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(needle) != std::string::npos) return true;
    if (child->Exited()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Runs `program` under respct-run until it printed "ready" and an epoch
// after that committed, then kills it with SIGKILL.
// `census`: also wait until the census (every 500 ms, between epochs) has
// seen the descriptors no interposed call records.
testing::AssertionResult RunReadyAndKill(const std::string& dir, const test::MemnodeProcess& mn,
                                         const std::string& app, const std::vector<std::string>& program,
                                         bool census = false) {
  Child run(dir, "run", RespctRun(mn.tcp_url(), mn.secret_path(), app, {}, program));
  if (!WaitForOutput(dir + "/run.out", "kernel_prog: ready", &run))
    return testing::AssertionFailure() << "no ready line" << run.Wait().Describe();
  // Every record is written by the time "ready" is printed; the epoch that
  // commits two epochs later was captured after it.
  if (census) std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const uint64_t at_ready = CommittedEpoch(mn, app);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (CommittedEpoch(mn, app) <= at_ready + 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (CommittedEpoch(mn, app) <= at_ready + 2)
    return testing::AssertionFailure() << "no epoch committed after ready" << mn.LogTail();
  run.Signal(SIGKILL);
  const ChildResult killed = run.Wait();
  if (killed.signal != SIGKILL) return testing::AssertionFailure() << "ended before the kill" << killed.Describe();
  return testing::AssertionSuccess();
}

// The properties kernel_prog checks, each a line "kernel_prog: ok NAME".
const char* const kProperties[] = {
    "fd-file", "fd-file-dup", "fd-append-file", "fd-pipe-read", "fd-pipe-write", "fd-socketpair-0",
    "fd-socketpair-1", "fd-eventfd", "fd-eventfd-sem", "fd-timerfd", "fd-signalfd", "fd-tcp-listener", "fd-udp",
    "fd-epoll", "fd-memfd", "cwd", "umask", "rlimit-nofile", "rlimit-core", "sigaction-usr1", "handler-runs",
    "sigpipe-ignored", "sigpipe-epipe", "sigmask", "epoll-entry-eventfd", "epoll-entry-socketpair",
    "epoll-entry-listener", "epoll-ready", "epoll-et-oneshot", "file-offset", "file-read", "dup-shares-offset",
    "append-write", "append-appends", "pipe-buffered", "pipe-works", "socketpair-buffered-1",
    "socketpair-buffered-0", "socketpair-works", "eventfd-count", "eventfd-semaphore", "timerfd-interval",
    "timerfd-fires", "timerfd-fires-again", "signalfd-mask-fdinfo", "signalfd-delivers", "tcp-port",
    "tcp-connect", "epoll-listener-ready", "tcp-accept", "udp-port", "udp-receives", "memfd-contents"};

void ExpectEveryProperty(const ChildResult& r) {
  const std::vector<std::string> lines = Lines(r.out);
  for (const char* p : kProperties) {
    const std::string ok = std::string("kernel_prog: ok ") + p;
    const std::string fail = std::string("kernel_prog: FAIL ") + p + ":";
    std::string seen;
    for (const std::string& l : lines)
      if (l == ok || l.rfind(fail, 0) == 0) seen = l;
    EXPECT_EQ(seen, ok) << "property " << p;
  }
}

// Natively, with no respct at all: the program's own checks are right.
TEST(KernelObjectsNative, ProgramChecksPassWithoutRespct) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  WriteFile(dir / "go", "");
  const ChildResult r = RunChild(dir.path(), "native", {KERNEL_PROG, dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ExpectEveryProperty(r);
  EXPECT_NE(r.out.find("kernel_prog: verdict ok"), std::string::npos) << r.Describe();
}

TEST(KernelObjectsRecovery, EveryKindBehavesAsBeforeTheKill) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("kobj");
  const std::vector<std::string> prog = {KERNEL_PROG, dir.path()};
  ASSERT_TRUE(RunReadyAndKill(dir.path(), mn, app, prog));
  WriteFile(dir / "go", "");
  const ChildResult r = RunChild(dir.path(), "recover", RespctRecover(mn, app, {}, prog));
  EXPECT_NE(r.err.find("resuming app"), std::string::npos) << r.Describe();
  // One line says what came back, by category (stdin/out/err are the
  // launcher's, not counted).
  EXPECT_NE(r.err.find("restored 15 fds: 1 tcp listener, 1 udp socket, 2 socketpair ends (15 B buffered), 1 epoll, "
                       "2 eventfd, 1 timerfd, 1 signalfd, 2 pipe ends (14 B buffered), 1 memfd, 3 files; "
                       "1 signal handler, 1 ignored"),
            std::string::npos)
      << r.Describe();
  ExpectEveryProperty(r);
  EXPECT_NE(r.out.find("kernel_prog: verdict ok"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

// An object respct cannot recreate (inotify): the recovery refuses with one
// line naming it and the flag; with --drop-unrestorable it resumes without it
// and says so, and everything else is as before.
TEST(KernelObjectsRecovery, UnrestorableRefusedUnlessDropped) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("kinot");
  const std::vector<std::string> prog = {KERNEL_PROG, dir.path(), "inotify"};
  ASSERT_TRUE(RunReadyAndKill(dir.path(), mn, app, prog, /*census=*/true));
  WriteFile(dir / "go", "");

  const ChildResult refused = RunChild(dir.path(), "refused", RespctRecover(mn, app, {}, prog));
  EXPECT_EQ(refused.exit_code, 70) << refused.Describe();
  EXPECT_EQ(refused.out.find("kernel_prog: checking"), std::string::npos) << "the program resumed" << refused.Describe();
  int lines = 0;
  std::string line;
  for (const std::string& l : Lines(refused.err))
    if (l.find("cannot recreate") != std::string::npos) {
      ++lines;
      line = l;
    }
  EXPECT_EQ(lines, 1) << refused.Describe();
  EXPECT_NE(line.find("(anon_inode:inotify)"), std::string::npos) << refused.Describe();
  EXPECT_NE(line.find("--drop-unrestorable"), std::string::npos) << refused.Describe();

  const ChildResult dropped =
      RunChild(dir.path(), "dropped", RespctRecover(mn, app, {"--drop-unrestorable"}, prog));
  EXPECT_NE(dropped.err.find("not restored: fd"), std::string::npos) << dropped.Describe();
  EXPECT_NE(dropped.err.find("(anon_inode:inotify)"), std::string::npos) << dropped.Describe();
  ExpectEveryProperty(dropped);
  EXPECT_NE(dropped.out.find("kernel_prog: verdict ok"), std::string::npos) << dropped.Describe();
  EXPECT_EQ(dropped.exit_code, 0) << dropped.Describe();
}

// The port kernel_prog's "ready" line names, as text.
std::string ReadyField(const std::string& out, const std::string& key) {
  for (const std::string& l : Lines(out)) {
    const size_t at = l.find(key + "=");
    if (l.find("kernel_prog: ready") == 0 && at != std::string::npos) {
      const size_t end = l.find(' ', at);
      return l.substr(at + key.size() + 1, end == std::string::npos ? std::string::npos : end - at - key.size() - 1);
    }
  }
  return "";
}

// respct-inspect --fds lists what the image will recreate, text and JSON.
TEST(KernelObjectsInspect, FdsListsWhatRecoveryRecreates) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("kinsp");
  const std::vector<std::string> prog = {KERNEL_PROG, dir.path()};
  ASSERT_TRUE(RunReadyAndKill(dir.path(), mn, app, prog));
  const std::string port = ReadyField(ReadFile(dir / "run.out"), "tcp_port");
  ASSERT_FALSE(port.empty());
  const std::vector<std::string> base = {RESPCT_INSPECT_BIN, "--memnode", mn.tcp_url(), "--secret-file",
                                         mn.secret_path(), "--app", app, "--fds"};
  const ChildResult text = RunChild(dir.path(), "fds", base);
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  const std::string& t = text.out;
  for (const std::string& want :
       {std::string("15 descriptors to recreate"), "file " + dir.path() + "/data @6", "tcp listener 127.0.0.1:" + port +
        " (backlog 16)", std::string("udp bound 127.0.0.1:"), std::string("(14 B buffered)"),
        std::string("eventfd count 12"), std::string("eventfd count 3 (semaphore)"),
        std::string("every 200000 us"), std::string("signalfd for signals 23,28"), std::string("memfd 'respct-kernel-test' 8.0 KiB"),
        std::string("O_WRONLY|O_APPEND"), std::string("O_RDONLY|O_NONBLOCK"), std::string("EPOLLIN|EPOLLET"),
        std::string("0x1111222233334444"), std::string("EPOLLIN|EPOLLONESHOT"), std::string("0x5555666677778888"),
        std::string("SIGUSR1"), std::string("SIGPIPE  ignored"), std::string("umask 027"), std::string("rlimit NOFILE "),
        "cwd " + dir.path()})
    EXPECT_NE(t.find(want), std::string::npos) << "no '" << want << "' in\n" << t;
  // The file and its dup share one open file description: each names the other.
  bool dup_row = false;
  for (const std::string& l : Lines(t))
    dup_row |= l.find(dir.path() + "/data @6") != std::string::npos && l.find(" -") == std::string::npos;
  EXPECT_TRUE(dup_row) << t;

  std::vector<std::string> json_argv = base;
  json_argv.push_back("--json");
  const ChildResult json = RunChild(dir.path(), "fds-json", json_argv);
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  for (const std::string& want :
       {std::string("\"kind\": \"epoll\""), std::string("\"data\": 1229801703532086340"), std::string("\"offset\": 6"),
        std::string("\"buffered_bytes\": 14"), std::string("\"disposition\": \"ignored\""),
        std::string("\"umask\": 23"), std::string("\"restorable\": true")})
    EXPECT_NE(json.out.find(want), std::string::npos) << "no '" << want << "' in\n" << json.out;
  EXPECT_EQ(json.out.find("\"restorable\": false"), std::string::npos) << json.out;
}

// respct-run takes the flag with --recover only.
TEST(KernelObjectsRecovery, DropUnrestorableNeedsARecovery) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const ChildResult r = RunChild(dir.path(), "run", {RESPCT_RUN_BIN, "--drop-unrestorable", "--", KERNEL_PROG, dir.path()});
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  EXPECT_NE(r.err.find("--drop-unrestorable applies to a recovery"), std::string::npos) << r.Describe();
  const ChildResult help = RunChild(dir.path(), "help", {RESPCT_RECOVER_BIN, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.Describe();
  EXPECT_NE(help.out.find("--drop-unrestorable"), std::string::npos) << help.Describe();
}

}  // namespace
}  // namespace respct::shimtest
