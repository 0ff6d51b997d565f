// The embedded default memnode: what respct-run and respct-recover use when
// no --memnode is given. A respct-memnode on DefaultMemnodeUrl() (a unix
// socket in the state directory) with its pool at DefaultPoolPath() and its
// secret at DefaultSecretPath(); started in the background on first use,
// reused afterwards, so `respct-run -- ./prog` needs no set-up and a later
// `respct-recover -- ./prog` finds the same pool.
#pragma once

#include <string>

#include "runtime/base/status.h"

namespace respct::launch {

struct EmbeddedMemnode {
  std::string url;
  std::string secret_file;
  bool started_now = false;  // false: one was already running
  std::string log_file;
};

// Reuses the running default memnode or starts one (from `memnode_binary`),
// waiting until it accepts connections.
Result<EmbeddedMemnode> EnsureEmbeddedMemnode(const std::string& memnode_binary);

// The directory of the running executable ("/usr/bin" for /usr/bin/respct-run).
std::string SelfDirectory();

}  // namespace respct::launch
