// The runtime's own descriptors — the memnode connection, the userfaultfd,
// /proc/self/pagemap, the log's copy of stderr, the capture's scratch pipe —
// are kept out of the program's way:
//   - each is moved, as it is created, into a reserved range at the top of
//     the descriptor limit (Adopt), so the program's own descriptors keep the
//     numbers the kernel would give them without respct, and a recovery can
//     recreate them at those numbers without meeting one of ours;
//   - the program cannot close them or dup2 over them (the interposed close,
//     close_range and dup2 answer as if they were not open), as daemons that
//     close every descriptor above 2 at start-up would.
//
// Per process, never persisted. Owned/Adopt/Forget are async-signal-safe
// (a bitmap of atomics and fcntl/close).
#pragma once

namespace respct::runtime_fds {

// Moves `fd` into the reserved range (F_DUPFD_CLOEXEC) and marks it; returns
// the new number, or `fd` itself, marked, when the range is full.
int Adopt(int fd);
// Marks `fd` as the runtime's where it is (a descriptor that must keep its
// number, such as the log's copy of stderr).
void Mark(int fd);
bool Owned(int fd);
// The runtime closed it.
void Forget(int fd);
// Calls fn(fd) for each descriptor of ours in [first, last], in order.
template <typename Fn>
void ForEachOwned(unsigned first, unsigned last, Fn&& fn);
// The lowest number of the reserved range.
int Floor();
// Recovery: the image's descriptors go up to `highest`; the range starts
// above them (raising RLIMIT_NOFILE's soft limit if it must). Call before the
// runtime opens anything.
void PlaceAbove(int highest);

// ---- implementation ----
int BitmapLimit();
template <typename Fn>
void ForEachOwned(unsigned first, unsigned last, Fn&& fn) {
  const unsigned limit = static_cast<unsigned>(BitmapLimit());
  for (unsigned fd = first; fd <= last && fd < limit; ++fd)
    if (Owned(static_cast<int>(fd))) fn(static_cast<int>(fd));
}

}  // namespace respct::runtime_fds
