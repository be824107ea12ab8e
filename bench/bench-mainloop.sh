#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Main-loop stalls, measured: p99 and max latency at a fixed offered rate
# (h2load --rps) on the agent heartbeat path and on GET /v1/instances, first
# on a quiet daemon, then while creates (and deletes) run in a loop against
# the real libvirtd. A blocking call on the main loop shows as max latency.
#
#   bench/bench-mainloop.sh [DURATION] [RATE]   (default 15 s per run, 500 requests/s)
#   GVD_BUILDDIR=/path/to/_build bench/bench-mainloop.sh   (another build)
#
# Needs root, a running libvirtd and h2load (Debian: nghttp2-client). Uses its
# own pool (gvdmlbench) and domain prefix (gvdmlbench-) and removes all it
# made; run it under the libvirt lock when others share libvirtd:
#   flock /tmp/gvd-libvirt.lock bench/bench-mainloop.sh
# The admin API listens on 127.0.0.1 with a token file of the bench's own.
# Prints figures; asserts nothing. The issue's goal: p99 < 5 ms, max < 50 ms.
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${GVD_BUILDDIR:-$srcdir/_build}
duration=${1:-15}
duration=${duration%s}
rate=${2:-500}
clients=10
pool=gvdmlbench
pool_path=/var/tmp/gvdmlbench-pool
work=$(mktemp -d)
virsh="virsh -q -c qemu:///system"

command -v h2load >/dev/null || { echo "bench-mainloop: h2load is not installed (Debian: nghttp2-client)" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "bench-mainloop: needs root (drives the system libvirtd)" >&2; exit 77; }
$virsh version >/dev/null 2>&1 || { echo "bench-mainloop: libvirtd does not answer" >&2; exit 77; }

cleanup() {
  [ -n "${loop_pid:-}" ] && kill "$loop_pid" 2>/dev/null && wait "$loop_pid" 2>/dev/null
  [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  for d in $($virsh list --all --name | grep '^gvdmlbench-' || true); do
    $virsh destroy "$d" >/dev/null 2>&1 || true
    $virsh undefine --nvram "$d" >/dev/null 2>&1 || true
  done
  for v in $($virsh vol-list "$pool" 2>/dev/null | awk '{print $1}' || true); do
    $virsh vol-delete --pool "$pool" "$v" >/dev/null 2>&1 || true
  done
  $virsh pool-destroy "$pool" >/dev/null 2>&1 || true
  $virsh pool-undefine "$pool" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The admin token: 64 hex digits, mode 0600, no newline.
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin-token")
admin_token=$(cat "$work/admin-token")
cat >"$work/gpuvmd.conf" <<CONF
[daemon]
state_dir=$work/state
socket=$work/gpuvmd.sock
listen=127.0.0.1:0
admin_token_file=$work/admin-token
[libvirt]
domain_prefix=gvdmlbench-
[storage]
pool=$pool
pool_path=$pool_path
import_dirs=$work
[agent]
listen=127.0.0.1:0
CONF
"$builddir/src/gpuvmd" --config "$work/gpuvmd.conf" >"$work/out" 2>"$work/log" &
daemon_pid=$!
url= agent_url=
for _ in $(seq 100); do
  url=$(sed -n 's/^admin \(http[^ ]*\).*/\1/p' "$work/out" | head -1)
  agent_url=$(sed -n 's/^agent \(http[^ ]*\).*/\1/p' "$work/out" | head -1)
  [ -n "$url" ] && [ -n "$agent_url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "bench-mainloop: gpuvmd did not start" >&2; cat "$work/log" >&2; exit 1; }
url=${url%/}
agent_url=${agent_url%/}
api() { curl -s -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' "$@"; }
for _ in $(seq 100); do
  [ "$(api -o /dev/null -w '%{http_code}' "$url/v1/devices/available")" = 200 ] && break
  sleep 0.1
done

truncate -s 64M "$work/base.raw"
api -f -d "{\"name\": \"mlbench.raw\", \"source_path\": \"$work/base.raw\"}" "$url/v1/images" >/dev/null
# The instance whose agent sends the heartbeats (defined, not started).
uuid=$(api -f -d '{"name": "hb", "image": "mlbench.raw", "memory_mib": 256, "start": false}' \
  "$url/v1/instances" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["uuid"])')
agent_token=$(/usr/bin/python3 -c '
import hmac, hashlib, sys
key = open(sys.argv[1], "rb").read()
print(hmac.new(key, sys.argv[2].encode(), hashlib.sha256).hexdigest())' \
  "$work/state/agent-secret" "$uuid")
printf '%s' '{"instance": "hb", "boot_id": "b1", "seq": 1, "system": {"load1": 0.1, "uptime_seconds": 100}}' \
  >"$work/heartbeat.json"

# Creates and deletes, one after another, until killed.
create_loop() {
  local i=0 code
  while :; do
    i=$((i + 1))
    code=$(api -o /dev/null -w '%{http_code}' \
      -d "{\"name\": \"c$i\", \"image\": \"mlbench.raw\", \"memory_mib\": 256, \"start\": false}" \
      "$url/v1/instances")
    echo "create c$i: $code" >>"$work/creates"
    api -o /dev/null -X DELETE "$url/v1/instances/c$i"
  done
}

# One fixed-rate run: p50, p99 and max from h2load's per-request log.
measure() {
  local what=$1 target=$2
  shift 2
  h2load --h1 -c"$clients" --rps "$((rate / clients))" -D "$duration" \
    --log-file="$work/h2load.log" "$@" "$target" >"$work/h2load.out" 2>&1 || true
  # Columns: start (us), status, microseconds to the end of the response.
  local codes
  codes=$(cut -f2 "$work/h2load.log" | sort | uniq -c | awk '{printf " %s:%s", $2, $1}')
  cut -f3 "$work/h2load.log" | sort -n | awk -v what="$what" -v codes="$codes" '
    { lat[NR] = $1 / 1000.0 }
    END {
      if (NR == 0) { printf "%-44s no answers\n", what; exit }
      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
      i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
      printf "%-44s %6d requests  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (status%s)\n",
             what, NR, lat[i50], lat[i99], lat[NR], codes
    }'
}

heartbeat() {
  measure "$1" "$agent_url/v1/agent/heartbeat" -d "$work/heartbeat.json" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $agent_token"
}
instances() {
  measure "$1" "$url/v1/instances" -H "Authorization: Bearer $admin_token"
}

echo "fixed offered rate: $rate requests/s ($clients connections x $((rate / clients))/s), ${duration} s per run"
heartbeat "POST /v1/agent/heartbeat, quiet"
instances "GET /v1/instances, quiet"
create_loop &
loop_pid=$!
sleep 1
heartbeat "POST /v1/agent/heartbeat, creates looping"
instances "GET /v1/instances, creates looping"
kill "$loop_pid" 2>/dev/null; wait "$loop_pid" 2>/dev/null || true
loop_pid=
echo "creates during the loaded runs: $(grep -c ': 201' "$work/creates" || true) answered 201," \
  "$(grep -vc ': 201' "$work/creates" || true) other"
kill -0 "$daemon_pid" || { echo "bench-mainloop: gpuvmd died" >&2; tail "$work/log" >&2; exit 1; }
