// RESPCT_EXPORT marks a function librespct.so defines in place of libc's:
// C linkage and default visibility (the library is built with hidden
// visibility, and exports.map then lists which of these it exports).
#pragma once

#define RESPCT_EXPORT extern "C" __attribute__((visibility("default")))
