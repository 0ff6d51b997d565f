#!/bin/bash
# PID 1 of the guest that tools/vm/run-in-guest.sh boots, started by the
# initramfs after it mounted the guest's own /proc, /sys, /dev, /dev/shm and
# /run, brought up the loopback and switch_root'ed onto the host's / (9p).
# Brings up Soft-RoCE on the loopback (and the emulated NVDIMM with DAX when
# asked), runs the caller's command with its output on the virtio-serial
# port, leaves the exit status in the run directory and powers off. Every path ends in a
# power-off: PID 1 exiting would panic the kernel, which (panic=-1,
# -no-reboot) also stops QEMU, but without saying why.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly rdma_dev=rxelo
readonly pmem_mount=/run/respct-pmem

read -r cmdline </proc/cmdline
run_re=' respct\.run=([^ ]+) '
[[ " $cmdline " =~ $run_re ]] && run=${BASH_REMATCH[1]} || run=""
port=/dev/console
for p in /sys/class/virtio-ports/*; do
  read -r name <"$p/name" 2>/dev/null && [[ "$name" == respct.out ]] && port=/dev/${p##*/}
done

power_off() {
  sync
  echo o >/proc/sysrq-trigger
  sleep 30
}

# Set-up messages go to the console (kept for failures) and to the caller.
say() {
  echo "run-in-guest: $*" >/dev/console
  echo "run-in-guest: $*" >"$port"
}

fail() {
  echo "respct guest: $*" >/dev/console
  [[ -d "$run" ]] && echo "setup-failed $*" >"$run/status"
  power_off
}

[[ -n "$run" && -d "$run" ]] || fail "run directory '$run' (from the kernel command line) not found"
[[ "$port" != /dev/console ]] || fail "virtio-serial port respct.out not found"

uptime_s() {
  local up _
  read -r up _ </proc/uptime
  echo "$up"
}
# Progress with guest time on the console: where a slow boot spends it.
step() { echo "respct guest: [$(uptime_s) s] $*" >/dev/console; }
step "guest-init started"

# --- Soft-RoCE on the loopback --------------------------------------------
step "loading rdma_rxe"
modprobe -a rdma_rxe ib_uverbs rdma_ucm || fail "modprobe rdma_rxe ib_uverbs rdma_ucm failed"
rdma link add "$rdma_dev" type rxe netdev lo || fail "rdma link add $rdma_dev type rxe netdev lo failed"
step "rxe link added"
state_file=/sys/class/infiniband/$rdma_dev/ports/1/state
port_state=none
for (( i = 0; i < 300; i++ )); do
  read -r port_state <"$state_file" 2>/dev/null
  [[ "$port_state" == *ACTIVE* ]] && break
  sleep 0.2
done
[[ "$port_state" == *ACTIVE* ]] || fail "rxe port $rdma_dev/1 not ACTIVE after 60 s (state: $port_state)"
# The user-space provider must see it too, or verbs programs cannot open it.
ibv_devinfo -d "$rdma_dev" 2>&1 | grep -q PORT_ACTIVE ||
  fail "ibv_devinfo does not show $rdma_dev as PORT_ACTIVE (librxe provider missing?)"
say "rdma device $rdma_dev (rxe on lo, port ACTIVE, GID ::ffff:127.0.0.1) at $(uptime_s) s guest time"

# --- emulated NVDIMM: fsdax namespace, ext4, mounted with -o dax ----------
pmem_dir=""
if [[ -n "$(cat "$run/pmem")" ]]; then
  # nfit first, and labels initialised, or namespace creation fails (ENXIO).
  step "setting up the NVDIMM"
  modprobe -a nfit nd_pmem dax_pmem || fail "modprobe nfit nd_pmem dax_pmem failed"
  {
    ndctl disable-region all && ndctl init-labels -f all && ndctl enable-region all &&
      ndctl create-namespace -f -m fsdax
  } >/dev/console 2>&1 || fail "ndctl could not create an fsdax namespace on the emulated NVDIMM"
  [[ -b /dev/pmem0 ]] || fail "no /dev/pmem0 after creating the fsdax namespace"
  step "mkfs.ext4"
  mkfs.ext4 -q -F /dev/pmem0 >/dev/console 2>&1 || fail "mkfs.ext4 /dev/pmem0 failed"
  mkdir -p "$pmem_mount"
  mount -o dax /dev/pmem0 "$pmem_mount" || fail "mount -o dax /dev/pmem0 failed"
  grep -q "^/dev/pmem0 $pmem_mount .*dax" /proc/mounts || fail "/dev/pmem0 mounted without dax"
  chmod 1777 "$pmem_mount"
  pmem_dir=$pmem_mount
  say "pmem $pmem_dir ($(df -h --output=size "$pmem_dir" | tail -n 1 | tr -d ' ') ext4, dax) at $(uptime_s) s guest time"
fi

# --- the caller's command -------------------------------------------------
mapfile -d '' -t argv <"$run/argv"
mapfile -d '' -t envv <"$run/env"
cwd=$(cat "$run/cwd")
cd "$cwd" || fail "working directory $cwd not found in the guest"
extra=(RESPCT_GUEST_RDMA_DEV="$rdma_dev")
[[ -n "$pmem_dir" ]] && extra+=(RESPCT_GUEST_PMEM_DIR="$pmem_dir")
# A per-user runtime directory of the caller's lives on the host's /run,
# which the guest hides: give it an empty one.
for e in "${envv[@]}"; do
  if [[ "$e" == XDG_RUNTIME_DIR=/run/* ]]; then
    mkdir -p "${e#XDG_RUNTIME_DIR=}" && chmod 700 "${e#XDG_RUNTIME_DIR=}"
  fi
done

: >"$run/started"
env -i "${envv[@]}" "${extra[@]}" "${argv[@]}" </dev/null >"$port" 2>&1
rc=$?
echo "exit $rc" >"$run/status.new" && mv "$run/status.new" "$run/status"
power_off
