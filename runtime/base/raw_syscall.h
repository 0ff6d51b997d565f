// A system call issued with inline asm instead of through syscall(3):
// it never touches errno, needs no dlsym and allocates nothing, so it works
// before the runtime is initialised and in a signal handler. The shim
// interposes syscall(3) itself (preload/futex_calls.cc) and the lock
// implementations must not clobber the program's errno (runtime/sync/futex.h).
// Returns the kernel's result: negative errno on failure.
#pragma once

namespace respct {

inline long RawSyscall(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                       long a6 = 0) noexcept {
  long result;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  asm volatile("syscall"
               : "=a"(result)
               : "0"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
}

}  // namespace respct
