#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Time from POST /v1/instances to a running domain, beside the floor: the
# same work done with plain virsh calls (overlay volume on the same base,
# seed ISO volume upload, define, start) on the very XML gpuvmd produced.
#
#   bench/bench-create.sh [RUNS]      (default 5; needs root and a running libvirtd)
#
# Uses its own pool (gvdbench) and domain prefix (gvdbench-); removes
# everything it made. Prints figures; asserts nothing.
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${GVD_BUILDDIR:-$srcdir/_build}
runs=${1:-5}
pool=gvdbench
pool_path=/var/tmp/gvdbench-pool
work=$(mktemp -d)
virsh="virsh -q -c qemu:///system"

cleanup() {
  [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  for d in $($virsh list --all --name | grep '^gvdbench-' || true); do
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

now() { date +%s.%N; }

cat >"$work/gpuvmd.conf" <<CONF
[daemon]
state_dir=$work/state
[libvirt]
domain_prefix=gvdbench-
[storage]
pool=$pool
pool_path=$pool_path
import_dirs=$work
[agent]
listen=127.0.0.1:0
CONF
mkfifo "$work/out"
# The admin API on a socket of the bench's own ("admin unix:PATH").
"$builddir/src/gpuvmd" --config "$work/gpuvmd.conf" --socket "$work/gpuvmd.sock" \
  >"$work/out" 2>"$work/log" &
daemon_pid=$!
exec 3<"$work/out"
read -r _ admin <&3
sock=${admin#unix:}
url=http://localhost
curl() { command curl --unix-socket "$sock" "$@"; }
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/devices/available")" = 200 ] && break
  sleep 0.1
done

truncate -s 64M "$work/base.raw"
curl -sf -H 'Content-Type: application/json' \
  -d "{\"name\": \"benchbase.raw\", \"source_path\": \"$work/base.raw\"}" "$url/v1/images" >/dev/null

declare -a t_api t_floor
for i in $(seq 1 "$runs"); do
  body="{\"name\": \"b$i\", \"image\": \"benchbase.raw\", \"memory_mib\": 256, \"root_disk_gib\": 1}"
  t0=$(now)
  code=$(curl -s -o "$work/created.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$body" "$url/v1/instances")
  t1=$(now)
  [ "$code" = 201 ] || { echo "create answered $code: $(cat "$work/created.json")"; exit 1; }
  t_api+=("$(echo "$t1 - $t0" | bc -l)")

  # The floor replays gpuvmd's own XML and seed ISO with virsh.
  $virsh dumpxml --inactive "gvdbench-b$i" >"$work/dom.xml"
  $virsh vol-download --pool "$pool" "gvdbench-b$i-seed.iso" "$work/seed.iso"
  seed_size=$(stat -c %s "$work/seed.iso")
  sed -e "s/gvdbench-b$i/gvdfloor-b$i/g" -e '/<uuid>/d' -e '/<nvram/d' "$work/dom.xml" >"$work/floor.xml"
  curl -s -X DELETE "$url/v1/instances/b$i" >/dev/null

  t0=$(now)
  $virsh vol-create-as "$pool" "gvdfloor-b$i-root.qcow2" 1G --format qcow2 \
    --backing-vol benchbase.raw --backing-vol-format raw >/dev/null
  $virsh vol-create-as "$pool" "gvdfloor-b$i-seed.iso" "$seed_size" --format raw >/dev/null
  $virsh vol-upload --pool "$pool" "gvdfloor-b$i-seed.iso" "$work/seed.iso"
  $virsh define "$work/floor.xml" >/dev/null
  $virsh start "gvdfloor-b$i" >/dev/null
  t1=$(now)
  t_floor+=("$(echo "$t1 - $t0" | bc -l)")
  $virsh destroy "gvdfloor-b$i" >/dev/null
  $virsh undefine --nvram "gvdfloor-b$i" >/dev/null
  $virsh vol-delete --pool "$pool" "gvdfloor-b$i-root.qcow2" >/dev/null
  $virsh vol-delete --pool "$pool" "gvdfloor-b$i-seed.iso" >/dev/null
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
api=$(median "${t_api[@]}")
floor=$(median "${t_floor[@]}")
printf 'create: POST /v1/instances → running, median of %d: %.3f s (runs: %s)\n' "$runs" "$api" "${t_api[*]}"
printf 'create: virsh floor (vol-create-as x2, vol-upload, define, start), median: %.3f s (runs: %s)\n' "$floor" "${t_floor[*]}"
printf 'create: gpuvmd over the floor: %+.1f %% (target < +10 %%)\n' "$(echo "($api - $floor) / $floor * 100" | bc -l)"
