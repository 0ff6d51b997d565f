#include "runtime/core/program_streams.h"

#include <stdio.h>

// glibc's list of open streams (exported since 2.2.5, declared only in its
// internal libio.h). Its elements start with a FILE.
extern "C" FILE* _IO_list_all;

namespace respct::core {

void FlushProgramStreams() {
  for (FILE* fp = _IO_list_all; fp != nullptr; fp = fp->_chain) {
    if (fp->_mode > 0) continue;  // wide-oriented
    if (fp->_IO_write_ptr > fp->_IO_write_base) fflush_unlocked(fp);
  }
}

}  // namespace respct::core
