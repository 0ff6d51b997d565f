#!/usr/bin/env bash
# One line on what the last ctest run did with the rdma tier, from ctest's
# own log (Testing/Temporary/LastTest.log). ctest logs a skipped test as
# "Test Passed.", so skips are recognised by the line guest-result.sh
# prints for them.
#
#   tier-summary.sh BUILD_DIR
#   -> rdma tier: 3 tests ran (3 passed, 0 failed), 0 skipped
#   -> rdma tier: 0 tests ran, 3 skipped (missing qemu-system-x86_64 ...)
set -euo pipefail
build=${1:?usage: tier-summary.sh BUILD_DIR}
log=$build/Testing/Temporary/LastTest.log
[[ -f "$log" ]] || { echo "rdma tier: no ctest log at $log"; exit 1; }
# The registered guest tests (cmake/GuestTests.cmake); not `ctest -N`,
# which would overwrite the log.
list=$build/guest-tests/tests.list
[[ -f "$list" ]] || { echo "rdma tier: no guest tests registered ($list missing)"; exit 0; }
mapfile -t names < <(cut -d'|' -f1 "$list")
awk -v wanted="$(printf '%s\n' "${names[@]}")" '
  BEGIN { n = split(wanted, w, "\n"); for (i = 1; i <= n; i++) if (w[i] != "") want[w[i]] = 1 }
  /^[0-9]+\/[0-9]+ Testing: / { name = $3; skipped = 0; next }
  /^SKIPPED: the QEMU guest tier is unavailable: / && (name in want) {
    skipped = 1; reason = substr($0, length("SKIPPED: the QEMU guest tier is unavailable: ") + 1)
  }
  /^Test (Passed|Failed)\./ && (name in want) {
    if (skipped) skips++; else if ($2 == "Passed.") passed++; else failed++
    name = ""
  }
  /^Test Not Run\./ && (name in want) { failed++; name = "" }
  END {
    ran = passed + failed
    line = sprintf("rdma tier: %d tests ran", ran)
    if (ran) line = line sprintf(" (%d passed, %d failed)", passed, failed)
    line = line sprintf(", %d skipped", skips)
    if (skips) line = line " (" reason ")"
    if (ran + skips < length(want)) line = line sprintf(", %d not in the last run", length(want) - ran - skips)
    print line
  }' "$log"
