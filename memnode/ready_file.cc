#include "memnode/ready_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>

namespace respct::memnode {

Status ReadyFile::Write(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("ready file " + tmp, errno);
  std::string text = std::to_string(pid) + "\n";
  for (const std::string& url : urls) text += url + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = ok ? 0 : (errno != 0 ? errno : EIO);
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return Status::FromErrno("ready file " + tmp, err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("ready file " + path, errno);
  return Status::OK();
}

Result<ReadyFile> ReadyFile::Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("ready file " + path + ": not written yet");
  ReadyFile r;
  std::string line;
  if (!std::getline(in, line)) return Status::Corruption("ready file " + path + ": empty");
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), r.pid);
  if (ec != std::errc() || end != line.data() + line.size() || r.pid <= 0)
    return Status::Corruption("ready file " + path + ": first line '" + line + "' is not a pid");
  while (std::getline(in, line))
    if (!line.empty()) r.urls.push_back(line);
  return r;
}

std::string ReadyFile::UrlOf(std::string_view scheme) const {
  for (const std::string& url : urls)
    if (url.size() > scheme.size() + 3 && url.compare(0, scheme.size(), scheme) == 0 &&
        url.compare(scheme.size(), 3, "://") == 0)
      return url;
  return {};
}

}  // namespace respct::memnode
