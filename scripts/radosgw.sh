#!/usr/bin/env bash
# Single-node Ceph cluster (mon + 1 bluestore OSD + radosgw) on loopback, for S3 tests.
#
#   radosgw.sh install                 apt-get the Debian ceph packages (skipped when present)
#   radosgw.sh start DIR [PORT]        start (or re-start) the cluster in DIR; prints `export ...` lines
#   radosgw.sh run DIR [PORT]          same, but stays in the foreground as the supervisor
#   radosgw.sh stop DIR | status DIR   stop everything / report pids (exit 0 only when S3 answers)
#   radosgw.sh kill-rgw DIR            SIGKILL radosgw only (simulated crash)
#   radosgw.sh restart-rgw DIR         SIGKILL radosgw if alive, start it again, wait for S3
#
# PORT defaults to a free ephemeral port. Everything binds to 127.0.0.1; state lives in DIR and
# survives stop/start. All daemons, a restarted radosgw included, are children of one supervisor
# shell (`run`), which reaps them as soon as they die: PID 1 on these VMs (Firecracker's
# process_api) reaps orphans only after a delay, so killed daemons would linger as zombies.
set -euo pipefail

ACCESS_KEY=RGWTESTACCESSKEY0001
SECRET_KEY=rgwtestsecretkey00000000000000000000001
PKGS=(radosgw ceph-mon ceph-osd ceph-common)
BINS=(radosgw ceph-mon ceph-osd ceph radosgw-admin monmaptool ceph-authtool)

die() { echo "radosgw.sh: $*" >&2; exit 1; }
log() { echo "radosgw.sh: $*" >&2; }

# A pid counts as alive only if it is not a zombie (kill -0 succeeds on zombies).
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $s != Z* ]]; }
pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
rgw_port() { sed -n 's/^rgw frontends = .*endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CONF"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Any HTTP status line from radosgw means its frontend is serving.
http_ok() {
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 && printf "GET / HTTP/1.0\r\n\r\n" >&3 &&
    head -c 8 <&3 | grep -q "^HTTP/1"' "$1" 2>/dev/null
}

wait_for() { # SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.3
  done
}

cmd_install() {
  local missing=()
  for b in "${BINS[@]}"; do command -v "$b" >/dev/null || missing+=("$b"); done
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]} and not root, cannot apt-get install"
  export DEBIAN_FRONTEND=noninteractive
  local install=(apt-get install -y -q --no-install-recommends "${PKGS[@]}")
  # Refresh the package lists only when the install fails with the ones we have.
  "${install[@]}" || { apt-get update -q && "${install[@]}"; } || die "apt-get install ${PKGS[*]} failed"
}

write_conf() { # MON_PORT RGW_PORT
  cat >"$CONF" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v1:127.0.0.1:$1
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 5
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
[mon.a]
mon data = $D/mon
[osd]
osd data = $D/osd0
osd objectstore = bluestore
# The block file must live outside "osd data", else the block symlink points at itself (ELOOP).
bluestore block path = $D/osd0.block
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mkfs = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456
# The OSD is placed in the crush map by init_osd; skipping these saves two mon commands at boot.
osd crush update on start = false
osd class update on start = false
[client.rgw]
rgw data = $D/rgw
# With the metadata cache on, every bucket create/delete notifies the cache watchers, and the
# watch of a SIGKILLed radosgw lingers for 30 s: the first such call after restart-rgw hung ~27 s.
rgw cache enabled = false
rgw frontends = beast endpoint=127.0.0.1:$2
rgw gc obj min wait = 60
rgw gc processor period = 60
EOF
}

ceph_() { ceph -c "$CONF" --connect-timeout 10 "$@" 2>>"$D/log/cli.log"; }
start_daemon() { # NAME COMMAND... : a foreground child of this shell, pid recorded in run/NAME.pid
  local name=$1; shift
  "$@" -f -c "$CONF" >>"$D/log/$name.out" 2>&1 &
  echo $! >"$RUN/$name.pid"
}
start_mon() { start_daemon mon ceph-mon -i a; }
start_osd() { start_daemon osd ceph-osd -i "$(cat "$D/osd.id")"; }
start_rgw() { start_daemon rgw radosgw -n client.rgw; }
mon_ready() { ceph_ mon stat >/dev/null; }
osd_ready() { ceph_ osd stat | grep -q ' 1 up'; }
rgw_ready() { http_ok "$(rgw_port)"; }

# Start daemon NAME and wait for it to be ready. With two clusters starting at once on 2 CPUs,
# Pacific clients sometimes send a mon command before the monmap arrives (fsid 0 -> EPERM
# "wrong fsid") and the daemon exits; one that dies before it is ready is started again.
launch() { # NAME TIMEOUT
  local name=$1 attempt deadline
  for attempt in 1 2 3; do
    "start_$name"
    deadline=$((SECONDS + $2))
    until "${name}_ready"; do
      if ! alive "$(pid_of "$name")"; then
        log "$name exited during start-up (attempt $attempt, log: $D/log)"
        continue 2
      fi
      ((SECONDS < deadline)) || { log "timed out waiting for $name"; return 1; }
      sleep 0.3
    done
    return 0
  done
  return 1
}

stop_pid() { # NAME SIGNAL-FIRST: signal, wait up to 30 s, then SIGKILL
  local pid; pid=$(pid_of "$1")
  [[ -n $pid ]] && alive "$pid" || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  wait_for 30 "$1 to exit" eval "! alive $pid" || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_daemons() {
  stop_pid rgw TERM; stop_pid osd TERM; stop_pid mon TERM
  rm -f "$D/env" "$RUN/supervisor.pid"
}

init_cluster() { # MON_PORT RGW_PORT: runs once per DIR
  mkdir -p "$D/mon" "$D/osd0" "$D/rgw"
  write_conf "$1" "$2"
  local fsid; fsid=$(sed -n 's/^fsid = //p' "$CONF")
  monmaptool --create --add a "v1:127.0.0.1:$1" --fsid "$fsid" "$D/monmap" >/dev/null
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" >>"$D/log/mkfs.out" 2>&1
}

# The same monmap race can fail a CLI call, so each idempotent one gets retried.
init_osd() {
  local uuid id; uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(wait_for 60 "ceph osd new" ceph_ osd new "$uuid")
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >>"$D/log/mkfs.out" 2>&1
  wait_for 60 "crush bucket" ceph_ osd crush add-bucket localhost host >/dev/null
  wait_for 60 "crush move" ceph_ osd crush move localhost root=default >/dev/null
  wait_for 60 "crush add" ceph_ osd crush add "osd.$id" 1.0 host=localhost >/dev/null
  echo "$id" >"$D/osd.id"
}

rgw_user() {
  local admin=(radosgw-admin -c "$CONF" -n client.rgw)
  "${admin[@]}" user info --uid=test >/dev/null 2>&1 ||
    "${admin[@]}" user create --uid=test --display-name=test \
      --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null 2>>"$D/log/cli.log"
}

print_env() {
  local url="http://127.0.0.1:$(rgw_port)"
  printf 'export %s=%s\n' AWS_ENDPOINT_URL "$url" S3_ENDPOINT_URL "$url" \
    AWS_ACCESS_KEY_ID "$ACCESS_KEY" AWS_SECRET_ACCESS_KEY "$SECRET_KEY" AWS_DEFAULT_REGION us-east-1
}

cmd_run() { # PORT: foreground supervisor
  cmd_install
  mkdir -p "$RUN" "$D/log"
  [[ ! -s $RUN/supervisor.pid ]] || ! alive "$(pid_of supervisor)" || die "already running in $D"
  echo $$ >"$RUN/supervisor.pid"
  rm -f "$D/env"
  # Whatever way this shell ends (set -e failure, signal, normal stop), take the daemons down.
  trap stop_daemons EXIT
  trap 'exit 143' TERM INT
  local fresh=0 port=${1:-}
  if [[ ! -f $CONF ]]; then
    fresh=1
    init_cluster "$(free_port)" "${port:-$(free_port)}"
  elif [[ -n $port ]]; then
    sed -i "s/^rgw frontends = .*/rgw frontends = beast endpoint=127.0.0.1:$port/" "$CONF"
  fi
  launch mon 60
  ((fresh)) && init_osd
  launch osd 120
  launch rgw 120
  ((fresh)) && wait_for 60 "the S3 user" rgw_user
  print_env >"$D/env.tmp" && mv "$D/env.tmp" "$D/env"
  print_env
  # Signals only set flags; the loop acts on them, so no trap runs in the middle of another.
  local stopping=0 restart=0
  trap 'stopping=1' TERM INT
  trap 'restart=1' USR1
  while ((!stopping)); do
    if ((restart)); then
      restart=0
      stop_pid rgw KILL
      launch rgw 120 || true # restart-rgw reports the failure: it waits for S3 itself
    fi
    sleep 0.2 & wait $! || true
  done
}

cmd_start() { # PORT
  if [[ -s $D/env ]] && alive "$(pid_of supervisor)"; then cat "$D/env"; return 0; fi
  mkdir -p "$D/log"
  local t0=$SECONDS
  setsid bash "$0" run "$D" "${1:-}" >>"$D/log/supervisor.log" 2>&1 </dev/null &
  local pid=$!
  until [[ -s $D/env ]]; do
    alive "$pid" || { tail -n 20 "$D/log/supervisor.log" >&2; die "start failed (log: $D/log)"; }
    sleep 0.3
  done
  log "started in $((SECONDS - t0)) s"
  cat "$D/env"
}

cmd_stop() {
  local pid; pid=$(pid_of supervisor)
  if [[ -n $pid ]] && alive "$pid"; then
    kill -TERM "$pid"
    wait_for 90 "the supervisor to stop" eval "! alive $pid"
  else
    stop_daemons # supervisor gone (e.g. SIGKILLed): clean up whatever it left
  fi
}

cmd_status() {
  local rc=0 name pid
  for name in supervisor mon osd rgw; do
    pid=$(pid_of "$name")
    if [[ -n $pid ]] && alive "$pid"; then echo "$name $pid running"; else echo "$name ${pid:--} stopped"; rc=3; fi
  done
  if [[ -f $CONF ]] && http_ok "$(rgw_port)"; then print_env; else echo "s3 unreachable"; rc=3; fi
  return $rc
}

cmd_kill_rgw() {
  local pid; pid=$(pid_of rgw)
  [[ -n $pid ]] && alive "$pid" || return 0
  kill -KILL "$pid"
  wait_for 30 "radosgw to die" eval "! alive $pid"
}

cmd_restart_rgw() {
  local old sup; old=$(pid_of rgw); sup=$(pid_of supervisor)
  [[ -n $sup ]] && alive "$sup" || die "no supervisor running in $D"
  kill -USR1 "$sup"
  wait_for 30 "a new radosgw" eval '[[ $(pid_of rgw) != "$old" ]] && alive "$(pid_of rgw)"'
  wait_for 120 "radosgw on port $(rgw_port)" rgw_ready
  log "radosgw restarted, pid $(pid_of rgw)"
}

cmd=${1:-}; shift || true
[[ $cmd == install ]] && { cmd_install; exit; }
[[ -n ${1:-} ]] || die "usage: $0 install | {start|run} DIR [PORT] | {stop|status|kill-rgw|restart-rgw} DIR"
[[ $cmd == start || $cmd == run ]] && mkdir -p "$1"
[[ -d $1 ]] || die "no such directory: $1"
D=$(cd "$1" && pwd); shift
RUN=$D/run
CONF=$D/ceph.conf
case $cmd in
  run) cmd_run "${1:-}" ;;
  start) cmd_start "${1:-}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill-rgw) cmd_kill_rgw ;;
  restart-rgw) cmd_restart_rgw ;;
  *) die "unknown command: $cmd" ;;
esac
