#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# gpuvmd's RSS before and after N dry runs of POST /v1/instances, each with
# its own Idempotency-Key and a ~750 KB answer (three 240 KB write_files).
# Dry runs must not be stored: RSS should barely move.
#
#   bench/bench-idem-rss.sh [N] [GPUVMD]   (default 151, $builddir/src/gpuvmd;
#                                           root, libvirtd; run under flock
#                                           /tmp/gvd-libvirt.lock when shared)
#
# Uses its own pool (gvdidem-pool) and domain prefix (gvdidem-); removes
# everything it made. Prints figures; asserts nothing.
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${GVD_BUILDDIR:-$srcdir/_build}
n=${1:-151}
bin=${2:-$builddir/src/gpuvmd}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  virsh -q -c qemu:///system pool-destroy gvdidem-pool >/dev/null 2>&1 || true
  virsh -q -c qemu:///system pool-undefine gvdidem-pool >/dev/null 2>&1 || true
  rm -rf /var/tmp/gvdidem-pool /var/tmp/gvdidem-blank.raw "$work"
}
trap cleanup EXIT

cat > "$work/conf" <<C
[daemon]
state_dir=$work/state
[libvirt]
domain_prefix=gvdidem-
[storage]
pool=gvdidem-pool
pool_path=/var/tmp/gvdidem-pool
[agent]
listen=127.0.0.1:0
C
truncate -s 64M /var/tmp/gvdidem-blank.raw
"$bin" --config "$work/conf" --listen "127.0.0.1:$port" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do curl -sf "$url/v1/devices/available" >/dev/null && break; sleep 0.1; done
curl -s -o /dev/null -H 'Content-Type: application/json' \
  -d '{"name":"gvdidem-blank.raw","source_path":"/var/tmp/gvdidem-blank.raw"}' "$url/v1/images"
/usr/bin/python3 -c '
import json
print(json.dumps({"name": "m", "image": "gvdidem-blank.raw", "vcpus": 1, "memory_mib": 256,
                  "root_disk_gib": 1, "dry_run": True,
                  "cloud_config": {"write_files": [{"path": "/x%d" % i, "content": "A" * 240000}
                                                   for i in range(3)]}}))' >"$work/body"
size=$(curl -s -H 'Content-Type: application/json' --data-binary @"$work/body" "$url/v1/instances" | wc -c)
rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
codes=$(for i in $(seq "$n"); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "Idempotency-Key: k$i" \
    -H 'Content-Type: application/json' --data-binary @"$work/body" "$url/v1/instances"
done | sort | uniq -c | tr -s ' \n' ' ')
rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "idempotency: $n keyed dry runs of $size bytes (statuses:$codes): RSS $rss0 KiB -> $rss1 KiB"
