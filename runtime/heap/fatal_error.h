// How the heap reports misuse it cannot survive (invalid or double free,
// corrupted metadata): one line on stderr written with write(2), then abort().
// Nothing here allocates, so it is safe from inside malloc.
#pragma once

namespace respct::heap {

[[noreturn]] void AbortOnHeapMisuse(const char* what, const void* pointer);

}  // namespace respct::heap
