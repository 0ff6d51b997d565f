// respct-recover: resumes a program that respct-run protected, from the last
// epoch its memnode committed. See --help.

#include <CLI/CLI.hpp>

#include "tools/launch/recover_program.h"
#include "tools/launch/run_options.h"

namespace {

constexpr const char* kDescription = R"(respct-recover - resume a crashed program where its last checkpoint left it

After PROG, run under respct-run, crashed, was killed (kill -9) or lost its
machine, respct-recover starts the same PROG again and it continues from the
last epoch the memnode committed: every thread where it was at that epoch's
restart point, with its stack, registers, thread-local variables, the heap
and the executable's globals as they were. The program is not told; it needs
no recovery code. Work done after that epoch (at most about one epoch
interval) is lost; output it wrote then is not taken back.

Steps: the image of the last committed epoch is read from the memnode into a
file in the state directory (with a progress line when it is large); PROG is
started with ASLR off and with the AT_RANDOM bytes of the process that wrote
the image (so stack-protector canaries and mangled pointers in saved frames
stay valid; a short-lived helper sets them with ptrace); its shim checks that
the image fits this binary (build-id, libraries and their addresses, static
TLS) and refuses with a message saying what differs, restores memory,
recreates each thread on its own stack and resumes it. Threads that were
blocked in a call (read, a futex, a condition variable, ...) issue it again;
condition-variable waiters see a spurious wake-up. The recovered process
keeps checkpointing to the same image, epochs continuing, so it can crash
and be recovered again.

Give PROG exactly as respct-run was given it. The memnode and secret default
as for respct-run (the embedded memnode in the state directory); the region
layout comes from the image.)";

constexpr const char* kFooter = R"(
KERNEL OBJECTS
  Before any thread resumes, the descriptors the program held at that epoch
  are recreated at the same numbers with their flags: files (path, offset,
  shared by dups), pipes and socketpairs with the bytes buffered in them,
  eventfd, timerfd, signalfd, epoll sets with their interest lists, memfds,
  TCP listeners and bound UDP sockets (connected TCP sockets come back reset),
  unix sockets; then signal dispositions, interval timers, umask, the working
  directory and resource limits. One line on standard error says what was
  restored ("restored 15 fds: 1 tcp listener, ..., 2 pipe ends (14 B
  buffered), 3 files; 1 signal handler, ..."). What respct cannot recreate
  (inotify, io_uring, netlink sockets, child processes, ...) makes the
  recovery refuse with one line naming each, unless --drop-unrestorable.
  Not restored: atexit handlers registered after start-up (see README,
  "What recovery restores").

ENVIRONMENT
  As for respct-run: RESPCT_MEMNODE, RESPCT_APP, RESPCT_EPOCH_MS,
  RESPCT_TRACKER, RESPCT_GRANULARITY, RESPCT_OUTPUT_COMMIT and the other
  RESPCT_* variables set in the environment are the defaults of the matching
  flags; a flag given on the command line wins.

EXAMPLES
  respct-run -- ./bank --threads 4 & sleep 2; kill -9 %1
  respct-recover -- ./bank --threads 4
  respct-recover --memnode tcp://127.0.0.1:7100 --app bank -- ./bank --threads 4
  respct-recover --drop-unrestorable -- ./server    (resume without its inotify watch)
  respct-recover --take-over -- ./server            (its old process is frozen: fence it)

EXIT STATUS
  PROG's own exit status once resumed; 70 when it could not be resumed (no
  image, the app still running, the binary or its libraries changed, memnode
  unreachable, ...), with one line on standard error saying why; 2 for bad
  flags. A process taken over by a later --take-over recovery exits 70 too,
  with one line saying it was fenced.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "respct-recover"};
  app.footer(kFooter);
  app.get_formatter()->column_width(34);
  respct::launch::RunOptions o;
  uint64_t epoch = 0;
  app.add_option("--epoch", epoch,
                 "epoch to resume; must be the last committed one (the memnode keeps only that image); "
                 "default: the last committed");
  respct::launch::AddRunOptions(&app, &o, false);
  return respct::launch::ParseAndLaunch(&app, &o, argc, argv, "respct-recover",
                                        [&] { return respct::launch::RecoverProgram(&o, epoch, "respct-recover"); });
}
