// Starting a program with chosen AT_RANDOM bytes. glibc derives the
// stack-protector canary (%fs:0x28) and the pointer guard (%fs:0x30) from the
// 16 bytes the kernel puts at AT_RANDOM; the saved frames of a recovered
// thread hold the canary and mangled pointers of the process that wrote the
// image, so the new process must start with that process's bytes (DESIGN §8).
//
// No kernel interface sets them, so a helper process does it: it attaches to
// this process with ptrace, waits for the stop that follows the next execve
// (before ld.so runs a single instruction), writes the bytes over the new
// AT_RANDOM through /proc/PID/mem and detaches. The helper is a grandchild,
// reparented away, so the program never sees an unexpected child.
#pragma once

#include <cstdint>

#include "runtime/base/status.h"

namespace respct::launch {

// Call right before execve: on success the helper is attached and waiting.
Status ArrangeAtRandomForExec(const uint8_t (&bytes)[16]);

}  // namespace respct::launch
