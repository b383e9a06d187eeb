#!/usr/bin/env bash
# The Ceph RADOS Gateway test host (S3 with Object Lock) for the repository tests and `npm run s3:ceph`.
# From ../shared/ceph-rgw-recipe.sh (verified by hand on Debian 12, Ceph 16.2); usage and pitfalls below.
# ceph-rgw-recipe.sh — throw-away single-node Ceph cluster + RADOS Gateway (S3,
# with Object Lock support) for tests.  No systemd, no cephadm: every daemon is
# started by hand in the background, with its own pid file and log under DIR.
#
# Needs (Debian 12, ceph 16.2 "pacific"), installed once as root:
#   apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
#   (~55 MB download, ~224 MB on disk, 38 packages; ceph-mgr is NOT needed.)
#
# Usage:
#   ceph-rgw-recipe.sh start [DIR]   # DIR defaults to /tmp/ceph-rgw; must not exist or be empty
#   ceph-rgw-recipe.sh stop  [DIR]   # kills the daemons by pid file, then removes DIR
#   ceph-rgw-recipe.sh env   [DIR]   # prints the S3 endpoint/keys again
# or `source` it and call ceph_rgw_start DIR / ceph_rgw_stop DIR.
#
# Knobs (environment variables):
#   RGW_PORT (7480)  MON_PORT (3300, msgr2 only)  OSD_STORE (memstore|bluestore)
#   MEMSTORE_BYTES (4 GiB cap; memstore keeps every object in the OSD's RAM)
#   S3_ACCESS_KEY / S3_SECRET_KEY (fixed test credentials below by default)
#
# Everything listens on 127.0.0.1 only.  Auth is switched off (auth_* = none):
# it is a local test cluster, and this avoids all keyring handling.  S3 requests
# are still signed/checked by RGW with the S3 user's keys.
#
# Keep DIR short (< ~50 chars): admin sockets live in DIR/run and unix socket
# paths are limited to 107 bytes.
#
# After `start`, DIR/s3.env holds S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
# S3_REGION (RGW accepts any SigV4 region name) and CEPH_CONF (for `ceph`,
# `radosgw-admin`).  Client notes, checked with @aws-sdk/client-s3 3.1178:
#  * use path-style addressing (forcePathStyle: true);
#  * set requestChecksumCalculation and responseChecksumValidation to
#    "WHEN_REQUIRED": with the SDK default (since 3.729) a PutObject whose Body
#    is a stream is sent aws-chunked with a trailing CRC32, which RGW 16 rejects
#    with 411 MissingContentLength (Buffer/string bodies happen to work);
#  * RGW 16 ignores the x-amz-object-lock-* headers of CreateMultipartUpload: a
#    multipart object only gets the bucket's default retention.  Call
#    PutObjectRetention on the completed version if it needs its own retention.

_cr_log() { printf '[ceph-rgw %s] %s\n' "$(date +%T)" "$*" >&2; }
_cr_ms() { echo $(( $(date +%s%N) / 1000000 )); }                  # now, in ms
_cr_since() { local d=$(( $(_cr_ms) - $1 )); printf '%d.%03d' $((d/1000)) $((d%1000)); }

# _cr_spawn DIR NAME COMMAND... : start a daemon in the foreground mode (-f) as a
# background job, remember its pid in DIR/run/NAME.pid, stdout/stderr in DIR/log/NAME.out
_cr_spawn() {
  local dir=$1 name=$2; shift 2
  "$@" >"$dir/log/$name.out" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
}

_cr_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# _cr_wait_daemon DIR NAME SECONDS DESCRIPTION COMMAND... : retry COMMAND every
# 0.2 s until it succeeds; give up after SECONDS, or at once (showing the end of
# its output) if daemon NAME has exited
_cr_wait_daemon() {
  local dir=$1 name=$2 limit=$3 what=$4; shift 4
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if ! _cr_alive "$dir/run/$name.pid"; then
      _cr_log "$name exited while waiting for $what:"; tail -n 5 "$dir/log/$name.out" >&2; return 1
    fi
    if [ "$(date +%s)" -ge "$end" ]; then _cr_log "timeout waiting for $what"; return 1; fi
    sleep 0.2
  done
}

_ceph_rgw_start() {
  local dir=$1
  local rgw_port=${RGW_PORT:-7480} mon_port=${MON_PORT:-3300}
  local store=${OSD_STORE:-memstore}
  local ak=${S3_ACCESS_KEY:-TESTACCESSKEY0000001}
  local sk=${S3_SECRET_KEY:-testsecretkey0000000000000000000000000001}
  local t0 t; t0=$(_cr_ms)

  mkdir -p "$dir"/{mon.a,osd.0,rgw.a,run,log,crash} || return 1
  dir=$(cd "$dir" && pwd)   # ceph wants absolute paths in its config
  local conf=$dir/ceph.conf fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)

  # ---- 1. configuration -----------------------------------------------------
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:$mon_port]
ms bind msgr1 = false
# bind everything to loopback.  Do NOT use "public addr = 127.0.0.1" here: the mon
# would then ignore the port in "mon host" and bind the default 3300/6789.
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
# no cephx: local throw-away cluster
auth cluster required = none
auth service required = none
auth client required = none
# one OSD: size-1 pools, replicate across OSDs (type 0) instead of hosts
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# RGW creates ~8 pools; default 32 PGs each would exceed mon_max_pg_per_osd=250
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool delete = true
# quiet/avoid "mon is low on available space" (and the 5 % hard stop) on busy disks
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim allowed = false
# every osdmap change (pool create, ...) otherwise waits ~1 s for the next paxos round
paxos propose interval = 0.05
paxos min wait = 0.01
# keep every file inside DIR
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
log to stderr = false
err to stderr = true

[client]
# command-line tools (ceph, radosgw-admin): no admin socket, no log file
admin socket =
log file =

[mon]
mon data = $dir/\$type.\$id

[osd]
osd data = $dir/\$type.\$id
osd objectstore = $store
# memstore: objects live in the OSD process' memory; this is only a capacity cap
memstore device bytes = ${MEMSTORE_BYTES:-4294967296}
# bluestore alternative: sparse block file inside the OSD dir, small cache
bluestore block create = true
bluestore block size = 21474836480
bluestore cache autotune = false
bluestore cache size = 134217728
# on SIGTERM the OSD waits up to this long for the mon's ack (default 5 s)
osd mon shutdown timeout = 0.5

[client.rgw.a]
# radosgw overrides the built-in default to ms_mon_client_mode=secure, which the
# "none" auth method cannot provide -> "get_initial_auth_request returned -13"
ms mon client mode = crc secure
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
rgw data = $dir/rgw.a
# tcp_nodelay: without it small GET/HEAD responses stall ~40 ms (Nagle + delayed ACK)
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw thread pool size = 64
# purge overwritten/deleted object data after ~1 min instead of 2 h (memstore keeps it in RAM)
rgw gc obj min wait = 60
rgw gc processor period = 60
EOF

  # ---- 2. monitor -----------------------------------------------------------
  t=$(_cr_ms)
  # explicit monmap: letting ceph-mon --mkfs derive it from "mon host" gives mon.a
  # the default ports 3300/6789 whenever MON_PORT is not 3300
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" \
    >"$dir/log/monmaptool.out" 2>&1 || { _cr_log "monmaptool failed"; return 1; }
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >"$dir/log/mon-mkfs.out" 2>&1 \
    || { _cr_log "ceph-mon --mkfs failed (see $dir/log/mon-mkfs.out)"; return 1; }
  _cr_spawn "$dir" mon.a ceph-mon -c "$conf" -i a -f
  _cr_wait_daemon "$dir" mon.a 60 "monitor" ceph -c "$conf" --connect-timeout 5 mon stat || return 1
  _cr_log "mon up in $(_cr_since $t) s"

  # ---- 3. one OSD -----------------------------------------------------------
  t=$(_cr_ms)
  local uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph -c "$conf" osd new "$uuid") || { _cr_log "ceph osd new failed"; return 1; }
  [ "$id" = 0 ] || { _cr_log "unexpected osd id $id"; return 1; }
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >"$dir/log/osd-mkfs.out" 2>&1 \
    || { _cr_log "ceph-osd --mkfs failed (see $dir/log/osd-mkfs.out)"; return 1; }
  _cr_spawn "$dir" osd.0 ceph-osd -c "$conf" -i 0 -f
  # "osd crush update on start" (default on) puts osd.0 into the CRUSH map itself
  _cr_wait_daemon "$dir" osd.0 90 "osd.0 up" bash -c "ceph -c '$conf' osd dump 2>/dev/null | grep -q '^osd.0 up'" || return 1
  _cr_log "osd up in $(_cr_since $t) s"

  # ---- 4. RADOS Gateway -----------------------------------------------------
  t=$(_cr_ms)
  # Pre-create the pools RGW would otherwise create lazily (the bucket index and
  # data pools only on the first CreateBucket / PutObject, which then take ~2 s).
  local pool
  for pool in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
              default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    ceph -c "$conf" osd pool create "$pool" 8 8 >/dev/null 2>&1 &&
      ceph -c "$conf" osd pool application enable "$pool" rgw >/dev/null 2>&1 \
      || { _cr_log "could not create pool $pool"; return 1; }
  done
  _cr_spawn "$dir" rgw.a radosgw -c "$conf" -n client.rgw.a -f
  _cr_wait_daemon "$dir" rgw.a 120 "rgw on port $rgw_port" curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/" || return 1
  _cr_log "rgw up in $(_cr_since $t) s"

  # ---- 5. S3 user -------------------------------------------------------------
  radosgw-admin -c "$conf" user create --uid=test --display-name=test \
      --access-key="$ak" --secret="$sk" >"$dir/log/user-create.out" 2>&1 \
    || { _cr_log "radosgw-admin user create failed (see $dir/log/user-create.out)"; return 1; }

  cat >"$dir/s3.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$rgw_port
S3_ACCESS_KEY=$ak
S3_SECRET_KEY=$sk
S3_REGION=us-east-1
CEPH_CONF=$conf
EOF
  _cr_log "cluster + rgw ready in $(_cr_since $t0) s"
  cat "$dir/s3.env"
}

# _cr_kill DIR : stop the daemons recorded in DIR/run/*.pid — SIGTERM to all of them
# at once (each needs ~1.5-2 s to exit; the cluster is thrown away anyway), then
# SIGKILL whatever is still alive after 10 s.  Only these pids are touched.
_cr_kill() {
  local dir=$1 name pids="" pid i left
  for name in rgw.a osd.0 mon.a; do
    _cr_alive "$dir/run/$name.pid" && pids="$pids $(cat "$dir/run/$name.pid")"
  done
  [ -n "$pids" ] || return 0
  for pid in $pids; do kill "$pid" 2>/dev/null; done
  for i in $(seq 1 50); do
    left=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
    [ -z "$left" ] && return 0
    sleep 0.2
  done
  for pid in $left; do kill -9 "$pid" 2>/dev/null; done
  return 0
}

# ceph_rgw_start [DIR] : on failure the daemons already started are stopped again
# and DIR is kept (logs in DIR/log) — remove it with ceph_rgw_stop DIR.
ceph_rgw_start() {
  local dir=${1:-/tmp/ceph-rgw}
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    _cr_log "$dir exists and is not empty; stop/remove it first"; return 1
  fi
  # a port already taken (e.g. by another of these clusters) would make the
  # daemons retry binding and the CLI silently talk to the wrong cluster
  local port
  for port in "${MON_PORT:-3300}" "${RGW_PORT:-7480}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      _cr_log "port $port on 127.0.0.1 is already in use (set MON_PORT / RGW_PORT)"; return 1
    fi
  done
  _ceph_rgw_start "$dir" && return 0
  _cr_log "start failed; logs kept in $dir/log"
  [ -d "$dir/run" ] && _cr_kill "$dir"
  return 1
}

ceph_rgw_stop() {
  local dir=${1:-/tmp/ceph-rgw}
  [ -d "$dir/run" ] || { _cr_log "nothing to stop in $dir"; return 0; }
  _cr_kill "$dir"
  case "$dir" in /|"") return 1 ;; esac
  rm -rf "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    start) ceph_rgw_start "${2:-/tmp/ceph-rgw}" ;;
    stop)  ceph_rgw_stop  "${2:-/tmp/ceph-rgw}" ;;
    env)   cat "${2:-/tmp/ceph-rgw}/s3.env" ;;
    *) echo "usage: $0 start|stop|env [DIR]" >&2; exit 2 ;;
  esac
fi
