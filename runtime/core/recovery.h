// Recovery: resuming, in a new process, the image of the last committed epoch
// (DESIGN §6). The shim runs in recovery mode when respct-recover has put
// RESPCT_RECOVER=<image file> in its environment:
//
//   __libc_start_main wrapper → Runtime::Start: Recovery::Prepare opens the
//     image and checks it against this process (build-id, libraries and their
//     load addresses, static TLS, AT_RANDOM, thread table); the regions are
//     mapped empty and the memnode session attached (no reset)
//   → the executable's constructors run (libc-side state they register, such
//     as atexit handlers, is rebuilt; what they wrote to the globals and the
//     heap is overwritten next)
//   → Runtime::ResumeMain: RestoreMemory copies meta, heap, stacks and the
//     globals (but not the library-owned parts) from the image, and of each
//     library's data what the program changed; the heap is
//     adopted (Heap::Attach); checkpointing starts with the image as the
//     shadow; every thread of the table is recreated on its own stack (so its
//     TCB and pthread_t are the same) and resumed at its saved context
//     (RestoreThreadOnFiber); checkpoints start once all are back; the
//     original thread joins main's thread and exits with its status.
//
// Nothing here runs in a signal handler.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/core/config.h"
#include "runtime/core/loaded_program.h"
#include "runtime/core/recovery_image.h"
#include "runtime/core/replicator.h"

namespace respct::core {

class Recovery {
 public:
  // Opens the image and refuses it, with a message saying what differs, when
  // it cannot be resumed by this process. Sets config->layout to the image's.
  static Result<std::unique_ptr<Recovery>> Prepare(const RuntimeConfig& config, const LoadedProgram& program,
                                                   Layout* layout);

  const RecoveryImage& image() const { return image_; }
  uint64_t epoch() const { return image_.header().epoch; }

  // Copies the image into the mapped regions; for the globals, everything
  // but `process_owned` (sorted) keeps the value this process gave it; for
  // each library's data, only what the program changed is the image's
  // (`library_startup`: this process's data of each as the runtime came up).
  void RestoreMemory(const std::vector<RegionMapping>& regions, const std::vector<AddressRange>& process_owned,
                     const std::vector<std::vector<uint8_t>>& library_startup) const;

  // On a recreated thread's fiber: its stack from the saved context up to
  // the thread wrapper's entry frame, and its static TLS block.
  void RestoreThreadStack(const ThreadSlot& slot, uintptr_t stacks_base) const;

 private:
  explicit Recovery(RecoveryImage image) : image_(std::move(image)) {}
  RecoveryImage image_;
};

}  // namespace respct::core
