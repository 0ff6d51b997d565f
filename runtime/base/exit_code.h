// The exit status of a process that respct ends because it cannot go on
// safely: respct-run or the shim refusing to start a program, a recovery that
// cannot resume one, a tool failing. 70 is EX_SOFTWARE of <sysexits.h>
// ("internal software error"), distinct from what programs and shells use
// for their own failures (1, 2, 126, 127, 128+signal). The man pages of
// respct-run and respct-recover document it; tests check the number itself.
//
// Async-signal-safe to use (a constant), and used before the runtime is up.
#pragma once

namespace respct {

inline constexpr int kExitRespctFailure = 70;

}  // namespace respct
