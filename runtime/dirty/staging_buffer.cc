#include "runtime/dirty/staging_buffer.h"

#include <sys/mman.h>

#include "runtime/base/page.h"

namespace respct::dirty {

Result<std::unique_ptr<StagingBuffer>> StagingBuffer::Create(size_t capacity) {
  capacity = PageUp(capacity);
  if (capacity == 0) return Status::InvalidArgument("staging buffer: zero capacity");
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("staging buffer: mmap", errno);
  return std::unique_ptr<StagingBuffer>(new StagingBuffer(static_cast<std::byte*>(p), capacity));
}

StagingBuffer::~StagingBuffer() { munmap(base_, capacity_); }

}  // namespace respct::dirty
