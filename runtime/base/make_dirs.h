// Creating a directory and its missing parents (mode 0700: respct's state
// directory holds the memnode secret). The one "mkdir -p" of the project:
// memnode pools and sockets, secrets, the embedded memnode's state directory
// and recovery images all go through it.
#pragma once

#include <string>

#include "runtime/base/status.h"

namespace respct {

// Creates `dir` and any missing parent; an existing directory is fine.
Status MakeDirs(const std::string& dir);
// MakeDirs of the directory part of `path` (nothing for a bare file name).
Status MakeParentDirs(const std::string& path);

}  // namespace respct
