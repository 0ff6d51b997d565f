// Process start-up of librespct.so (start.cc).
#pragma once

namespace respct::preload {

// Points the runtime at libc's own pthread_create/join/detach (pthread.cc).
void FillLibcEntry();

}  // namespace respct::preload
