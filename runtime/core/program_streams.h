// The program's stdio streams at exit.
//
// exit() runs the atexit handlers (the final checkpoint among them) before
// glibc flushes the streams, so output a program left in a FILE buffer (a
// digest printf'ed to a pipe just before main returns) would reach the kernel
// only after the image was marked as a finished run. A kill in between left a
// finished image and no output. Flushing first makes "the image says the run
// exited" imply "its buffered output was written".
//
// Not async-signal-safe (it writes through the streams); runs on the exit path
// only, once the coordinator has stopped.
#pragma once

namespace respct::core {

// Writes out every byte-oriented stream's pending output the way glibc's own
// exit-time cleanup does: without taking the streams' locks, since a thread
// may hold one across a call that never returns (a read of stdin). Wide
// streams are left to glibc's cleanup, which runs next.
void FlushProgramStreams();

}  // namespace respct::core
