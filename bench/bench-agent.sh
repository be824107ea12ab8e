#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Agent listener under load: POST /v1/agent/heartbeat with one instance's
# valid token (and, second, with a wrong one), wrk on loopback.
#
#   bench/bench-agent.sh [DURATION] [CONNECTIONS]   (default 10s 16; DURATION in s)
#   GVD_BUILDDIR=/path/to/_build bench/bench-agent.sh   (another build)
#
# Runs gpuvmd on libvirt's test driver loaded with one gpuvmd domain (no
# libvirtd, no VM); the instance's token is HMAC-SHA256 (agent-secret, uuid)
# as in src/core/agent.h. Prints wrk's figures (with the count of non-2xx answers); also
# how many log lines the daemon wrote. Asserts nothing. Since the agent path
# has per-instance buckets, nearly all of a flood's answers are 429: the
# figure is then the cost of refusing, which is what a flooding guest gets.
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${GVD_BUILDDIR:-$srcdir/_build}
duration=${1:-10s}
connections=${2:-16}
uuid=6f1c3b1e-8a43-4d0c-9a57-2f1f2d6c1a01
work=$(mktemp -d)

cleanup() {
  if [ -n "${daemon_pid:-}" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "bench-agent: wrk is not installed (Debian: wrk)" >&2; exit 77; }

# libvirt's test driver reads a whole host from this file: one gpuvmd
# instance ("bench", defined and shut off) and the storage pool.
cat >"$work/node.xml" <<XML
<node>
  <domain type="test">
    <name>gvdbench-bench</name>
    <uuid>$uuid</uuid>
    <metadata>
      <gpuvmd:instance xmlns:gpuvmd="urn:gpuvmd:domain:1" version="1">
        <gpuvmd:name>bench</gpuvmd:name>
        <gpuvmd:uuid>$uuid</gpuvmd:uuid>
        <gpuvmd:created-at>2026-12-02T00:00:00Z</gpuvmd:created-at>
        <gpuvmd:image>debian-12</gpuvmd:image>
        <gpuvmd:root-size-bytes>10737418240</gpuvmd:root-size-bytes>
        <gpuvmd:firmware>bios</gpuvmd:firmware>
        <gpuvmd:request gpus="0"/>
        <gpuvmd:hostdevs/>
        <gpuvmd:nics/>
        <gpuvmd:labels/>
        <gpuvmd:agent heartbeat-interval="10"/>
      </gpuvmd:instance>
    </metadata>
    <memory unit="KiB">1048576</memory>
    <vcpu placement="static">1</vcpu>
    <os><type arch="x86_64">hvm</type></os>
  </domain>
  <pool type="dir">
    <name>gvdbench</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>$work/pool</path></target>
  </pool>
</node>
XML
cat >"$work/gpuvmd.conf" <<CONF
[daemon]
state_dir=$work/state
[libvirt]
uri=test://$work/node.xml
domain_prefix=gvdbench-
[storage]
pool=gvdbench
pool_path=$work/pool
[agent]
listen=127.0.0.1:0
CONF
mkdir -p "$work/pool"
"$builddir/src/gpuvmd" --config "$work/gpuvmd.conf" --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
daemon_pid=$!
agent_url=
for _ in $(seq 100); do
  agent_url=$(sed -n 's/^agent \(http[^ ]*\).*/\1/p' "$work/out" | head -1)
  [ -n "$agent_url" ] && grep -q "recovered" "$work/log" && break
  sleep 0.1
done
[ -n "$agent_url" ] || { echo "bench-agent: gpuvmd did not start" >&2; cat "$work/log" >&2; exit 1; }
agent_url=${agent_url%/}
token=$(/usr/bin/python3 -c '
import hmac, hashlib, sys
key = open(sys.argv[1], "rb").read()
print(hmac.new(key, sys.argv[2].encode(), hashlib.sha256).hexdigest())' \
  "$work/state/agent-secret" "$uuid")

body='{"instance": "bench", "boot_id": "b1", "seq": 1, "system": {"load1": 0.1, "uptime_seconds": 100}}'
check=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $token" -d "$body" "$agent_url/v1/agent/heartbeat")
echo "one heartbeat with the valid token: HTTP $check"

run() {
  local what=$1 tok=$2
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $tok"
done = function (summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000, latency.max / 1000))
end
LUA
  local before after
  # wrk counts answers other than 2xx/3xx ("Non-2xx or 3xx responses").
  before=$(wc -l <"$work/log")
  echo "== $what: wrk -t2 -c$connections -d$duration --latency (POST $agent_url/v1/agent/heartbeat)"
  wrk -t2 -c"$connections" -d"$duration" --latency -s "$work/post.lua" "$agent_url/v1/agent/heartbeat"
  after=$(wc -l <"$work/log")
  echo "daemon log lines during the run: $((after - before))"
  kill -0 "$daemon_pid" || { echo "bench-agent: gpuvmd died" >&2; tail "$work/log" >&2; exit 1; }
}

# Latency at a fixed offered rate (saturation p99 swings on a shared host).
fixed_rate() {
  local what=$1 tok=$2
  command -v h2load >/dev/null || { echo "(h2load not installed: no fixed-rate run)"; return 0; }
  printf '%s' "$body" >"$work/body.json"
  echo "== $what at a fixed 500 requests/s: h2load --h1 -c10 --rps 50 -D ${duration%s}"
  h2load --h1 -c10 --rps 50 -D "${duration%s}" -d "$work/body.json" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" \
    "$agent_url/v1/agent/heartbeat" | grep -E '^(finished in|requests:|status codes:|time for request:)'
}

run "valid token" "$token"
run "wrong token" "0000000000000000000000000000000000000000000000000000000000000000"
fixed_rate "valid token" "$token"
code=$(curl -s -o /dev/null -w '%{http_code}' "$agent_url/v1/agent/heartbeat" -X GET)
echo "still answering afterwards: GET -> HTTP $code"
