// ReadyFile: what respct-memnode --ready-file announces once every listener
// accepts connections, and how a script, tool or test reads it back.
//
// Format, one item per line:
//   <pid>
//   <url>        one line per listener, as bound: tcp://127.0.0.1:0 is
//   ...          written with the port the kernel chose
// The file is written aside and renamed into place, so a reader that finds
// it finds it whole.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"

namespace respct::memnode {

struct ReadyFile {
  pid_t pid = 0;
  std::vector<std::string> urls;

  Status Write(const std::string& path) const;
  // NotFound while the memnode has not announced itself yet.
  static Result<ReadyFile> Read(const std::string& path);
  // The first listener URL with this scheme ("tcp", "shm", "rdma"); empty
  // when there is none.
  std::string UrlOf(std::string_view scheme) const;
};

}  // namespace respct::memnode
