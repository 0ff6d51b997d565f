#include "runtime/kernel/stdio_streams.h"

#include <cstring>

#include "runtime/heap/heap.h"

extern "C" {
// Exported by glibc since 2.2.5, declared only in its internal libio.h.
extern FILE _IO_2_1_stdin_, _IO_2_1_stdout_, _IO_2_1_stderr_;
extern FILE* _IO_list_all;
}

namespace respct::kernel {
namespace {

constexpr int kUserLock = 0x8000;  // _IO_USER_LOCK: the stream has no lock of its own
const char* const kNames[3] = {"stdin", "stdout", "stderr"};

FILE* StandardFile(int i) {
  FILE* const files[3] = {&_IO_2_1_stdin_, &_IO_2_1_stdout_, &_IO_2_1_stderr_};
  return files[i];
}

FILE** Variable(int i) {
  FILE** const vars[3] = {&stdin, &stdout, &stderr};
  return vars[i];
}

bool IsStandardFile(uint64_t p) {
  for (int i = 0; i < 3; ++i)
    if (p == reinterpret_cast<uint64_t>(StandardFile(i))) return true;
  return false;
}

// A pointer a recovery makes valid again: null, into the FILE itself (its
// one-byte unbuffered buffer), or into the persisted heap.
bool Restorable(const void* p, const FILE* f, const heap::Heap* heap) {
  if (p == nullptr) return true;
  const auto* b = static_cast<const uint8_t*>(p);
  const auto* fb = reinterpret_cast<const uint8_t*>(f);
  if (b >= fb && b <= fb + sizeof(FILE)) return true;
  return heap != nullptr && heap->Owns(p);
}

}  // namespace

void CaptureStdio(StdioState* s) {
  for (int i = 0; i < 3; ++i) {
    FILE* f = StandardFile(i);
    StdioStream& d = s->streams[i];
    d.file_addr = reinterpret_cast<uint64_t>(f);
    d.variable = reinterpret_cast<uint64_t>(*Variable(i));
    std::memcpy(d.file, f, sizeof(FILE));
    d.lock_addr = (f->_flags & kUserLock) != 0 ? 0 : reinterpret_cast<uint64_t>(f->_lock);
    if (d.lock_addr != 0) std::memcpy(d.lock, reinterpret_cast<const void*>(d.lock_addr), kStdioLockBytes);
  }
  s->list_all = reinterpret_cast<uint64_t>(_IO_list_all);
  s->captured = 1;
}

void RestoreStdio(const StdioState& s, const heap::Heap* heap, std::vector<std::string>* warnings) {
  if (s.captured == 0) return;
  for (int i = 0; i < 3; ++i) {
    const StdioStream& src = s.streams[i];
    FILE* f = StandardFile(i);
    FILE image;
    std::memcpy(&image, src.file, sizeof(FILE));
    const char* why = nullptr;
    if (src.file_addr != reinterpret_cast<uint64_t>(f)) {
      why = "libc's streams are at other addresses";
    } else if (src.lock_addr != 0 && src.lock_addr != reinterpret_cast<uint64_t>(f->_lock)) {
      why = "its lock is elsewhere";
    } else if (!Restorable(image._IO_buf_base, f, heap) || !Restorable(image._IO_save_base, f, heap) ||
               !Restorable(image._IO_backup_base, f, heap)) {
      why = "its buffer was not allocated by the program";
    }
    if (why != nullptr) {
      warnings->push_back(std::string(kNames[i]) + " keeps the new process's buffering: " + why);
      continue;
    }
    std::memcpy(static_cast<void*>(f), src.file, sizeof(FILE));
    if (src.lock_addr != 0) std::memcpy(reinterpret_cast<void*>(src.lock_addr), src.lock, kStdioLockBytes);
    if (IsStandardFile(src.variable) || (heap != nullptr && heap->Owns(reinterpret_cast<const void*>(src.variable))))
      *Variable(i) = reinterpret_cast<FILE*>(src.variable);
  }
  // The program's fopen'ed streams are heap FILEs chained down to the standard
  // ones: the list is theirs again, so exit flushes them.
  if (IsStandardFile(s.list_all) || (heap != nullptr && heap->Owns(reinterpret_cast<const void*>(s.list_all)))) {
    _IO_list_all = reinterpret_cast<FILE*>(s.list_all);
  } else if (s.list_all != 0) {
    warnings->push_back("the list of open streams was not restored: its head is not a stream of the program's");
  }
}

}  // namespace respct::kernel
