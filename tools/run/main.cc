// respct-run: runs an unmodified program under respct. See --help.

#include <CLI/CLI.hpp>

#include "tools/launch/recover_program.h"
#include "tools/launch/run_options.h"

namespace {

constexpr const char* kDescription = R"(respct-run - run a program so that it survives crashes

Runs PROG (an ordinary, unmodified, already compiled multithreaded program)
with librespct.so preloaded: its heap, thread stacks and globals live at fixed
addresses, and every few milliseconds (an epoch) the threads are stopped at a
point where none holds a lock, the 64-byte cache lines that changed are
copied aside, and the threads run on while those lines are shipped to a
memory node (respct-memnode) that keeps them durable. After a crash or kill -9,
respct-recover restarts PROG where the last committed epoch left it.

Without --memnode, an embedded memnode is used: a respct-memnode on a unix
socket in the state directory ($RESPCT_STATE_DIR, else
$XDG_STATE_HOME/respct, else ~/.local/state/respct), started in the
background when none runs, with its pool and secret in that directory.
Address-space randomisation is turned off for PROG (the persisted memory and
the code it points into must be at the same addresses after a restart).

With --resume, respct-run is what a supervisor (systemd's Restart=always, a
shell loop) runs every time: it asks the memnode about the app first. If the
memnode holds a committed image of a run that crashed (was killed, lost its
machine: its last image is not marked as the final checkpoint of a run that
exited), PROG is resumed from it exactly as respct-recover would; otherwise
(no image, an image with no committed epoch because the last run died before
its first checkpoint, or the image of a run that exited) PROG starts afresh,
discarding that image. Either way one line on standard error says which:
  respct-run: resuming app 'NAME' at epoch N: ...
  respct-run: starting app 'NAME' fresh: REASON
A run exits "cleanly" when PROG calls exit() or returns from main and its
final checkpoint commits; death by a signal is a crash. See
examples/systemd/respct-memcached.service.)";

constexpr const char* kFooter = R"(
ENVIRONMENT
  The flags become RESPCT_* variables that librespct.so reads; the same
  variables work with LD_PRELOAD=librespct.so directly (see README):
  RESPCT_MEMNODE, RESPCT_APP, RESPCT_SECRET_FILE, RESPCT_EPOCH_MS,
  RESPCT_TRACKER, RESPCT_GRANULARITY, RESPCT_STATS, RESPCT_STATS_FILE,
  RESPCT_FRESH, RESPCT_DROP_UNRESTORABLE, RESPCT_RING_SIZE, RESPCT_HEAP_SIZE, RESPCT_STACK_SIZE, RESPCT_MAX_THREADS,
  RESPCT_LOG. RESPCT_LIBRARY overrides where librespct.so is looked for.
  A variable already set in respct-run's own environment is the default of
  its flag (a flag given on the command line wins), so
  RESPCT_MEMNODE=tcp://127.0.0.1:7100 respct-run -- ./bank uses that
  memnode, not the embedded one. Programs PROG starts run without respct.

EXAMPLES
  respct-run -- ./bank --threads 4
  respct-run --memnode tcp://127.0.0.1:7100 --app bank --epoch-ms 5 --stats -- ./bank
  respct-run --fresh --stats=json --stats-file /tmp/s.json -- pigz -p 2 big.tar
  respct-run --recover -- ./bank --threads 4    (after a crash: same as respct-recover)
  respct-run --resume -- /usr/bin/memcached -u memcache -p 11211 -t 4
                                                (resume after a crash, else start: for supervisors)

EXIT STATUS
  PROG's own exit status; 70 when respct could not start PROG (memnode
  unreachable, bad secret, the image of a crashed run without --fresh, ...), with one
  line on standard error saying why; 2 for bad flags.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "respct-run"};
  app.footer(kFooter);
  app.get_formatter()->column_width(34);
  respct::launch::RunOptions o;
  bool recover = false, resume = false;
  auto* recover_flag = app.add_flag(
      "--recover", recover,
      "resume PROG from the app's last committed epoch instead of starting it (what respct-recover does)");
  auto* resume_flag = app.add_flag("--resume", resume,
               "resume PROG if the memnode holds the image of a run that crashed, else start it fresh (for "
               "supervisors; see above)")
      ->excludes(recover_flag);
  respct::launch::AddRunOptions(&app, &o, true);
  resume_flag->excludes(app.get_option("--fresh"));
  return respct::launch::ParseAndLaunch(&app, &o, argc, argv, "respct-run", [&]() -> respct::Status {
    if (o.drop_unrestorable && !recover)
      return respct::Status::InvalidArgument("--drop-unrestorable applies to a recovery: give --recover too");
    if (o.take_over && !recover)
      return respct::Status::InvalidArgument("--take-over applies to a recovery: give --recover too");
    if (recover) return respct::launch::RecoverProgram(&o, 0, "respct-run");
    if (resume) return respct::launch::ResumeOrStart(&o, "respct-run");
    return respct::launch::StartProgram(&o, "respct-run");
  });
}
