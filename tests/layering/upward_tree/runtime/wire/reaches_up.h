// A lower layer reaching up: check-layering must refuse it.
#pragma once
#include "runtime/core/runtime.h"
