// The command line respct-run and respct-recover share: where the memnode
// is, how to checkpoint, what to run; and turning it into a ProgramLaunch
// (the RESPCT_* environment of the protected program).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "runtime/base/status.h"
#include "tools/launch/program_launch.h"

namespace respct::launch {

struct RunOptions {
  // --memnode, each given alone or comma-separated; joined with commas into
  // `memnode` (RESPCT_MEMNODE) by PrepareLaunch.
  std::vector<std::string> memnodes;
  std::string commit_quorum = "majority";
  std::string memnode, app_name, secret_file, tracker = "auto", granularity = "line", output_commit = "on", stats, stats_file, library,
      heap_size, stack_size, ring_size, log_level;
  int epoch_ms = 10;
  unsigned max_threads = 0;
  bool fresh = false;
  bool drop_unrestorable = false;  // --drop-unrestorable (a recovery): RESPCT_DROP_UNRESTORABLE=1
  bool take_over = false;          // --take-over (a recovery): fence a writer still attached
  bool stats_on = false;  // --stats was given (with or without a value): set after parsing
  std::vector<std::string> program;

  // --app, else PROG's file name.
  std::string app() const;
};

// Adds the options both tools take. `layout`: also those that shape a new
// image (--fresh, --heap-size, --stack-size, --ring-size, --max-threads),
// which a recovery takes from the image instead. --drop-unrestorable is for
// a recovery (respct-recover, respct-run --recover).
void AddRunOptions(CLI::App* cli, RunOptions* o, bool layout);

// Resolves the memnode (starting the embedded one when no --memnode is given,
// which fills memnode and secret_file) and builds the launch. `tool` prefixes
// the messages it prints.
Result<ProgramLaunch> PrepareLaunch(RunOptions* o, const char* tool);

// The main() both tools share once their flags are declared: parses argv
// (--help exits 0, every flag error 2, as their help pages promise), sets
// stats_on, then calls `launch`, which execs the program and so returns only
// on failure. That failure is one line on stderr prefixed with `tool`, and
// the exit status is 70.
int ParseAndLaunch(CLI::App* cli, RunOptions* o, int argc, char** argv, const char* tool,
                   const std::function<Status()>& launch);

}  // namespace respct::launch
