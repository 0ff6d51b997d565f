#include "runtime/heap/fatal_error.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace respct::heap {

namespace {

// Appends s to buf at *len (bounded); no snprintf, which may allocate.
void Append(char* buf, size_t cap, size_t* len, const char* s) {
  while (*s != '\0' && *len + 1 < cap) buf[(*len)++] = *s++;
}

void AppendHex(char* buf, size_t cap, size_t* len, uintptr_t v) {
  char digits[2 + 16 + 1] = "0x";
  for (int i = 0; i < 16; ++i) digits[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
  digits[18] = '\0';
  Append(buf, cap, len, digits);
}

}  // namespace

void AbortOnHeapMisuse(const char* what, const void* pointer) {
  char line[256];
  size_t len = 0;
  Append(line, sizeof line, &len, "respct heap: ");
  Append(line, sizeof line, &len, what);
  Append(line, sizeof line, &len, " (pointer ");
  AppendHex(line, sizeof line, &len, reinterpret_cast<uintptr_t>(pointer));
  Append(line, sizeof line, &len, ")\n");
  // One write keeps the line whole if other threads are writing too.
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
  abort();
}

}  // namespace respct::heap
