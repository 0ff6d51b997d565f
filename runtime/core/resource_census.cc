#include "runtime/core/resource_census.h"

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>

namespace respct::core {
namespace {

std::vector<int> OpenFds() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = dirfd(d);
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

}  // namespace

ResourceCensus::ResourceCensus(MetaHeader* meta, std::vector<int> own_signals)
    : meta_(meta), own_signals_(std::move(own_signals)), baseline_fds_(OpenFds()) {}

void ResourceCensus::MaybeCount(uint64_t now_ns) {
  if (now_ns - last_ns_ < kIntervalNs) return;
  last_ns_ = now_ns;
  uint32_t fds = 0;
  for (int fd : OpenFds())
    if (fd > 2 && !std::binary_search(baseline_fds_.begin(), baseline_fds_.end(), fd)) ++fds;
  uint32_t handlers = 0;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (std::find(own_signals_.begin(), own_signals_.end(), sig) != own_signals_.end()) continue;
    struct sigaction sa {};
    if (sigaction(sig, nullptr, &sa) != 0) continue;
    const bool custom = (sa.sa_flags & SA_SIGINFO) != 0 ? sa.sa_sigaction != nullptr
                                                         : sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
    if (custom) ++handlers;
  }
  meta_->program_fds = fds;
  meta_->program_signal_handlers = handlers;
}

}  // namespace respct::core
