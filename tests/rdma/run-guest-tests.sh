#!/usr/bin/env bash
# Runs inside the guest (started by guest-batch.sh through run-in-guest.sh):
# every test of DIR/tests.list in registration order, each in its working
# directory under its own timeout, output to DIR/results/<name>.log and exit
# status to DIR/results/<name>.rc. A test that fails or hangs does not stop
# the others. Exits 0 once the list is done, failures included: each test's
# own ctest entry reports it (a failing fixture set-up would hide them all).
#
#   run-guest-tests.sh DIR
set -uo pipefail
dir=$1
results=$dir/results
{
  echo "RESPCT_GUEST_RDMA_DEV=${RESPCT_GUEST_RDMA_DEV:-}"
  echo "RESPCT_GUEST_PMEM_DIR=${RESPCT_GUEST_PMEM_DIR:-}"
  echo "KERNEL=$(uname -r)"
} >"$results/guest.env"

while IFS='|' read -r name timeout_s needs_pmem workdir; do
  [[ -n "$name" ]] || continue
  mapfile -t argv <"$dir/tests/$name.argv"
  log=$results/$name.log
  start=$(date +%s)
  if [[ "$needs_pmem" == 1 && -z "${RESPCT_GUEST_PMEM_DIR:-}" ]]; then
    echo "guest booted without --pmem, but this test needs RESPCT_GUEST_PMEM_DIR" >"$log"
    rc=1
  else
    # SIGTERM first, SIGKILL 10 s later: a hung test gets to say nothing
    # more, but the ones after it still run.
    (cd "$workdir" && exec timeout -k 10 "$timeout_s" "${argv[@]}") </dev/null >"$log" 2>&1
    rc=$?
    [[ $rc -eq 124 ]] && echo "guest test $name: timed out after $timeout_s s (guest wall time)" >>"$log"
  fi
  echo "$rc" >"$results/$name.rc"
  verdict=passed
  [[ $rc -eq 0 ]] || verdict="FAILED (exit $rc)"
  echo "guest test $name: $verdict in $(( $(date +%s) - start )) s"
done <"$dir/tests.list"
exit 0
