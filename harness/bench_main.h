// What the command lines of the benchmarks share (bench/overhead, pause,
// recovery): --json, the respct binaries they start, and one way to end —
// --help exits 0, a bad flag prints one line and exits 2, a failed run
// prints "NAME: why" and exits 1. Header-only: CLI11 is.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace respct::bench {

// --json FILE: the results as JSON (`what` says what goes in it).
inline void AddJsonOption(CLI::App& cli, std::string* json_file, const char* what) {
  cli.add_option("--json", *json_file, std::string("Also write ") + what + " as JSON here.");
}

// --respct-run and --memnode-bin, each when its pointer is not null; their
// defaults are the build tree's, shown in --help.
inline void AddBinaryOptions(CLI::App& cli, std::string* respct_run, const char* respct_run_help,
                             std::string* memnode_bin) {
  if (respct_run != nullptr) cli.add_option("--respct-run", *respct_run, respct_run_help)->capture_default_str();
  if (memnode_bin != nullptr)
    cli.add_option("--memnode-bin", *memnode_bin, "respct-memnode to start.")->capture_default_str();
}

// Parses argv into `cli`, then runs `body` (which applies --quick and the
// like, then measures) and returns its exit status.
inline int ParseAndRun(CLI::App& cli, int argc, char** argv, const char* name, const std::function<int()>& body) {
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name, e.what());
    return 2;
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace respct::bench
