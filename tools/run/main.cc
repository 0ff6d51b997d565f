// respct-run: runs an unmodified program under respct. See --help.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "runtime/transport/default_paths.h"
#include "tools/launch/embedded_memnode.h"
#include "tools/launch/program_launch.h"

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
the code it points into must be at the same addresses after a restart).)";

constexpr const char* kFooter = R"(
ENVIRONMENT
  The flags become RESPCT_* variables that librespct.so reads; the same
  variables work with LD_PRELOAD=librespct.so directly (see README):
  RESPCT_MEMNODE, RESPCT_APP, RESPCT_SECRET_FILE, RESPCT_EPOCH_MS,
  RESPCT_TRACKER, RESPCT_GRANULARITY, RESPCT_STATS, RESPCT_STATS_FILE,
  RESPCT_FRESH, RESPCT_RING_SIZE, RESPCT_HEAP_SIZE, RESPCT_STACK_SIZE, RESPCT_MAX_THREADS,
  RESPCT_LOG. RESPCT_LIBRARY overrides where librespct.so is looked for.
  Programs PROG starts run without respct.

EXAMPLES
  respct-run -- ./bank --threads 4
  respct-run --memnode tcp://127.0.0.1:7100 --app bank --epoch-ms 5 --stats -- ./bank
  respct-run --fresh --stats=json --stats-file /tmp/s.json -- pigz -p 2 big.tar

EXIT STATUS
  PROG's own exit status; 70 when respct could not start PROG (memnode
  unreachable, bad secret, an existing image without --fresh, ...), with one
  line on standard error saying why; 2 for bad flags.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "respct-run"};
  app.footer(kFooter);
  app.get_formatter()->column_width(34);
  std::string memnode, app_name, secret_file, tracker = "auto", granularity = "line", stats, stats_file, library,
                                                heap_size, stack_size, ring_size, log_level;
  int epoch_ms = 10;
  unsigned max_threads = 0;
  bool fresh = false;
  std::vector<std::string> program;
  app.add_option("--memnode", memnode, "memnode URL: shm:///path/to/socket, tcp://HOST:PORT or rdma://HOST:PORT "
                                       "(default: the embedded memnode)");
  app.add_option("--app", app_name, "application name on the memnode (default: PROG's file name)");
  app.add_option("--secret-file", secret_file,
                 "file holding the memnode's shared secret (default: $RESPCT_SECRET_FILE, else the state directory's)");
  app.add_option("--epoch-ms", epoch_ms, "checkpoint interval in milliseconds")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--tracker", tracker, "dirty tracking: auto (best the kernel offers), uffd, mprotect or scan")
      ->check(CLI::IsMember({"auto", "uffd", "mprotect", "scan"}))
      ->capture_default_str();
  app.add_option("--granularity", granularity, "ship changed 64-byte lines (line) or whole dirty pages (page)")
      ->check(CLI::IsMember({"line", "page"}))
      ->capture_default_str();
  app.add_option("--stats", stats, "print statistics at exit (and on SIGUSR2): text or json")
      ->expected(0, 1)
      ->default_str("text")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--stats-file", stats_file, "write the statistics there instead of standard error");
  app.add_flag("--fresh", fresh, "discard an existing image of this app instead of refusing to start");
  app.add_option("--heap-size", heap_size, "size of the persisted heap region, e.g. 1G (default 1G)");
  app.add_option("--stack-size", stack_size, "stack size of each thread (default 2M)");
  app.add_option("--ring-size", ring_size,
                 "memnode log ring to ask for when the app is created (default 256M); one epoch must fit in it");
  app.add_option("--max-threads", max_threads, "threads alive at once (default 64)")->check(CLI::Range(2, 1024));
  app.add_option("--log-level", log_level, "shim messages: error, warn, info or debug (default warn)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_option("--library", library, "librespct.so to preload (default: ../lib/librespct.so beside respct-run)");
  app.add_option("program", program, "PROG and its arguments, after --")->required();
  app.positionals_at_end();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a clean exit; every flag error is 2, as the help promises.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  respct::launch::ProgramLaunch launch;
  launch.argv = program;
  launch.library = library.empty() ? respct::launch::DefaultLibraryPath() : library;
  auto& env = launch.env;
  if (memnode.empty()) {
    auto embedded = respct::launch::EnsureEmbeddedMemnode(respct::launch::SelfDirectory() + "/respct-memnode");
    if (!embedded.ok()) {
      std::fprintf(stderr, "respct-run: %s\n", embedded.status().ToString().c_str());
      return 70;
    }
    if (embedded->started_now)
      std::fprintf(stderr, "respct-run: started the embedded memnode at %s (log: %s)\n", embedded->url.c_str(),
                   embedded->log_file.c_str());
    memnode = embedded->url;
    if (secret_file.empty()) secret_file = embedded->secret_file;
  }
  env.emplace_back("RESPCT_MEMNODE", memnode);
  if (!app_name.empty()) env.emplace_back("RESPCT_APP", app_name);
  if (!secret_file.empty()) env.emplace_back("RESPCT_SECRET_FILE", secret_file);
  env.emplace_back("RESPCT_EPOCH_MS", std::to_string(epoch_ms));
  env.emplace_back("RESPCT_TRACKER", tracker);
  env.emplace_back("RESPCT_GRANULARITY", granularity);
  if (app.count("--stats") != 0) env.emplace_back("RESPCT_STATS", stats.empty() ? "text" : stats);
  if (!stats_file.empty()) env.emplace_back("RESPCT_STATS_FILE", stats_file);
  if (fresh) env.emplace_back("RESPCT_FRESH", "1");
  if (!heap_size.empty()) env.emplace_back("RESPCT_HEAP_SIZE", heap_size);
  if (!stack_size.empty()) env.emplace_back("RESPCT_STACK_SIZE", stack_size);
  if (!ring_size.empty()) env.emplace_back("RESPCT_RING_SIZE", ring_size);
  if (max_threads != 0) env.emplace_back("RESPCT_MAX_THREADS", std::to_string(max_threads));
  if (!log_level.empty()) env.emplace_back("RESPCT_LOG", log_level);
  const respct::Status st = respct::launch::ExecProgram(launch);
  std::fprintf(stderr, "respct-run: %s\n", st.ToString().c_str());
  return 70;
}
