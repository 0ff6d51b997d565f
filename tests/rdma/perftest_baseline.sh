#!/usr/bin/env bash
# The raw Soft-RoCE baseline that the rdma:// transport is compared with:
# perftest's ib_write_bw and ib_write_lat, server and client both on the
# guest's rxe device, connected over 127.0.0.1, GID ::ffff:127.0.0.1 (RoCE
# v2). Small runs: TCG makes every number here a same-run baseline, never an
# absolute one. Fails when either side fails or prints no result.
#
# Runs inside tools/vm/run-in-guest.sh (RESPCT_GUEST_RDMA_DEV).
set -euo pipefail
dev=${RESPCT_GUEST_RDMA_DEV:?"run me inside tools/vm/run-in-guest.sh"}

# The GID index of the IPv4-mapped loopback address.
gid_index=""
for gid in /sys/class/infiniband/"$dev"/ports/1/gids/*; do
  if [[ "$(cat "$gid" 2>/dev/null)" == 0000:0000:0000:0000:0000:ffff:7f00:0001 ]]; then
    gid_index=${gid##*/}
    break
  fi
done
[[ -n "$gid_index" ]] || { echo "perftest_baseline: $dev has no ::ffff:127.0.0.1 GID" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_pair TOOL ARGS...: server in the background, then the client, which
# retries (20 s at most) while the server is not listening yet. Prints the
# client's report.
run_pair() {
  local tool=$1
  shift
  local common=(-d "$dev" -x "$gid_index" -F "$@")
  "$tool" "${common[@]}" >"$work/$tool.server" 2>&1 &
  local server=$!
  local client_rc=1
  for _ in $(seq 1 40); do
    if "$tool" "${common[@]}" 127.0.0.1 >"$work/$tool.client" 2>&1; then
      client_rc=0
      break
    fi
    kill -0 "$server" 2>/dev/null || break  # the server gave up: no use retrying
    sleep 0.5
  done
  # A server whose client gave up would wait for it forever.
  [[ $client_rc -eq 0 ]] || kill "$server" 2>/dev/null
  local server_rc=0
  wait "$server" || server_rc=$?
  cat "$work/$tool.client"
  if [[ $client_rc -ne 0 || $server_rc -ne 0 ]]; then
    echo "perftest_baseline: $tool failed (client exit $client_rc, server exit $server_rc); server said:" >&2
    cat "$work/$tool.server" >&2
    exit 1
  fi
}

# result_fields FILE: the numbers of the line under perftest's "#bytes" header.
result_fields() { awk '/#bytes/ { getline; print; exit }' "$1"; }

# measure TOOL FIELD ARGS...: run_pair until FIELD (1-based) of the result
# line is a number. perftest turns TSC cycles into time with a clock rate it
# samples at start-up; under TCG on a busy host the sample can fail and
# every figure comes out "inf". Three attempts, then give up.
measure() {
  local tool=$1 field=$2
  shift 2
  local attempt value
  for attempt in 1 2 3; do
    run_pair "$tool" "$@"
    value=$(result_fields "$work/$tool.client" | awk -v f="$field" '{ print $f }')
    if [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v v="$value" 'BEGIN { exit !(v > 0) }'; then
      return 0
    fi
    echo "perftest_baseline: $tool attempt $attempt gave no usable result ('$value')" >&2
  done
  exit 1
}

measure ib_write_bw 4 -n 500 -s 65536
read -r bytes iters bw_peak bw_avg msg_rate <<<"$(result_fields "$work/ib_write_bw.client")"
measure ib_write_lat 5 -n 500 -s 8
read -r lat_bytes lat_iters t_min t_max t_typical t_avg _ <<<"$(result_fields "$work/ib_write_lat.client")"

echo
echo "perftest baseline on $dev (rxe over lo, TCG guest):"
echo "  ib_write_bw   ${bytes} B x ${iters}: average ${bw_avg} MB/s (peak ${bw_peak} MB/s, ${msg_rate} Mpps)"
echo "  ib_write_lat  ${lat_bytes} B x ${lat_iters}: typical ${t_typical} us, average ${t_avg} us, min ${t_min} us, max ${t_max} us"
