#include "tools/launch/run_options.h"

#include <cstdio>
#include <cstdlib>

#include "runtime/base/exit_code.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/replica_set.h"
#include "tools/launch/embedded_memnode.h"

namespace respct::launch {

std::string RunOptions::app() const { return app_name.empty() ? DefaultAppName(program.at(0)) : app_name; }

void AddRunOptions(CLI::App* cli, RunOptions* o, bool layout) {
  cli->add_option("--memnode", o->memnodes,
                  "memnode URL: shm:///path/to/socket, tcp://HOST:PORT or rdma://HOST:PORT "
                  "(default: the embedded memnode). Given several times (or as a comma-separated list), the "
                  "memnodes are replicas of the image, transports mixed as you like: every epoch goes to each, "
                  "and commits once a write quorum has it (--commit-quorum); a replica that fails is caught up "
                  "in the background when it answers again, and a recovery reads the highest epoch among any "
                  "read quorum of them")
      ->envname("RESPCT_MEMNODE");
  cli->add_option("--commit-quorum", o->commit_quorum,
                  "with several memnodes: an epoch is committed once a majority of them (majority: survives "
                  "the loss of a minority) or all of them (all: survives the loss of all but one, but a single "
                  "memnode down stops the commits) have it durable")
      ->check(CLI::IsMember({"majority", "all"}))
      ->capture_default_str()
      ->envname("RESPCT_COMMIT_QUORUM");
  cli->add_option("--app", o->app_name, "application name on the memnode (default: PROG's file name)")
      ->envname("RESPCT_APP");
  cli->add_option("--secret-file", o->secret_file,
                  "file holding the memnode's shared secret (default: $RESPCT_SECRET_FILE, else the state "
                  "directory's)");
  cli->add_option("--epoch-ms", o->epoch_ms, "checkpoint interval in milliseconds")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str()
      ->envname("RESPCT_EPOCH_MS");
  cli->add_option("--tracker", o->tracker, "dirty tracking: auto (best the kernel offers), uffd, mprotect or scan")
      ->check(CLI::IsMember({"auto", "uffd", "mprotect", "scan"}))
      ->capture_default_str()
      ->envname("RESPCT_TRACKER");
  cli->add_option("--granularity", o->granularity,
                  "ship changed 64-byte lines (line), whole dirty pages (page), or every tracked page each epoch "
                  "(full: a full image per epoch, the baseline incremental shipping is measured against)")
      ->check(CLI::IsMember({"line", "page", "full"}))
      ->capture_default_str()
      ->envname("RESPCT_GRANULARITY");
  cli->add_option("--output-commit", o->output_commit,
                  "on: bytes the program sends to other processes (sockets, inherited pipes and terminals) are "
                  "held until the epoch that produced them is committed, so no client sees a reply a crash can "
                  "take back (each reply waits about one pause and one commit); off: sent at once "
                  "(RESPCT_OUTPUT_COMMIT)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->envname("RESPCT_OUTPUT_COMMIT");
  cli->add_option("--stats", o->stats, "print statistics at exit (and on SIGUSR2): text or json")
      ->expected(0, 1)
      ->default_str("text")
      ->check(CLI::IsMember({"text", "json"}));
  cli->add_option("--stats-file", o->stats_file, "write the statistics there instead of standard error");
  if (layout) {
    cli->add_flag("--fresh", o->fresh,
                  "discard an existing image of this app instead of refusing to start (the image of a run that "
                  "exited is replaced without it)")
        ->envname("RESPCT_FRESH");
    cli->add_option("--heap-size", o->heap_size, "size of the persisted heap region, e.g. 1G (default 1G)");
    cli->add_option("--stack-size", o->stack_size, "stack size of each thread (default 2M)");
    cli->add_option("--ring-size", o->ring_size,
                    "memnode log ring to ask for when the app is created (default 256M); one epoch must fit in it");
    cli->add_option("--max-threads", o->max_threads, "threads alive at once (default 64)")
        ->check(CLI::Range(2, 1024));
  }
  cli->add_flag("--drop-unrestorable", o->drop_unrestorable,
                "with a recovery: resume without the kernel objects respct cannot recreate (inotify, io_uring, "
                "netlink sockets, child processes, ...), each named in a warning, instead of refusing "
                "(RESPCT_DROP_UNRESTORABLE=1)");
  cli->add_flag("--take-over", o->take_over,
                "with a recovery: resume even though the app's writer is still attached to the memnodes (a "
                "process believed dead: frozen, paused with its VM, cut off by a partition). The recovered "
                "process attaches as a newer writer generation: every memnode ends the old writer's session "
                "and refuses it from then on, so it can never commit again and exits with one line when it "
                "next tries. Without it, a recovery refuses while a writer is attached");
  cli->add_option("--log-level", o->log_level, "shim messages: error, warn, info or debug (default warn)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  cli->add_option("--library", o->library, "librespct.so to preload (default: the installed one, LIBDIR/respct/librespct.so, else ../lib/librespct.so of a build tree)");
  cli->add_option("program", o->program, "PROG and its arguments, after --")->required();
  cli->positionals_at_end();
}

Result<ProgramLaunch> PrepareLaunch(RunOptions* o, const char* tool) {
  ProgramLaunch launch;
  launch.argv = o->program;
  launch.library = o->library.empty() ? DefaultLibraryPath() : o->library;
  if (!o->memnodes.empty()) {
    // Checked here, where a bad list is a usage error with the flag's name.
    auto quorum = ParseCommitQuorum(o->commit_quorum);
    if (!quorum.ok()) return quorum.status();
    auto replicas = ParseReplicaSet(o->memnodes, *quorum);
    if (!replicas.ok()) return replicas.status().Annotate("--memnode");
    o->memnode.clear();
    for (const std::string& url : replicas->urls) o->memnode += (o->memnode.empty() ? "" : ",") + url;
  }
  if (o->memnode.empty()) {
    auto embedded = EnsureEmbeddedMemnode(SelfDirectory() + "/respct-memnode");
    if (!embedded.ok()) return embedded.status();
    if (embedded->started_now)
      std::fprintf(stderr, "%s: started the embedded memnode at %s (log: %s)\n", tool, embedded->url.c_str(),
                   embedded->log_file.c_str());
    o->memnode = embedded->url;
    if (o->secret_file.empty()) o->secret_file = embedded->secret_file;
  }
  auto& env = launch.env;
  // Threads' rseq areas sit in their TCBs inside the persisted stacks, where
  // the mprotect tracker's write protection would make the kernel's rseq
  // updates fatal; respct does not need rseq (sched_getcpu falls back to the vDSO).
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  env.emplace_back("GLIBC_TUNABLES", tunables != nullptr && *tunables != '\0'
                                         ? std::string(tunables) + ":glibc.pthread.rseq=0"
                                         : std::string("glibc.pthread.rseq=0"));
  env.emplace_back("RESPCT_MEMNODE", o->memnode);
  env.emplace_back("RESPCT_COMMIT_QUORUM", o->commit_quorum);
  if (!o->app_name.empty()) env.emplace_back("RESPCT_APP", o->app_name);
  if (!o->secret_file.empty()) env.emplace_back("RESPCT_SECRET_FILE", o->secret_file);
  env.emplace_back("RESPCT_EPOCH_MS", std::to_string(o->epoch_ms));
  env.emplace_back("RESPCT_TRACKER", o->tracker);
  env.emplace_back("RESPCT_GRANULARITY", o->granularity);
  env.emplace_back("RESPCT_OUTPUT_COMMIT", o->output_commit);
  if (o->stats_on) env.emplace_back("RESPCT_STATS", o->stats.empty() ? "text" : o->stats);
  if (!o->stats_file.empty()) env.emplace_back("RESPCT_STATS_FILE", o->stats_file);
  if (o->fresh) env.emplace_back("RESPCT_FRESH", "1");
  if (o->drop_unrestorable) env.emplace_back("RESPCT_DROP_UNRESTORABLE", "1");
  if (o->take_over) env.emplace_back("RESPCT_TAKE_OVER", "1");
  if (!o->heap_size.empty()) env.emplace_back("RESPCT_HEAP_SIZE", o->heap_size);
  if (!o->stack_size.empty()) env.emplace_back("RESPCT_STACK_SIZE", o->stack_size);
  if (!o->ring_size.empty()) env.emplace_back("RESPCT_RING_SIZE", o->ring_size);
  if (o->max_threads != 0) env.emplace_back("RESPCT_MAX_THREADS", std::to_string(o->max_threads));
  if (!o->log_level.empty()) env.emplace_back("RESPCT_LOG", o->log_level);
  return launch;
}

int ParseAndLaunch(CLI::App* cli, RunOptions* o, int argc, char** argv, const char* tool,
                   const std::function<Status()>& launch) {
  try {
    cli->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli->exit(e);
    return rc == 0 ? 0 : 2;
  }
  o->stats_on = cli->count("--stats") != 0;
  const Status st = launch();
  std::fprintf(stderr, "%s: %s\n", tool, st.ToString().c_str());
  return kExitRespctFailure;
}

}  // namespace respct::launch
