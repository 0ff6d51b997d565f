#!/usr/bin/env bash
# Runs one command inside a throw-away QEMU guest that has what this host
# lacks: Soft-RoCE (rdma_rxe bound to the guest's loopback) and, on request,
# an emulated NVDIMM with a DAX file system. The guest's root is the host's /
# over 9p, so host-built binaries run there unchanged, in the same directory,
# with the caller's environment. `run-in-guest.sh --help` is the manual.
set -euo pipefail

readonly EXIT_TIMEOUT=124      # the whole run exceeded --timeout; QEMU was killed
readonly EXIT_NO_TIER=125      # the guest could not be set up; CMD never ran
readonly EXIT_GUEST_DIED=123   # CMD started but the guest stopped before it finished

self_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
readonly self_dir
readonly guest_init="$self_dir/guest-init.sh"

usage() {
  cat <<'EOF'
NAME
    run-in-guest.sh - run a command inside a QEMU guest with Soft-RoCE and emulated PMem

SYNOPSIS
    tools/vm/run-in-guest.sh [--pmem SIZE] [--timeout SECONDS] [--keep-console FILE]
                             [--kernel VMLINUZ] -- CMD [ARGS...]

DESCRIPTION
    Boots Debian's packaged kernel (the newest /boot/vmlinuz-*) under
    qemu-system-x86_64 with TCG (no KVM needed), 2 vCPUs, 3 GiB of RAM and no
    network device. A small busybox initramfs (built on first use and cached)
    mounts the host's / over 9p and switch_roots onto it, so the guest sees
    the host's files, binaries and libraries at the same paths. The guest
    then loads rdma_rxe, ib_uverbs and rdma_ucm, binds an rxe device to its
    own loopback (`rdma link add rxelo type rxe netdev lo`, GIDs
    ::ffff:127.0.0.1 and ::1), and waits for the port to be ACTIVE.

    CMD runs as root in the guest, in the caller's working directory, with
    the caller's environment plus the variables below. Its standard output
    and standard error are streamed to this script's standard output (through
    a virtio-serial port); its standard input is /dev/null. When it exits, the
    guest powers off and this script exits with CMD's status.

    Everything the guest writes outside its own mounts (/proc, /sys, /dev,
    /dev/shm, /run and the PMem mount) lands on the host's file system, with
    the rights of the user running this script. The guest has no network
    device: only its own loopback (127.0.0.1, ::1) exists there.

    TCG is slow: boot to CMD takes 15-30 s, a minute or more on a busy
    machine, and CPU-bound code runs 10-30 times slower than on the host. Batch many
    tests into one run; never assert on timing inside the guest.

OPTIONS
    --pmem SIZE
        Add an emulated NVDIMM of SIZE (e.g. 2G, 512M; a multiple of 2M),
        backed by a sparse file in a temporary directory that is removed
        afterwards. The guest loads nfit, nd_pmem and dax_pmem, creates an
        fsdax namespace (/dev/pmem0), makes an ext4 file system on it and
        mounts it with -o dax at a guest-only mount point, where
        mmap(MAP_SYNC) works: libpmem2 sees real PMem there.

    --timeout SECONDS
        Kill QEMU if the whole run (boot, set-up, CMD, power-off) takes longer
        (default 1800). The script then says so and exits 124.

    --keep-console FILE
        Copy the guest's kernel console (serial port: kernel messages and the
        set-up steps) to FILE when the run ends, whatever its outcome.

    --kernel VMLINUZ
        Boot this kernel instead of the newest /boot/vmlinuz-*. Its modules
        must be installed under /lib/modules/<version>.

    -h, --help
        Print this manual.

ENVIRONMENT OF CMD
    RESPCT_GUEST_RDMA_DEV
        The rxe device's name (rxelo), e.g. for `ib_write_bw -d`.
    RESPCT_GUEST_PMEM_DIR
        With --pmem: the DAX-mounted directory (empty, writable). Unset without
        --pmem.

EXIT STATUS
    0-255  CMD's own exit status, except for the codes below, which this
           script uses like timeout(1) does:
    123    CMD started, but the guest stopped before CMD finished (kernel
           panic, or CMD powered the guest off); the console tail is printed.
    124    the whole run exceeded --timeout; QEMU was killed.
    125    the tier could not start, CMD never ran: a package is missing, the
           guest did not boot, rxe or the PMem namespace did not come up. The
           reason (and the last 40 console lines) go to standard error. Test
           drivers report this as SKIPPED.
    126    CMD was found but could not be executed.
    127    CMD was not found.

FILES
    ${XDG_CACHE_HOME:-~/.cache}/respct/guest/initramfs-<kernel>-<recipe>.cpio.gz
        The cached initramfs: busybox-static plus the virtio, 9p and
        virtio_console modules of that kernel. Delete it to rebuild.

PACKAGES
    qemu-system-x86 linux-image-amd64 busybox-static kmod cpio iproute2
    rdma-core ibverbs-providers ibverbs-utils, and with --pmem ndctl e2fsprogs.
    Install them with: tools/install-deps.sh --guest

EXAMPLES
    tools/vm/run-in-guest.sh -- ibv_devinfo -d rxelo
    tools/vm/run-in-guest.sh --pmem 1G -- sh -c 'findmnt "$RESPCT_GUEST_PMEM_DIR"'
    tools/vm/run-in-guest.sh --pmem 2G --timeout 600 -- \
        build/tests/protocol/protocol_integration_test --gtest_filter='*tcp*'
EOF
}

die_usage() {
  echo "run-in-guest: $*; see --help" >&2
  exit 2
}

no_tier() {
  echo "run-in-guest: $*" >&2
  exit "$EXIT_NO_TIER"
}

pmem_size=""
timeout_s=1800
keep_console=""
kernel=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --pmem) [[ $# -ge 2 ]] || die_usage "--pmem needs a SIZE"; pmem_size=$2; shift 2 ;;
    --timeout) [[ $# -ge 2 ]] || die_usage "--timeout needs SECONDS"; timeout_s=$2; shift 2 ;;
    --keep-console) [[ $# -ge 2 ]] || die_usage "--keep-console needs a FILE"; keep_console=$2; shift 2 ;;
    --kernel) [[ $# -ge 2 ]] || die_usage "--kernel needs a VMLINUZ"; kernel=$2; shift 2 ;;
    --) shift; break ;;
    *) die_usage "unexpected argument '$1' (the command goes after --)" ;;
  esac
done
[[ $# -gt 0 ]] || die_usage "no command given after --"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout '$timeout_s' is not a positive number of seconds"
pmem_bytes=0
if [[ -n "$pmem_size" ]]; then
  [[ "$pmem_size" =~ ^([1-9][0-9]*)([MG])$ ]] || die_usage "--pmem '$pmem_size' is not a size like 512M or 2G"
  shift_bits=20
  [[ "${BASH_REMATCH[2]}" == G ]] && shift_bits=30
  pmem_bytes=$(( BASH_REMATCH[1] << shift_bits ))
  (( pmem_bytes % (2 << 20) == 0 && pmem_bytes >= (64 << 20) )) ||
    die_usage "--pmem '$pmem_size' must be a multiple of 2M and at least 64M"
fi

# --- what the tier needs from the host ------------------------------------

missing=()
need_cmd() {  # need_cmd COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1 ||
    missing+=("$1 (package $2)")
}
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd cpio cpio
need_cmd modprobe kmod
need_cmd rdma iproute2
need_cmd ibv_devinfo ibverbs-utils
if [[ -n "$pmem_size" ]]; then
  need_cmd ndctl ndctl
  need_cmd mkfs.ext4 e2fsprogs
fi
# The initramfs needs a busybox that runs without a dynamic loader.
readonly busybox=/bin/busybox
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
  missing+=("static $busybox (package busybox-static)")
fi
if ! compgen -G '/usr/lib/*/libibverbs/librxe-rdmav*.so' >/dev/null; then
  missing+=("the rxe verbs provider (package ibverbs-providers)")
fi
if [[ -z "$kernel" ]]; then
  kernel=$(compgen -G '/boot/vmlinuz-*' | sort -V | tail -n 1 || true)
  [[ -n "$kernel" ]] || missing+=("a kernel in /boot/vmlinuz-* (package linux-image-amd64)")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  list=$(printf '%s, ' "${missing[@]}")
  no_tier "missing ${list%, }; install the guest packages with: tools/install-deps.sh --guest"
fi
[[ -r "$kernel" ]] || no_tier "cannot read kernel $kernel"
readonly kver=${kernel##*/vmlinuz-}
readonly moddir=/lib/modules/$kver
[[ -f "$moddir/kernel/drivers/infiniband/sw/rxe/rdma_rxe.ko" || -f "$moddir/kernel/drivers/infiniband/sw/rxe/rdma_rxe.ko.xz" ]] ||
  no_tier "kernel $kver has no rdma_rxe module under $moddir (package linux-image-amd64)"

# --- the initramfs, cached per kernel and recipe --------------------------

# Stage one: load just enough to mount the host's / and hand over to
# guest-init.sh there. switch_root, not chroot: modules the kernel loads on
# its own later (crc32 for rxe) are found through the new root.
# Stage one: load just enough to mount the host's / and hand over to
# guest-init.sh there. The guest's own /proc, /sys, /dev, /dev/shm and /run
# are mounted here, by the static busybox from RAM: the same mounts cost a
# second each later, when every exec is of a dynamic binary over 9p under TCG.
# switch_root, not chroot: modules the kernel loads on its own later (crc32
# for rxe) are found through the new root.
readonly stage1_init='#!/bin/busybox sh
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
stop() {
  echo "respct initramfs: $*"
  echo o >/proc/sysrq-trigger
  sleep 10
  poweroff -f
}
while read -r m; do
  insmod "/modules/$m" || stop "insmod $m failed"
done </modules.order
mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /newroot ||
  stop "cannot mount the host root over 9p"
mount -o move /dev /newroot/dev &&
  mkdir -p /newroot/dev/pts /newroot/dev/shm &&
  mount -t devpts devpts /newroot/dev/pts &&
  mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm &&
  mount -t proc proc /newroot/proc &&
  mount -t sysfs sysfs /newroot/sys &&
  mount -t tmpfs -o mode=755 tmpfs /newroot/run || stop "cannot mount the guest file systems"
ip link set lo up || stop "cannot bring up the loopback interface"
init=$(sed -n "s/.*respct\.init=\([^ ]*\).*/\1/p" /proc/cmdline)
[ -f "/newroot$init" ] || stop "guest init $init not found on the host root"
exec switch_root /newroot /bin/bash "$init"
'
readonly stage1_modules=(virtio_pci 9pnet_virtio 9p virtio_console)

build_initramfs() {  # build_initramfs OUTPUT
  local work
  work=$(mktemp -d) || return 1
  mkdir -p "$work"/{bin,proc,dev,modules}
  cp "$busybox" "$work/bin/busybox"
  local applet
  for applet in sh mount insmod mkdir sed sleep poweroff switch_root ip; do
    ln -s busybox "$work/bin/$applet"
  done
  printf '%s' "$stage1_init" >"$work/init"
  chmod 755 "$work/init"
  # Dependencies first, each module once, decompressed (busybox insmod may
  # not read .ko.xz).
  local line path name
  : >"$work/modules.order"
  while read -r line; do
    [[ "$line" == insmod\ * ]] || continue
    path=$(awk '{print $2}' <<<"$line")
    name=$(basename "${path%.xz}")
    grep -qx "$name" "$work/modules.order" && continue
    if [[ "$path" == *.xz ]]; then xz -dc "$path" >"$work/modules/$name"; else cp "$path" "$work/modules/$name"; fi
    echo "$name" >>"$work/modules.order"
  done < <(for m in "${stage1_modules[@]}"; do modprobe -S "$kver" --show-depends "$m"; done)
  (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$1.tmp.$$" && mv "$1.tmp.$$" "$1"
  local rc=$?
  rm -rf "$work"
  return $rc
}

cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/respct/guest
recipe=$( { printf '%s' "$stage1_init" "${stage1_modules[*]}"; sha256sum "$busybox"; } | sha256sum | cut -c1-12)
initramfs=$cache_dir/initramfs-$kver-$recipe.cpio.gz
if [[ ! -s "$initramfs" ]]; then
  mkdir -p "$cache_dir" || no_tier "cannot create the cache directory $cache_dir"
  build_initramfs "$initramfs" || no_tier "could not build the initramfs for kernel $kver"
fi

# The kernel, decompressed once: QEMU boots the uncompressed ELF directly
# (PVH entry), which skips the real-mode stub and the xz decompression that
# take 30-60 s under TCG on a busy machine. Kernels without an xz payload
# boot as they are.
boot_kernel=$kernel
vmlinux=$cache_dir/vmlinux-$kver
if [[ ! -s "$vmlinux" ]]; then
  xz_offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kernel" | head -n 1 | cut -d: -f1 || true)
  if [[ -n "$xz_offset" ]] &&
     xz -dcq --single-stream < <(tail -c +$(( xz_offset + 1 )) "$kernel") >"$vmlinux.tmp.$$" 2>/dev/null &&
     [[ "$(head -c 4 "$vmlinux.tmp.$$")" == $'\x7fELF' ]]; then
    mv "$vmlinux.tmp.$$" "$vmlinux"
  else
    rm -f "$vmlinux.tmp.$$"
  fi
fi
[[ -s "$vmlinux" ]] && boot_kernel=$vmlinux

# --- the run directory: the command, its environment, its results ---------

# The guest mounts its own /run, /dev and /dev/shm: the run directory must be
# elsewhere to be seen by both sides.
tmp_base=${TMPDIR:-/tmp}
case "$tmp_base/" in
  /run/* | /dev/* | /proc/* | /sys/*) tmp_base=/var/tmp ;;
esac
rundir=$(mktemp -d "$tmp_base/respct-guest.XXXXXX") || no_tier "cannot create a temporary directory in $tmp_base"
[[ "$rundir$guest_init" != *[[:space:]]* ]] ||
  no_tier "paths with spaces cannot go on the kernel command line: $rundir, $guest_init"
qemu_pid=""
tail_pid=""
cleanup() {
  [[ -n "$qemu_pid" ]] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  [[ -n "$tail_pid" ]] && kill "$tail_pid" 2>/dev/null
  [[ -n "$keep_console" && -f "$rundir/console.log" ]] && cp "$rundir/console.log" "$keep_console"
  rm -rf "$rundir"
}
trap cleanup EXIT
trap 'echo "run-in-guest: interrupted, stopping the guest" >&2; exit 130' INT TERM HUP

printf '%s\0' "$@" >"$rundir/argv"
env -0 >"$rundir/env"
pwd >"$rundir/cwd"
echo "$pmem_size" >"$rundir/pmem"
: >"$rundir/output"

mem=3G
machine=(-machine pc -m "$mem")
pmem_args=()
if [[ -n "$pmem_size" ]]; then
  truncate -s "$pmem_bytes" "$rundir/pmem.img" || no_tier "cannot create the NVDIMM backing file in $rundir"
  machine=(-machine "pc,nvdimm=on" -m "$mem,slots=2,maxmem=$(( 3 + (pmem_bytes >> 30) + 1 ))G")
  pmem_args=(-object "memory-backend-file,id=nv,share=on,mem-path=$rundir/pmem.img,size=$pmem_bytes,align=2M"
             -device "nvdimm,id=nv1,memdev=nv,label-size=128K")
fi

# The command's output leaves through a virtio-serial port into a regular
# file (never a pipe or stdin-bound chardev: those can stall the guest's
# writes), which tail streams to our standard output as it grows.
timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 \
  -nodefaults -no-user-config -no-reboot -display none -monitor none \
  -accel tcg,thread=multi -cpu max -smp 2 "${machine[@]}" \
  -kernel "$boot_kernel" -initrd "$initramfs" \
  -append "console=ttyS0 quiet panic=-1 mitigations=off respct.init=$guest_init respct.run=$rundir" \
  -nic none \
  -serial "file:$rundir/console.log" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,multidevs=remap \
  -device virtio-serial-pci \
  -chardev "file,id=out,path=$rundir/output,append=on" \
  -device virtserialport,chardev=out,name=respct.out \
  "${pmem_args[@]}" \
  </dev/null >"$rundir/qemu.log" 2>&1 &
qemu_pid=$!
# In the background, so that a signal to this script is handled at once.
tail -c +1 -s 0.2 -f --pid="$qemu_pid" "$rundir/output" &
tail_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
wait "$tail_pid" || true
tail_pid=""

console_tail() {
  if [[ -s "$rundir/console.log" ]]; then
    echo "run-in-guest: last 40 lines of the guest console:" >&2
    tail -n 40 "$rundir/console.log" | sed 's/^/  | /' >&2
  else
    echo "run-in-guest: the guest console is empty (the kernel printed nothing yet)" >&2
  fi
  if [[ -s "$rundir/qemu.log" ]]; then
    echo "run-in-guest: qemu said:" >&2
    sed 's/^/  | /' "$rundir/qemu.log" >&2
  fi
}

status=$(cat "$rundir/status" 2>/dev/null || true)
case "$status" in
  "exit "*)
    exit "${status#exit }" ;;
  "setup-failed "*)
    echo "run-in-guest: ${status#setup-failed }" >&2
    console_tail
    exit "$EXIT_NO_TIER" ;;
esac
if [[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]]; then
  echo "run-in-guest: timed out after $timeout_s s (--timeout); QEMU killed" >&2
  console_tail
  exit "$EXIT_TIMEOUT"
fi
if [[ -e "$rundir/started" ]]; then
  echo "run-in-guest: the guest stopped before the command finished (qemu exit $qemu_rc)" >&2
  console_tail
  exit "$EXIT_GUEST_DIED"
fi
echo "run-in-guest: the guest did not boot to the point of running the command (qemu exit $qemu_rc)" >&2
console_tail
exit "$EXIT_NO_TIER"
