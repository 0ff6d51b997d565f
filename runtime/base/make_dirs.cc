#include "runtime/base/make_dirs.h"

#include <sys/stat.h>

#include <cerrno>

namespace respct {

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return Status::OK();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) return Status::OK();
  const size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) RESPCT_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
  return Status::OK();
}

Status MakeParentDirs(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::OK();
  return MakeDirs(path.substr(0, slash));
}

}  // namespace respct
