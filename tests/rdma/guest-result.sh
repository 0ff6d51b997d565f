#!/usr/bin/env bash
# ctest entry of one guest test: prints the log that rdma_guest_boot left for
# it and exits with the test's status; 77 (skipped) with the reason when the
# guest could not start.
#
#   guest-result.sh RESULTS_DIR NAME
set -uo pipefail
results=$1 name=$2
readonly skip_code=77
if [[ -f "$results/SKIPPED" ]]; then
  echo "SKIPPED: the QEMU guest tier is unavailable: $(cat "$results/SKIPPED")"
  exit "$skip_code"
fi
if [[ ! -f "$results/$name.rc" ]]; then
  echo "$name: no result; the guest batch (rdma_guest_boot) did not run it to the end." \
       "See its output and $results/console.log"
  exit 1
fi
# shellcheck disable=SC1091
source "$results/guest.env"
echo "$name ran in the QEMU guest: kernel $KERNEL, rdma device ${RESPCT_GUEST_RDMA_DEV:-none}," \
     "pmem ${RESPCT_GUEST_PMEM_DIR:-none}"
cat "$results/$name.log"
exit "$(cat "$results/$name.rc")"
