#!/usr/bin/env bash
# Two libvirt "nodes", node01 and node02, on this one machine, for the end-to-end tests
# (design.md section 6).
#
# Each node is a mount namespace (unshare --mount, private propagation) held open by a small
# holder process. Inside it, libvirt's directories and the node's data directory are bind mounts
# from under the state directory, so the two libvirtd daemons and their QEMU processes never see
# each other's config, sockets, domain state, caches, logs or node-local disks:
#
#   /etc/libvirt         <- STATE/NODE/etc    (libvirtd.conf, qemu.conf, persistent domain XML)
#   /run/libvirt         <- STATE/NODE/run    (sockets, pid files, running domain status)
#   /var/lib/libvirt     <- STATE/NODE/lib
#   /var/cache/libvirt   <- STATE/NODE/cache  (QEMU capabilities cache)
#   /var/log/libvirt     <- STATE/NODE/log    (libvirtd.log, qemu/DOMAIN.log)
#   KM_E2E_DATA_DIR      <- STATE/NODE/data   (node-local disks and serial logs; default
#                                              /var/lib/kubemigrate)
#
# The same path (say /var/lib/kubemigrate/vm.img) is therefore a different file on each node,
# as on two real machines: a copy-storage migration really copies (design.md section 6).
#
# Each libvirtd has its own host_uuid (libvirt refuses to migrate to "the same host"), listens on
# TCP on 127.0.0.1 only, on its own port, and gives QEMU its own migration port range.
#
# FOR TESTS ONLY: the TCP listener has auth_tcp = "none" (anyone on this machine who can reach
# 127.0.0.1 controls the daemon, as root) and QEMU runs as root without a security driver.
# Never use these settings on a real node.
#
# Usage: nodes.sh up | down | status | env | pid NODE | exec NODE CMD [ARG...]
#   up      start both nodes (idempotent: nodes already answering are left alone) and wait until
#           each answers `virsh -c qemu+tcp://127.0.0.1:PORT/system version`
#   down    kill everything running in the nodes' namespaces (libvirtd, QEMU, commands started
#           with `exec`); the bind mounts exist only in those namespaces and go with them.
#           Idempotent. The state directory is kept (logs); delete it yourself.
#   status  print each node's state; exit 0 only when both answer
#   env     print shell assignments (URIs, ports, pids) for `eval "$(nodes.sh env)"`
#   pid     print the pid of NODE's namespace holder (for nsenter --mount=/proc/PID/ns/mnt)
#   exec    run CMD inside NODE's mount namespace (e.g. node02's migration engine)
#
# Environment (all optional; set them to run a second pair beside someone else's):
#   KM_E2E_STATE_DIR                 state directory (default /tmp/km-e2e-nodes)
#   KM_E2E_NODE01_PORT               node01 libvirtd TCP port (default 17001)
#   KM_E2E_NODE02_PORT               node02 libvirtd TCP port (default 17002)
#   KM_E2E_NODE01_MIGRATION_PORTS    node01 QEMU migration port range (default 49300-49349)
#   KM_E2E_NODE02_MIGRATION_PORTS    node02 QEMU migration port range (default 49350-49399)
#   KM_E2E_DATA_DIR                  path of the per-node data directory inside each namespace
#                                    (default /var/lib/kubemigrate)
#   KM_E2E_LOG_LEVEL                 libvirtd log level 1 (debug) .. 4 (error) (default 3)
#   KM_E2E_WAIT_SECONDS              how long `up` waits for a daemon to answer (default 60)
#   KM_E2E_CAPS_CACHE                a directory to keep libvirt's QEMU capabilities cache in
#                                    between runs (optional): probing QEMU is most of the time
#                                    `up` takes; libvirt re-probes when the cache is stale
set -euo pipefail

readonly NODES=(node01 node02)
STATE_DIR=${KM_E2E_STATE_DIR:-/tmp/km-e2e-nodes}
DATA_DIR=${KM_E2E_DATA_DIR:-/var/lib/kubemigrate}
LOG_LEVEL=${KM_E2E_LOG_LEVEL:-3}
WAIT_SECONDS=${KM_E2E_WAIT_SECONDS:-60}
CAPS_CACHE=${KM_E2E_CAPS_CACHE:-}
declare -A PORT=(
  [node01]=${KM_E2E_NODE01_PORT:-17001}
  [node02]=${KM_E2E_NODE02_PORT:-17002}
)
declare -A MIGRATION_PORTS=(
  [node01]=${KM_E2E_NODE01_MIGRATION_PORTS:-49300-49349}
  [node02]=${KM_E2E_NODE02_MIGRATION_PORTS:-49350-49399}
)
# Host paths that become private per node. Each must exist as a mount point on the host; `up`
# creates the missing ones empty (a fresh machine has no /run/libvirt or /var/lib/libvirt).
readonly LIBVIRT_DIRS=(etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt
  cache:/var/cache/libvirt log:/var/log/libvirt)

die() {
  echo "nodes.sh: $*" >&2
  exit 1
}
log() { echo "nodes.sh: $*" >&2; }

check_settings() {
  [[ $STATE_DIR == /* ]] || die "KM_E2E_STATE_DIR must be an absolute path, got '$STATE_DIR'"
  [[ $DATA_DIR == /* ]] || die "KM_E2E_DATA_DIR must be an absolute path, got '$DATA_DIR'"
  [[ $LOG_LEVEL =~ ^[1-4]$ ]] || die "KM_E2E_LOG_LEVEL must be 1..4, got '$LOG_LEVEL'"
  local n
  for n in "${NODES[@]}"; do
    if ! [[ ${PORT[$n]} =~ ^[0-9]+$ ]] || ((PORT[$n] < 1 || PORT[$n] > 65535)); then
      die "$n: libvirtd port must be 1..65535, got '${PORT[$n]}'"
    fi
    if ! [[ ${MIGRATION_PORTS[$n]} =~ ^([0-9]+)-([0-9]+)$ ]] ||
      ((BASH_REMATCH[1] < 1 || BASH_REMATCH[1] > BASH_REMATCH[2] || BASH_REMATCH[2] > 65535)); then
      die "$n: migration ports must be MIN-MAX within 1..65535, got '${MIGRATION_PORTS[$n]}'"
    fi
  done
  [[ ${PORT[node01]} != "${PORT[node02]}" ]] || die "node01 and node02 need different ports"
  local a1=${MIGRATION_PORTS[node01]%-*} b1=${MIGRATION_PORTS[node01]#*-}
  local a2=${MIGRATION_PORTS[node02]%-*} b2=${MIGRATION_PORTS[node02]#*-}
  ((b1 < a2 || b2 < a1)) || die "node01 and node02 migration port ranges overlap"
}

uri() { echo "qemu+tcp://127.0.0.1:${PORT[$1]}/system"; }

is_node() {
  local n
  for n in "${NODES[@]}"; do [[ $1 == "$n" ]] && return 0; done
  return 1
}

mntns_of() { readlink "/proc/$1/ns/mnt" 2>/dev/null; }

# The holder's pid when it is alive and still the process we started (same namespace as
# recorded at `up`), else nothing. Pids are reused; the recorded namespace guards against that.
holder_pid() {
  local dir=$STATE_DIR/$1 pid ns
  pid=$(cat "$dir/holder.pid" 2>/dev/null) || return 0
  ns=$(cat "$dir/mntns" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ "$(mntns_of "$pid")" == "$ns" && "$ns" != "$(mntns_of $$)" ]] || return 0
  echo "$pid"
}

answers() { timeout 10 virsh -q -c "$(uri "$1")" version >/dev/null 2>&1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
  local n=$1 dir=$STATE_DIR/$1
  if [[ ! -s $dir/host_uuid ]]; then
    cat /proc/sys/kernel/random/uuid >"$dir/host_uuid"
  fi
  cat >"$dir/etc/libvirtd.conf" <<EOF
# Written by tests/e2e/nodes.sh for test node $n. FOR TESTS ONLY.
# TCP without TLS and without authentication, bound to loopback: test nodes on one machine only.
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "${PORT[$n]}"
auth_tcp = "none"
# The unix socket lives in this node's private /run/libvirt, root only.
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
# libvirt refuses a migration whose peer has its own host UUID; two daemons on one machine
# would otherwise share the machine's.
host_uuid = "$(cat "$dir/host_uuid")"
log_outputs = "$LOG_LEVEL:file:/var/log/libvirt/libvirtd.log"
EOF
  cat >"$dir/etc/qemu.conf" <<EOF
# Written by tests/e2e/nodes.sh for test node $n. FOR TESTS ONLY.
# QEMU runs as root with no security driver: a fresh machine has no libvirt-qemu user (that
# comes with libvirt-daemon-system, which also brings systemd units we do not want), test
# files live under root's temporary directories, and neither AppArmor nor SELinux labelling
# is wanted for throw-away guests. A real node keeps libvirt's defaults.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
# No private /dev per QEMU and no cgroups: both nodes run domains of the same name during a
# migration and would collide in the one cgroup tree of this machine; the mount namespace of
# the node already separates what matters.
namespaces = [ ]
cgroup_controllers = [ ]
# QEMU's stdout/stderr go straight to /var/log/libvirt/qemu/DOMAIN.log (no virtlogd daemon).
stdio_handler = "file"
# Incoming migrations (and copy-storage NBD servers) listen on loopback, on this node's own
# range. libvirt refuses migration_host = 127.0.0.1 ("must not be the address of the local
# machine"), so a migration names the address itself: --migrateuri tcp://127.0.0.1 (without a
# port the target picks one from its range). Without it the target offers the machine's
# hostname, which may not resolve to loopback.
migration_address = "127.0.0.2"
migration_host = "127.0.0.2"
migration_port_min = ${MIGRATION_PORTS[$n]%-*}
migration_port_max = ${MIGRATION_PORTS[$n]#*-}
EOF
}

# Starts the process that holds NODE's mount namespace: it makes the bind mounts, writes its
# pid and namespace, then sleeps until `down` kills it.
start_holder() {
  local n=$1 dir=$STATE_DIR/$1 spec sub target
  local -a binds=()
  for spec in "${LIBVIRT_DIRS[@]}"; do
    sub=${spec%%:*} target=${spec#*:}
    mkdir -p "$target" || die "cannot create mount point $target"
    binds+=("$dir/$sub" "$target")
  done
  mkdir -p "$DATA_DIR" || die "cannot create mount point $DATA_DIR"
  binds+=("$dir/data" "$DATA_DIR")
  # libvirt's QEMU driver looks up its compiled-in default user and group (libvirt-qemu) before
  # it reads qemu.conf, and fails when they do not exist. They come with libvirt-daemon-system
  # (systemd units, polkit, a host-wide daemon: not wanted here), so the namespace gets its own
  # copy of /etc/passwd and /etc/group with them added; the host's files are left alone.
  local db
  for db in passwd group; do
    cp "/etc/$db" "$dir/$db"
    if ! grep -q '^libvirt-qemu:' "$dir/$db"; then
      if [[ $db == passwd ]]; then
        echo 'libvirt-qemu:x:64055:64055:kubemigrate e2e test node:/var/lib/libvirt:/usr/sbin/nologin'
      else
        echo 'libvirt-qemu:x:64055:'
      fi >>"$dir/$db"
    fi
    binds+=("$dir/$db" "/etc/$db")
  done
  rm -f "$dir/holder.pid" "$dir/mntns"
  # shellcheck disable=SC2016 # the script is for the inner shell
  setsid unshare --mount --propagation private -- /bin/sh -c '
    set -e
    dir=$1; shift
    while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
    readlink /proc/$$/ns/mnt >"$dir/mntns.tmp"
    echo $$ >"$dir/holder.pid"
    mv "$dir/mntns.tmp" "$dir/mntns"
    exec sleep infinity
  ' holder "$dir" "${binds[@]}" </dev/null >"$dir/holder.log" 2>&1 &
  local started=$!
  disown  # `down` kills it; no "Killed" job notice from this shell
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $dir/mntns ]] && break
    kill -0 $started 2>/dev/null || die "$n: namespace holder failed: $(tr '\n' ' ' <"$dir/holder.log")"
    sleep 0.05
  done
  [[ -n "$(holder_pid "$n")" ]] || die "$n: namespace holder did not start (see $dir/holder.log)"
}

start_node() {
  local n=$1 dir=$STATE_DIR/$1 hp
  if [[ -n "$(holder_pid "$n")" ]] && answers "$n"; then
    log "$n: already up on $(uri "$n")"
    return 0
  fi
  # Half-started or stale (daemon killed, machine rebooted): start again from a clean slate.
  stop_node "$n"
  if port_in_use "${PORT[$n]}"; then
    die "$n: port ${PORT[$n]} is already in use on 127.0.0.1 (choose another with KM_E2E_${n^^}_PORT)"
  fi
  mkdir -p "$dir"/{etc,run,lib,cache,log,data}
  # /run is volatile on a real machine: no pid file or domain status survives a restart.
  rm -rf "${dir:?}/run" && mkdir -p "$dir/run"
  write_config "$n"
  if [[ -n $CAPS_CACHE && -d $CAPS_CACHE ]]; then
    mkdir -p "$dir/cache/qemu/capabilities"
    cp "$CAPS_CACHE"/*.xml "$dir/cache/qemu/capabilities/" 2>/dev/null || true
  fi
  start_holder "$n"
  hp=$(holder_pid "$n")
  if ! nsenter --mount="/proc/$hp/ns/mnt" -- \
    libvirtd --daemon --listen --pid-file /run/libvirt/libvirtd.pid \
    --config /etc/libvirt/libvirtd.conf </dev/null >>"$dir/libvirtd.out" 2>&1; then
    die "$n: libvirtd failed to start: $(tail -n 3 "$dir/libvirtd.out" | tr '\n' ' ')"
  fi
}

wait_node() {
  local n=$1 dir=$STATE_DIR/$1 deadline=$((SECONDS + WAIT_SECONDS)) pid
  until answers "$n"; do
    pid=$(cat "$dir/run/libvirtd.pid" 2>/dev/null || true)
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
      # The pid file appears a moment after --daemon returns; give it that moment.
      sleep 0.2
      pid=$(cat "$dir/run/libvirtd.pid" 2>/dev/null || true)
      if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        die "$n: libvirtd is not running; last log lines: $(tail -n 3 "$dir/log/libvirtd.log" \
          "$dir/libvirtd.out" 2>/dev/null | tr '\n' ' ')"
      fi
    fi
    ((SECONDS < deadline)) || die "$n: libvirtd did not answer on $(uri "$n") within ${WAIT_SECONDS}s (see $dir/log/libvirtd.log)"
    sleep 0.2
  done
  log "$n: up on $(uri "$n") (namespace holder pid $(holder_pid "$n"))"
}

# Kills every process of NODE: by namespace while the holder lives (libvirtd, QEMU, anything
# started with `exec`), else by the pid files libvirtd and QEMU left, checking each pid is
# still the program it was. Waits until they are gone.
stop_node() {
  local n=$1 dir=$STATE_DIR/$1 hp ns p f exe
  local -a victims=()
  hp=$(holder_pid "$n")
  if [[ -n $hp ]]; then
    ns=$(mntns_of "$hp")
    # One find for all processes: a readlink per process costs seconds on a loaded machine.
    local path link
    while read -r path link; do
      p=${path#/proc/}
      p=${p%%/*}
      [[ $p != "$hp" && $link == "$ns" ]] && victims+=("$p")
    done < <(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/mnt' -printf '%p %l\n' 2>/dev/null)
  else
    for f in "$dir/run/libvirtd.pid" "$dir"/run/qemu/*.pid; do
      [[ -f $f ]] || continue
      p=$(cat "$f" 2>/dev/null || true)
      [[ $p =~ ^[0-9]+$ ]] || continue
      exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
      [[ ${exe##*/} == libvirtd || ${exe##*/} == qemu-system-* ]] && victims+=("$p")
    done
  fi
  if ((${#victims[@]})); then
    kill -TERM "${victims[@]}" 2>/dev/null || true
    local i alive
    for ((i = 0; i < 30; i++)); do
      alive=()
      for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
      ((${#alive[@]})) || break
      sleep 0.1
    done
    if ((${#alive[@]})); then
      kill -KILL "${alive[@]}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        alive=()
        for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        ((${#alive[@]})) || break
        sleep 0.1
      done
      ((${#alive[@]} == 0)) || die "$n: processes ${alive[*]} survived SIGKILL"
    fi
  fi
  if [[ -n $hp ]]; then
    kill -KILL "$hp" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$hp" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dir/holder.pid" "$dir/mntns"
}

write_env() {
  local tmp=$STATE_DIR/nodes.env.tmp
  {
    echo "KM_E2E_STATE_DIR=$STATE_DIR"
    echo "KM_E2E_DATA_DIR=$DATA_DIR"
    local n N
    for n in "${NODES[@]}"; do
      N=${n^^}
      echo "KM_E2E_${N}_URI=$(uri "$n")"
      echo "KM_E2E_${N}_PORT=${PORT[$n]}"
      echo "KM_E2E_${N}_MIGRATION_PORTS=${MIGRATION_PORTS[$n]}"
      echo "KM_E2E_${N}_PID=$(holder_pid "$n")"
      echo "KM_E2E_${N}_DATA=$STATE_DIR/$n/data"
    done
  } >"$tmp"
  mv "$tmp" "$STATE_DIR/nodes.env"
}

need_tools() {
  local t missing=()
  for t in libvirtd virsh unshare nsenter setsid qemu-system-x86_64 timeout; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing programs: ${missing[*]} (run scripts/install-deps.sh)"
  ((EUID == 0)) || die "must run as root (mount namespaces, libvirtd in system mode)"
}

cmd=${1:-}
[[ -n $cmd ]] || die "usage: nodes.sh up|down|status|env|pid NODE|exec NODE CMD..."
shift
check_settings
case $cmd in
  up)
    need_tools
    mkdir -p "$STATE_DIR" || die "cannot create $STATE_DIR"
    # A failed `up` leaves nothing running (its logs stay in the state directory).
    up_done=0
    trap '((up_done)) || { stop_node node01; stop_node node02; log "up failed; both nodes stopped (logs in $STATE_DIR/node0*/)"; }' EXIT
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in "${NODES[@]}"; do wait_node "$n"; done
    if [[ -n $CAPS_CACHE ]]; then
      if ! { mkdir -p "$CAPS_CACHE" &&
        cp "$STATE_DIR"/node01/cache/qemu/capabilities/*.xml "$CAPS_CACHE/"; } 2>/dev/null; then
        log "could not save the capabilities cache in $CAPS_CACHE"
      fi
    fi
    write_env
    # shellcheck disable=SC2034 # read by the EXIT trap
    up_done=1
    ;;
  down)
    ((EUID == 0)) || die "must run as root"
    # Both at once: libvirtd takes about 2 s to exit on SIGTERM.
    pids=()
    for n in "${NODES[@]}"; do
      stop_node "$n" &
      pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || die "some processes could not be stopped (see above)"
    rm -f "$STATE_DIR/nodes.env"
    log "down (state kept in $STATE_DIR)"
    ;;
  status)
    rc=0
    for n in "${NODES[@]}"; do
      if [[ -z "$(holder_pid "$n")" ]]; then
        echo "$n: down"
        rc=1
      elif answers "$n"; then
        echo "$n: up $(uri "$n") pid $(holder_pid "$n")"
      else
        echo "$n: namespace up, libvirtd not answering on $(uri "$n")"
        rc=1
      fi
    done
    exit $rc
    ;;
  env)
    [[ -f $STATE_DIR/nodes.env ]] || die "no nodes up in $STATE_DIR (run nodes.sh up)"
    sed 's/^/export /' "$STATE_DIR/nodes.env"
    ;;
  pid)
    is_node "${1:-}" || die "usage: nodes.sh pid node01|node02"
    hp=$(holder_pid "$1")
    [[ -n $hp ]] || die "$1 is not up in $STATE_DIR"
    echo "$hp"
    ;;
  exec)
    is_node "${1:-}" || die "usage: nodes.sh exec node01|node02 CMD [ARG...]"
    n=$1
    shift
    (($#)) || die "usage: nodes.sh exec $n CMD [ARG...]"
    hp=$(holder_pid "$n")
    [[ -n $hp ]] || die "$n is not up in $STATE_DIR"
    exec nsenter --mount="/proc/$hp/ns/mnt" --wd="$PWD" -- "$@"
    ;;
  *) die "unknown command '$cmd' (up|down|status|env|pid|exec)" ;;
esac
