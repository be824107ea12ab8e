#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Main-loop stalls, measured: p99 and max latency at a paced, steady load
# (wrk with a per-connection pause) on the agent heartbeat path and on GET /v1/instances, first
# on a quiet daemon, then while creates (and deletes) run in a loop against
# the real libvirtd. A blocking call on the main loop shows as max latency.
#
#   bench/bench-mainloop.sh [DURATION] [RATE]   (default 15 s per run, 500 requests/s)
#   GVD_BUILDDIR=/path/to/_build bench/bench-mainloop.sh   (another build)
#
# Needs root, a running libvirtd and wrk (Debian: wrk). Uses its
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

command -v wrk >/dev/null || { echo "bench-mainloop: wrk is not installed (Debian: wrk)" >&2; exit 77; }
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

# One paced run: each of the $clients connections sends a request, waits
# for the answer, then waits $pause_ms (wrk's delay()): about $rate
# requests/s. (h2load --rps, the obvious tool, does not pace HTTP/1.1 here:
# nghttp2 1.52 sends back to back whatever --rps says, and its -D runs
# never end against libsoup.) A main loop that stops shows as the max.
pause_ms=$((1000 * clients / rate))
measure() {
  local what=$1 target=$2 method=$3 body=${4:-} token=$5
  cat >"$work/pace.lua" <<LUA
wrk.method = "$method"
wrk.headers["Authorization"] = "Bearer $token"
LUA
  if [ -n "$body" ]; then
    cat >>"$work/pace.lua" <<LUA
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
  fi
  cat >>"$work/pace.lua" <<LUA
function delay () return $pause_ms end
done = function (summary, latency, requests)
  io.write(string.format("%-44s %6d requests (%4.0f/s)  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (non-2xx %d, errors %d)\\n",
    "$what", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
  wrk -t2 -c"$clients" -d"${duration}s" -s "$work/pace.lua" "$target" | tail -1
}

heartbeat() {
  measure "$1" "$agent_url/v1/agent/heartbeat" POST "$(cat "$work/heartbeat.json")" "$agent_token"
}
instances() {
  measure "$1" "$url/v1/instances" GET "" "$admin_token"
}

echo "paced load: about $rate requests/s ($clients connections, ${pause_ms} ms between a connection's requests), ${duration} s per run"
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
