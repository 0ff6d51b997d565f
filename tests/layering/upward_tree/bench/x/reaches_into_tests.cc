// A benchmark compiling a test's helper: check-layering must refuse it.
#include "tests/protocol/protocol_env.h"
