// respct's restart-safe pthread synchronisation objects: the whole pthread
// mutex/rwlock/cond/spin/barrier family with pthread signatures, implemented
// in the caller's storage with no kernel tid and no per-process pointer in
// it. The preload layer exports the pthread_* names and forwards here.
#pragma once

#include "runtime/sync/barrier.h"
#include "runtime/sync/cond.h"
#include "runtime/sync/lock_depth.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/owner_id.h"
#include "runtime/sync/rwlock.h"
#include "runtime/sync/safepoint_hooks.h"
#include "runtime/sync/spin.h"
