// Backtraces of the threads of a recorded process, computed from its image
// with libunwind's remote unwinding: an address space whose accessors read
// the image's regions and the module files (process_image.h), and whose
// unwind-info lookup uses each module's .eh_frame_hdr index.
//
// A parked or blocked thread's registers were saved by Boost.Context's
// jump_fcontext on its own stack at ThreadSlot::fctx. The frame it pushes
// (x86-64 SysV ELF, Boost 1.74; checked against the installed
// libboost_context.so's jump_fcontext) is 0x40 bytes:
//   0x00 mxcsr (4) + x87 control word (4)
//   0x08 r12   0x10 r13   0x18 r14   0x20 r15   0x28 rbx   0x30 rbp
//   0x38 return address into the caller of jump_fcontext
// and the caller's stack pointer after that return is fctx + 0x40.
// A thread stopped by the checkpoint signal parked inside the signal
// handler: its backtrace runs through the kernel's signal frame
// (__restore_rt) into the interrupted application code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "tools/inspect/process_image.h"

namespace respct::inspect {

// Callee-saved registers at a restart point; everything else is dead there.
struct SavedContext {
  uint64_t rip = 0, rsp = 0, rbp = 0, rbx = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
};

inline constexpr uint64_t kFcontextFrameBytes = 0x40;

// Decodes the jump_fcontext frame at `fctx` in the image.
Result<SavedContext> ContextAtFctx(ProcessImage* image, uint64_t fctx);

struct StackFrame {
  uint64_t pc = 0;
  uint64_t sp = 0;
  // The kernel's signal trampoline (__restore_rt): the signal handler's
  // frames are above it, the code the signal interrupted below.
  bool signal_trampoline = false;
  // Stopped by a signal: pc is the interrupted instruction itself, not a
  // return address.
  bool interrupted = false;
  std::string symbol;  // ProcessImage::Symbolize
  std::string module;
};

struct Backtrace {
  std::vector<StackFrame> frames;
  std::string stop_reason;  // empty when the unwind reached the outermost frame
};

// Unwinds from `ctx`; at most `max_frames` frames.
Backtrace Unwind(ProcessImage* image, const SavedContext& ctx, size_t max_frames);

}  // namespace respct::inspect
