#!/usr/bin/env bash
# ctest's rdma_guest_boot: boots one QEMU guest and runs every registered
# guest test in it (run-guest-tests.sh), leaving each test's log and exit
# status in DIR/results for the per-test ctest entries (guest-result.sh).
# When the guest cannot start (run-in-guest.sh exits 125), records why in
# DIR/results/SKIPPED and exits 77: ctest shows the tier as skipped.
#
#   guest-batch.sh RUN_IN_GUEST DIR TIMEOUT [--pmem SIZE]
set -uo pipefail
[[ $# -ge 3 ]] || { echo "usage: guest-batch.sh RUN_IN_GUEST DIR TIMEOUT [--pmem SIZE]" >&2; exit 2; }
run_in_guest=$1 dir=$2 timeout_s=$3
shift 3
readonly skip_code=77
results=$dir/results
rm -rf "$results"
mkdir -p "$results"

stderr_file=$results/run-in-guest.stderr
start=$(date +%s)
"$run_in_guest" "$@" --timeout "$timeout_s" --keep-console "$results/console.log" -- \
  bash "$(dirname "$0")/run-guest-tests.sh" "$dir" 2> >(tee "$stderr_file" >&2)
rc=$?
wait  # for tee
echo "rdma_guest_boot: guest run took $(( $(date +%s) - start )) s wall (exit $rc)"
if [[ $rc -eq 125 ]]; then
  reason=$(grep -m 1 '^run-in-guest: ' "$stderr_file" | sed 's/^run-in-guest: //')
  echo "${reason:-run-in-guest.sh could not start the guest}" >"$results/SKIPPED"
  echo "rdma_guest_boot: SKIPPED, the QEMU guest tier is unavailable: $(cat "$results/SKIPPED")"
  exit "$skip_code"
fi
exit "$rc"
