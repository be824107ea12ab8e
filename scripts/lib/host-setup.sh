# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared host preparation for scripts/run-tests and scripts/run-daemon:
# installs Debian packages, prepares libvirt for a root container without
# systemd, and starts virtlogd + libvirtd when they are not running.
# Sourced, not executed.

GVD_BUILD_PACKAGES=(
  build-essential autoconf automake libtool autopoint gettext pkg-config
  libglib2.0-dev libvirt-dev libxml2-dev libsoup-3.0-dev libjson-glib-dev
  libpci-dev pci.ids libisofs-dev libcmocka-dev libsmartcols-dev
)
GVD_RUNTIME_PACKAGES=(
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils ovmf curl
)
GVD_TEST_PACKAGES=(
  libxml2-utils cloud-init genisoimage valgrind python3 iproute2
  debootstrap e2fsprogs groff-base prometheus prometheus-libvirt-exporter openssl clang
  libclang-rt-14-dev wrk openssh-client
)

gvd_log() { printf '==> %s\n' "$*" >&2; }
gvd_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

gvd_require_root() {
  [ "$(id -u)" = 0 ] || gvd_die "$0 prepares libvirtd and installs packages: run it as root"
}

# Install only the packages that are missing; apt-get update only when needed.
gvd_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || gvd_die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  gvd_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || gvd_die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || gvd_die "apt-get install ${missing[*]} failed"
}

# Set KEY = VALUE in qemu.conf, replacing an existing (or commented) line.
gvd_qemu_conf_set() {
  local conf=/etc/libvirt/qemu.conf key=$1 value=$2
  if grep -Eq "^[#[:space:]]*${key}[[:space:]]*=" "$conf"; then
    grep -Eq "^${key} = ${value//[/\\[}\$" "$conf" && return 0
    sed -i -E "0,/^[#[:space:]]*${key}[[:space:]]*=.*/s||${key} = ${value}|" "$conf"
  else
    printf '%s = %s\n' "$key" "$value" >>"$conf"
  fi
}

gvd_daemon_running() {
  local pidfile=$1 pid
  [ -r "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# A /dev/kvm that cannot run the vCPU gpuvmd asks for (host-passthrough) is
# worse than none: libvirt offers KVM, gpuvmd renders type='kvm', and every
# start dies in QEMU (seen on nested machines: "failed to set MSR 0x10a",
# an assertion in kvm_buf_set_msrs). Probe it once; when it fails, move the
# node aside so libvirt and gpuvmd agree on TCG. A host whose KVM works is
# not touched.
gvd_kvm_check() {
  local out rc=0
  command -v qemu-system-x86_64 >/dev/null || return 0
  out=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' \
          | timeout 30 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -display none \
              -nodefaults -S -qmp stdio 2>&1) || rc=$?
  [ "$rc" = 0 ] && return 0
  gvd_log "KVM is present but cannot run a host-passthrough vCPU (exit $rc: $(printf '%s' "$out" | grep -m1 -i error))"
  gvd_log "moving /dev/kvm to /dev/kvm.unusable: libvirt and gpuvmd will use TCG"
  mv /dev/kvm /dev/kvm.unusable
}

# libvirtd's QEMU driver wants its user and group even when running as root,
# and this container has no systemd, no cgroup delegation and no LSM.
gvd_libvirt_prepare() {
  getent group kvm >/dev/null || groupadd --system kvm
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  id libvirt-qemu >/dev/null 2>&1 \
    || useradd --system --no-create-home --home-dir /var/lib/libvirt \
         --gid libvirt-qemu --groups kvm --shell /usr/sbin/nologin libvirt-qemu
  mkdir -p /var/log/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu /run/libvirt
  # Debian ships qemu.conf with libvirt-daemon-system (which wants systemd);
  # libvirtd's built-in defaults apply to every key we do not set.
  [ -f /etc/libvirt/qemu.conf ] || printf '# written by gpuvmd scripts/lib/host-setup.sh\n' >/etc/libvirt/qemu.conf
  # Debian's udev rule makes /dev/kvm root:kvm 0660; without udev it can be
  # root-only, and then libvirt 9.0 finds KVM "enabled when probing but not
  # available now" on every lookup and re-probes QEMU each time (seconds per
  # define). Give it the permissions a Debian host has.
  if [ -c /dev/kvm ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    gvd_kvm_check
  fi
  gvd_qemu_conf_set security_driver '"none"'
  gvd_qemu_conf_set cgroup_controllers '[ ]'
}

gvd_libvirt_start() {
  if ! gvd_daemon_running /run/virtlogd.pid; then
    gvd_log "starting virtlogd"
    virtlogd -d || gvd_die "virtlogd failed to start"
  fi
  if ! gvd_daemon_running /run/libvirtd.pid; then
    gvd_log "starting libvirtd"
    libvirtd -d || gvd_die "libvirtd failed to start"
  fi
  local i
  for i in $(seq 1 100); do
    [ -S /run/libvirt/libvirt-sock ] && virsh -q -c qemu:///system version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  gvd_die "libvirtd did not answer on qemu:///system within 20 s (see /var/log/libvirt/)"
}

gvd_build() {
  local srcdir=$1 builddir=$2; shift 2
  [ -x "$srcdir/configure" ] \
    || (cd "$srcdir" && ./autogen.sh) || gvd_die "autogen.sh failed"
  mkdir -p "$builddir"
  if [ ! -f "$builddir/Makefile" ]; then
    (cd "$builddir" && "$srcdir/configure" "$@") || gvd_die "configure failed (see $builddir/config.log)"
  fi
  make -C "$builddir" -j"$(nproc)" >/dev/null || make -C "$builddir" || gvd_die "build failed"
}
