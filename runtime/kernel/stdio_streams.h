// glibc's standard streams, kept across a recovery.
//
// stdin, stdout and stderr (the FILE objects _IO_2_1_std*_ and their locks),
// the `stdin`/`stdout`/`stderr` variables and the list of open streams
// (_IO_list_all) live in libc's own data, which a recovery does not restore:
// libc initialises itself again in the new process (DESIGN §2). Without them a
// recovered program lost what it had done to its streams:
//   - the buffering it chose (setvbuf): a line-buffered stdout into a pipe came
//     back fully buffered, so its lines appeared only at exit (a crash
//     campaign killed such a run after its final checkpoint and saw no result);
//   - bytes waiting in a stream's buffer at the capture (the buffer is malloc'ed,
//     so it is in the persisted heap; the pointers to it were not);
//   - the lock of a stream held by a thread parked inside stdio (it would
//     resume and unlock a lock it no longer held);
//   - the streams it had fopen'ed, reachable at exit only from _IO_list_all:
//     their buffered output was never written.
// So the bytes of these objects are copied into the kernel region under every
// pause and written back before any thread resumes. Only what points where a
// recovery makes valid again is restored: the buffers must be null, inside the
// FILE itself, or in the persisted heap; a stream that fails this keeps the new
// process's state and the recovery says so.
//
// The FILE layout is glibc's public struct _IO_FILE; the lock (_IO_lock_t,
// {int lock; int cnt; void* owner}) is glibc-internal, 16 bytes since 2.3.
// The copy is plain memory work (async-signal-safe), run on the coordinator
// thread under the pause and on the recovering thread.
#pragma once

#include <stdio.h>

#include <cstdint>
#include <string>
#include <vector>

namespace respct::heap {
class Heap;
}

namespace respct::kernel {

inline constexpr size_t kStdioLockBytes = 16;

struct StdioStream {
  uint64_t file_addr;   // &_IO_2_1_stdX_ when captured
  uint64_t lock_addr;   // its _lock (0: _IO_USER_LOCK, none)
  uint64_t variable;    // the value of stdin/stdout/stderr
  uint8_t file[sizeof(FILE)];
  uint8_t lock[kStdioLockBytes];
};

struct StdioState {
  uint32_t captured;    // 1 once an epoch copied the streams
  uint32_t reserved;
  uint64_t list_all;    // _IO_list_all
  StdioStream streams[3];
};

// Under the pause: the current state of the three streams into *s.
void CaptureStdio(StdioState* s);

// Before any thread resumes: writes the captured state back where it is
// valid; one line per stream (or list) left as the new process has it.
void RestoreStdio(const StdioState& s, const heap::Heap* heap, std::vector<std::string>* warnings);

}  // namespace respct::kernel
