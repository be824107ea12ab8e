#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes the fixture sysfs trees under tests/data/hosts/<scenario>/sys (and a
# minimal proc/cmdline, proc/mounts, proc/net/route), reproducibly, with the
# shapes Linux really has: devices/pci0000:XX/... hierarchy, bus/pci/devices/*
# symlinks into it, iommu_group/driver/subsystem/physfn/virtfnN symlinks,
# kernel/iommu_groups/N/devices/*, binary config headers libpci can read.
#
#   python3 tests/data/make-hosts.py                 # rewrite every scenario
#   python3 tests/data/make-hosts.py --synthetic DIR [DEVICES] [GPUS]
#                                                    # bench host (10000, 64)
#
# Python 3 standard library only. The generated trees are committed.
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

IORESOURCE_IO = 0x00000100
IORESOURCE_MEM = 0x00000200
IORESOURCE_PREFETCH = 0x00002000
IORESOURCE_MEM_64 = 0x00100000

MIB = 1 << 20
GIB = 1 << 30


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def symlink(target, link):
    """A relative symlink at @link pointing at the absolute @target."""
    os.makedirs(os.path.dirname(link), exist_ok=True)
    rel = os.path.relpath(target, os.path.dirname(link))
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(rel, link)


class Dev:
    def __init__(self, addr, vendor, device, cls, parent=None, group=None, driver=None,
                 numa=-1, subsys=(0, 0), bars=(), boot_vga=None, rev=0xa1):
        self.addr = addr
        self.vendor = vendor
        self.device = device
        self.cls = cls          # 24-bit class code, e.g. 0x030000
        self.parent = parent    # Dev (bridge) or None (on the host bridge)
        self.group = group
        self.driver = driver
        self.numa = numa
        self.subsys = subsys
        self.bars = bars        # [(index, size, flags)]
        self.boot_vga = boot_vga
        self.rev = rev
        self.secondary = None   # for bridges: the bus number below
        self.extra = {}         # extra files: name -> text
        self.virtfns = []
        self.physfn = None
        self.mdev_types = []    # (id, name, available, device_api[, description])
        self.bar_base = 0

    @property
    def is_bridge(self):
        return (self.cls >> 8) == 0x0604

    @property
    def bus(self):
        return int(self.addr.split(":")[1], 16)

    @property
    def domain_root(self):
        return "pci%s:%s" % (self.addr[0:4], self.root_bus())

    def root_bus(self):
        d = self
        while d.parent is not None:
            d = d.parent
        return "%02x" % d.bus


def config_bytes(d, pcie_type=None):
    """A config space header: 256 bytes with a PCIe capability for bridges
    and GPUs, 64 bytes for plain endpoints."""
    size = 256 if (d.is_bridge or pcie_type is not None) else 64
    b = bytearray(size)
    struct.pack_into("<HH", b, 0, d.vendor, d.device)
    struct.pack_into("<H", b, 4, 0x0406)  # memory + bus master
    status = 0x0010 if size == 256 else 0
    struct.pack_into("<H", b, 6, status)
    b[8] = d.rev
    b[9] = d.cls & 0xff
    b[10] = (d.cls >> 8) & 0xff
    b[11] = (d.cls >> 16) & 0xff
    multifunction = 0x80 if d.addr.endswith(".0") and getattr(d, "multi", False) else 0
    if d.is_bridge:
        b[14] = 0x01 | multifunction
        b[0x18] = d.bus
        b[0x19] = d.secondary or 0
        b[0x1a] = d.secondary or 0
    else:
        b[14] = 0x00 | multifunction
        for index, size_, flags in d.bars:
            if index > 5:
                continue
            if flags & IORESOURCE_IO:
                val = 0x1
            else:
                val = 0x0
                if flags & IORESOURCE_MEM_64:
                    val |= 0x4
                if flags & IORESOURCE_PREFETCH:
                    val |= 0x8
            struct.pack_into("<I", b, 0x10 + 4 * index, val)
        struct.pack_into("<HH", b, 0x2c, d.subsys[0], d.subsys[1])
    if size == 256:
        b[0x34] = 0x40
        b[0x40] = 0x10  # PCI Express capability
        b[0x41] = 0x00
        ptype = pcie_type if pcie_type is not None else 0x4
        struct.pack_into("<H", b, 0x42, 0x2 | (ptype << 4))
    return bytes(b)


class Host:
    def __init__(self, root):
        self.root = root
        self.sys = os.path.join(root, "sys")
        self.devs = []
        self.by_addr = {}
        self.next_bar = 0x4000000000

    def add(self, *args, **kw):
        d = Dev(*args, **kw)
        if d.parent is not None and d.parent.secondary is None:
            d.parent.secondary = d.bus
        self.devs.append(d)
        self.by_addr[d.addr] = d
        # functions > 0 on a slot make function 0 multifunction
        slot = d.addr[:-1]
        f0 = self.by_addr.get(slot + "0")
        if f0 is not None and not d.addr.endswith(".0"):
            f0.multi = True
        return d

    def path(self, d):
        parts = []
        x = d
        while x is not None:
            parts.append(x.addr)
            x = x.parent
        parts.reverse()
        return os.path.join(self.sys, "devices", d.domain_root, *parts)

    def write(self):
        if os.path.exists(self.sys):
            shutil.rmtree(self.sys)
        os.makedirs(os.path.join(self.sys, "bus", "pci", "devices"))
        os.makedirs(os.path.join(self.sys, "bus", "pci", "drivers"))
        for d in self.devs:
            self.write_dev(d)

    def write_dev(self, d):
        p = self.path(d)
        os.makedirs(p, exist_ok=True)
        write(os.path.join(p, "vendor"), "0x%04x\n" % d.vendor)
        write(os.path.join(p, "device"), "0x%04x\n" % d.device)
        write(os.path.join(p, "class"), "0x%06x\n" % d.cls)
        write(os.path.join(p, "revision"), "0x%02x\n" % d.rev)
        write(os.path.join(p, "subsystem_vendor"), "0x%04x\n" % d.subsys[0])
        write(os.path.join(p, "subsystem_device"), "0x%04x\n" % d.subsys[1])
        write(os.path.join(p, "numa_node"), "%d\n" % d.numa)
        write(os.path.join(p, "irq"), "0\n")
        if d.boot_vga is not None:
            write(os.path.join(p, "boot_vga"), "%d\n" % d.boot_vga)
        pcie = 0x0 if (d.cls >> 16) == 0x03 else None
        if d.is_bridge:
            pcie = getattr(d, "pcie_type", 0x4)
        write(os.path.join(p, "config"), config_bytes(d, pcie), "wb")
        # resource: 13 lines on endpoints (6 BARs, ROM, 6 IOV), 17 on bridges
        lines = []
        bars = {i: (s, f) for i, s, f in d.bars}
        nlines = 17 if d.is_bridge else 13
        for i in range(nlines):
            if i in bars:
                size, flags = bars[i]
                if flags & IORESOURCE_IO:
                    start = 0x3000 + 0x100 * len(lines)
                else:
                    align = max(size, 0x1000)
                    self.next_bar = (self.next_bar + align - 1) // align * align
                    start = self.next_bar
                    self.next_bar += size
                lines.append("0x%016x 0x%016x 0x%016x" % (start, start + size - 1, flags))
            else:
                lines.append("0x%016x 0x%016x 0x%016x" % (0, 0, 0))
        write(os.path.join(p, "resource"), "\n".join(lines) + "\n")
        symlink(os.path.join(self.sys, "bus", "pci"), os.path.join(p, "subsystem"))
        symlink(p, os.path.join(self.sys, "bus", "pci", "devices", d.addr))
        if d.driver is not None:
            drv = os.path.join(self.sys, "bus", "pci", "drivers", d.driver)
            os.makedirs(drv, exist_ok=True)
            symlink(drv, os.path.join(p, "driver"))
            symlink(p, os.path.join(drv, d.addr))
        if d.group is not None:
            g = os.path.join(self.sys, "kernel", "iommu_groups", str(d.group))
            os.makedirs(os.path.join(g, "devices"), exist_ok=True)
            symlink(g, os.path.join(p, "iommu_group"))
            symlink(p, os.path.join(g, "devices", d.addr))
        for name, text in sorted(d.extra.items()):
            write(os.path.join(p, name), text)
        for i, vf in enumerate(d.virtfns):
            symlink(self.path(vf), os.path.join(p, "virtfn%d" % i))
        if d.physfn is not None:
            symlink(self.path(d.physfn), os.path.join(p, "physfn"))
        for tid, name, avail, api, *desc in d.mdev_types:
            t = os.path.join(p, "mdev_supported_types", tid)
            write(os.path.join(t, "name"), name + "\n")
            write(os.path.join(t, "available_instances"), "%d\n" % avail)
            write(os.path.join(t, "device_api"), api + "\n")
            if desc:
                write(os.path.join(t, "description"), desc[0] + "\n")
            os.makedirs(os.path.join(t, "devices"), exist_ok=True)

    def cpus(self, nodes, cores, threads):
        """@nodes NUMA nodes of @cores cores with @threads threads each, numbered
        as Linux does on x86: first thread of every core, then the second...
        (CPU c's siblings are c, c + nodes*cores, ...)."""
        base = os.path.join(self.sys, "devices", "system")
        per_thread = nodes * cores
        total = per_thread * threads

        def cpulist(cpus):
            cpus = sorted(cpus)
            out, i = [], 0
            while i < len(cpus):
                j = i
                while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
                    j += 1
                out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
                i = j + 1
            return ",".join(out)

        write(os.path.join(base, "cpu", "online"), "0-%d\n" % (total - 1))
        write(os.path.join(base, "cpu", "possible"), "0-%d\n" % (total - 1))
        for c in range(total):
            core = c % per_thread
            siblings = [core + t * per_thread for t in range(threads)]
            topo = os.path.join(base, "cpu", "cpu%d" % c, "topology")
            write(os.path.join(topo, "thread_siblings_list"), cpulist(siblings) + "\n")
            write(os.path.join(topo, "core_id"), "%d\n" % (core % cores))
            write(os.path.join(topo, "physical_package_id"), "%d\n" % (core // cores))
        write(os.path.join(base, "node", "online"), "0-%d\n" % (nodes - 1) if nodes > 1 else "0\n")
        for n in range(nodes):
            cpus = [c for c in range(total) if (c % per_thread) // cores == n]
            write(os.path.join(base, "node", "node%d" % n, "cpulist"), cpulist(cpus) + "\n")

    def block(self, controller, subpath, name):
        """A block device below @controller (class/block/NAME symlink)."""
        p = os.path.join(self.path(controller), subpath)
        os.makedirs(p, exist_ok=True)
        write(os.path.join(p, "dev"), "259:2\n")
        symlink(p, os.path.join(self.sys, "class", "block", name))

    def net(self, nic, iface):
        p = os.path.join(self.path(nic), "net", iface)
        os.makedirs(p, exist_ok=True)
        write(os.path.join(p, "address"), "3c:ec:ef:00:00:%02x\n" % (len(iface) & 0xff))
        symlink(self.path(nic), os.path.join(p, "device"))
        symlink(p, os.path.join(self.sys, "class", "net", iface))

    def hugepages(self, free):
        """Hugepage pools: @free maps (node, page_kib) to (total, free)
        pages; the host-wide counts under kernel/mm are the sums."""
        sums = {}
        for (node, kib), (total, nfree) in sorted(free.items()):
            d = os.path.join(self.sys, "devices", "system", "node", "node%d" % node,
                             "hugepages", "hugepages-%dkB" % kib)
            write(os.path.join(d, "nr_hugepages"), "%d\n" % total)
            write(os.path.join(d, "free_hugepages"), "%d\n" % nfree)
            t, f = sums.get(kib, (0, 0))
            sums[kib] = (t + total, f + nfree)
        for kib, (total, nfree) in sorted(sums.items()):
            d = os.path.join(self.sys, "kernel", "mm", "hugepages", "hugepages-%dkB" % kib)
            write(os.path.join(d, "nr_hugepages"), "%d\n" % total)
            write(os.path.join(d, "free_hugepages"), "%d\n" % nfree)

    def proc(self, cmdline, root_dev, route_iface):
        proc = os.path.join(self.root, "proc")
        write(os.path.join(proc, "cmdline"), cmdline + "\n")
        write(os.path.join(proc, "mounts"),
              "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
              "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
              "%s / ext4 rw,relatime,errors=remount-ro 0 0\n"
              "tmpfs /run tmpfs rw,nosuid,nodev,size=3274460k,mode=755 0 0\n" % root_dev)
        route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        if route_iface is not None:
            route += ("%s\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" % route_iface)
            route += ("%s\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n" % route_iface)
        write(os.path.join(proc, "net", "route"), route)


# ---- BAR shapes ---------------------------------------------------------------
MEM32 = IORESOURCE_MEM
MEM64P = IORESOURCE_MEM | IORESOURCE_MEM_64 | IORESOURCE_PREFETCH
IO = IORESOURCE_IO


def consumer_nvidia_bars(vram_bar):
    return [(0, 16 * MIB, MEM32), (1, vram_bar, MEM64P), (3, 32 * MIB, MEM64P), (5, 128, IO)]


def datacenter_nvidia_bars():
    return [(0, 16 * MIB, MEM32), (1, 128 * GIB, MEM64P), (3, 32 * MIB, MEM64P)]


# ---- scenarios ----------------------------------------------------------------
def workstation_2gpu(root):
    h = Host(root)
    h.add("0000:00:00.0", 0x8086, 0x3e30, 0x060000, group=0, driver="skl_uncore")
    h.add("0000:00:02.0", 0x8086, 0x3e92, 0x030000, group=1, driver="i915", boot_vga=1,
          subsys=(0x1043, 0x8694), bars=[(0, 16 * MIB, MEM64P & ~IORESOURCE_PREFETCH),
                                         (2, 256 * MIB, MEM64P), (4, 64, IO)])
    rp0 = h.add("0000:00:01.0", 0x8086, 0x1901, 0x060400, group=2, driver="pcieport")
    rp1 = h.add("0000:00:01.1", 0x8086, 0x1905, 0x060400, group=2, driver="pcieport")
    h.add("0000:01:00.0", 0x10de, 0x2204, 0x030000, parent=rp0, group=2, driver="nvidia",
          subsys=(0x10de, 0x1454), bars=consumer_nvidia_bars(256 * MIB), boot_vga=0)
    h.add("0000:01:00.1", 0x10de, 0x1aef, 0x040300, parent=rp0, group=2,
          driver="snd_hda_intel", subsys=(0x10de, 0x1454), bars=[(0, 16 * 1024, MEM32)])
    h.add("0000:02:00.0", 0x10de, 0x2484, 0x030000, parent=rp1, group=2, driver="nvidia",
          subsys=(0x1458, 0x404c), bars=consumer_nvidia_bars(256 * MIB), boot_vga=0)
    h.add("0000:02:00.1", 0x10de, 0x228b, 0x040300, parent=rp1, group=2,
          driver="snd_hda_intel", subsys=(0x1458, 0x404c), bars=[(0, 16 * 1024, MEM32)])
    h.add("0000:00:14.0", 0x8086, 0xa36d, 0x0c0330, group=2, driver="xhci_hcd",
          subsys=(0x1043, 0x8694), bars=[(0, 64 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    rp2 = h.add("0000:00:1d.0", 0x8086, 0xa330, 0x060400, group=3, driver="pcieport")
    nvme = h.add("0000:03:00.0", 0x144d, 0xa808, 0x010802, parent=rp2, group=4, driver="nvme",
                 subsys=(0x144d, 0xa801), bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    nic = h.add("0000:00:1f.6", 0x8086, 0x15bc, 0x020000, group=5, driver="e1000e",
                subsys=(0x1043, 0x8672), bars=[(0, 128 * 1024, MEM32)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p2", "nvme0n1p2")
    h.block(nvme, "nvme/nvme0/nvme0n1", "nvme0n1")
    h.net(nic, "eno1")
    h.cpus(1, 4, 2)
    write(os.path.join(h.sys, "module", "nvidia", "version"), "535.154.05\n")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro quiet intel_iommu=on iommu=pt",
           "/dev/nvme0n1p2", "eno1")


def server_8gpu(root):
    h = Host(root)
    group = [0]

    def g():
        group[0] += 1
        return group[0]

    h.add("0000:00:00.0", 0x8086, 0x2020, 0x060000, group=g(), numa=0)
    h.add("0000:80:00.0", 0x8086, 0x2020, 0x060000, group=g(), numa=1)
    gpus = []
    for node, base in ((0, 0x00), (1, 0x80)):
        bus = base + 1
        for rp_dev in (1, 2):
            rp = h.add("0000:%02x:%02x.0" % (base, rp_dev), 0x8086, 0x347a, 0x060400,
                       group=g(), driver="pcieport", numa=node)
            rp.pcie_type = 0x4
            up = h.add("0000:%02x:00.0" % bus, 0x10b5, 0x8747, 0x060400, parent=rp,
                       group=g(), driver="pcieport", numa=node)
            up.pcie_type = 0x5
            down_bus = bus + 1
            for i, slot in enumerate((0x08, 0x10)):
                dn = h.add("0000:%02x:%02x.0" % (down_bus, slot), 0x10b5, 0x8747, 0x060400,
                           parent=up, group=g(), driver="pcieport", numa=node)
                dn.pcie_type = 0x6
                gpu_bus = down_bus + 1 + i
                gpu = h.add("0000:%02x:00.0" % gpu_bus, 0x10de, 0x20b5, 0x030200, parent=dn,
                            group=g(), driver="nvidia", numa=node, subsys=(0x10de, 0x1533),
                            bars=datacenter_nvidia_bars())
                gpus.append(gpu)
            bus = down_bus + 3
    # node 0: NVMe (root disk), NIC (default route), BMC VGA (boot VGA)
    rp = h.add("0000:00:03.0", 0x8086, 0x347c, 0x060400, group=g(), driver="pcieport", numa=0)
    nvme = h.add("0000:09:00.0", 0x8086, 0x0b60, 0x010802, parent=rp, group=g(), driver="nvme",
                 numa=0, subsys=(0x8086, 0x8008), bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    rp = h.add("0000:00:1c.0", 0x8086, 0xa190, 0x060400, group=g(), driver="pcieport", numa=0)
    nicg = g()
    nic = h.add("0000:0a:00.0", 0x8086, 0x1572, 0x020000, parent=rp, group=nicg, driver="i40e",
                numa=0, subsys=(0x8086, 0x0001), bars=[(0, 8 * MIB, MEM64P), (3, 32 * 1024, MEM64P)])
    h.add("0000:0a:00.1", 0x8086, 0x1572, 0x020000, parent=rp, group=nicg, driver="i40e",
          numa=0, subsys=(0x8086, 0x0001), bars=[(0, 8 * MIB, MEM64P), (3, 32 * 1024, MEM64P)])
    rp = h.add("0000:00:1c.4", 0x8086, 0xa194, 0x060400, group=g(), driver="pcieport", numa=0)
    astbr = h.add("0000:0b:00.0", 0x1a03, 0x1150, 0x060400, parent=rp, group=g(), numa=0)
    astbr.pcie_type = 0x7
    h.add("0000:0c:00.0", 0x1a03, 0x2000, 0x030000, parent=astbr, group=astbr.group,
          driver="ast", numa=0, boot_vga=1, subsys=(0x15d9, 0x1b95),
          bars=[(0, 64 * MIB, MEM32), (1, 128 * 1024, MEM32), (2, 128, IO)])
    # node 1: a second NIC, not carrying the default route
    rp = h.add("0000:80:03.0", 0x8086, 0x347c, 0x060400, group=g(), driver="pcieport", numa=1)
    h.add("0000:89:00.0", 0x15b3, 0x101b, 0x020000, parent=rp, group=g(), driver="mlx5_core",
          numa=1, subsys=(0x15b3, 0x0007), bars=[(0, 32 * MIB, MEM64P)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p1", "nvme0n1p1")
    h.block(nvme, "nvme/nvme0/nvme0n1", "nvme0n1")
    h.net(nic, "eno1")
    h.cpus(2, 8, 2)  # 2 sockets = NUMA nodes 0 and 1, 8 cores x 2 threads each
    # 2M pages: 16 GiB free on node 0, 4 GiB on node 1; 1G pages only on node 0.
    h.hugepages({(0, 2048): (8192, 8192), (1, 2048): (4096, 2048),
                 (0, 1048576): (16, 16), (1, 1048576): (0, 0)})
    write(os.path.join(root, "proc", "driver", "nvidia", "version"),
          "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
          "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=5b1c2d3e ro intel_iommu=on iommu=pt",
           "/dev/nvme0n1p1", "eno1")


def no_iommu(root):
    h = Host(root)
    h.add("0000:00:00.0", 0x8086, 0x3e30, 0x060000)
    rp = h.add("0000:00:01.0", 0x8086, 0x1901, 0x060400, driver="pcieport")
    h.add("0000:01:00.0", 0x10de, 0x1eb8, 0x030200, parent=rp, driver="nvidia",
          subsys=(0x10de, 0x12a2), bars=[(0, 16 * MIB, MEM32), (1, 256 * MIB, MEM64P),
                                         (3, 32 * MIB, MEM64P)])
    rp = h.add("0000:00:1d.0", 0x8086, 0xa330, 0x060400, driver="pcieport")
    nvme = h.add("0000:02:00.0", 0x144d, 0xa808, 0x010802, parent=rp, driver="nvme",
                 bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    nic = h.add("0000:00:1f.6", 0x8086, 0x15bc, 0x020000, driver="e1000e", boot_vga=None,
                bars=[(0, 128 * 1024, MEM32)])
    h.add("0000:00:02.0", 0x8086, 0x3e92, 0x030000, driver="i915", boot_vga=1,
          bars=[(2, 256 * MIB, MEM64P)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p2", "nvme0n1p2")
    h.net(nic, "eno1")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro quiet",
           "/dev/nvme0n1p2", "eno1")


def amd_gpu(root):
    h = Host(root)
    h.add("0000:00:00.0", 0x1022, 0x1480, 0x060000, group=0)
    rp = h.add("0000:00:03.1", 0x1022, 0x1483, 0x060400, group=6, driver="pcieport")
    up = h.add("0000:0a:00.0", 0x1002, 0x1478, 0x060400, parent=rp, group=7, driver="pcieport")
    up.pcie_type = 0x5
    dn = h.add("0000:0b:00.0", 0x1002, 0x1479, 0x060400, parent=up, group=8, driver="pcieport")
    dn.pcie_type = 0x6
    h.add("0000:0c:00.0", 0x1002, 0x73bf, 0x030000, parent=dn, group=9, driver="amdgpu",
          subsys=(0x1002, 0x0e3a), boot_vga=0,
          bars=[(0, 256 * MIB, MEM64P), (2, 2 * MIB, MEM64P), (4, 256, IO), (5, 1 * MIB, MEM32)])
    h.add("0000:0c:00.1", 0x1002, 0xab28, 0x040300, parent=dn, group=9, driver="snd_hda_intel",
          subsys=(0x1002, 0xab28), bars=[(0, 16 * 1024, MEM32)])
    rp = h.add("0000:00:01.2", 0x1022, 0x1483, 0x060400, group=2, driver="pcieport")
    nvme = h.add("0000:01:00.0", 0x1987, 0x5016, 0x010802, parent=rp, group=3, driver="nvme",
                 bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    rp = h.add("0000:00:01.3", 0x1022, 0x1483, 0x060400, group=4, driver="pcieport")
    nic = h.add("0000:05:00.0", 0x10ec, 0x8125, 0x020000, parent=rp, group=5, driver="r8169",
                bars=[(0, 256, IO), (2, 64 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p2", "nvme0n1p2")
    h.net(nic, "enp5s0")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro amd_iommu=on iommu=pt "
           "pcie_acs_override=downstream,multifunction",
           "/dev/nvme0n1p2", "enp5s0")


def sriov_mdev(root):
    h = Host(root)
    h.add("0000:00:00.0", 0x8086, 0x2020, 0x060000, group=0, numa=0)
    rp = h.add("0000:40:01.0", 0x8086, 0x347a, 0x060400, group=10, driver="pcieport", numa=0)
    pf = h.add("0000:41:00.0", 0x10de, 0x2236, 0x030200, parent=rp, group=11, driver="nvidia",
               numa=0, subsys=(0x10de, 0x1482),
               bars=[(0, 16 * MIB, MEM32), (1, 32 * GIB, MEM64P), (3, 32 * MIB, MEM64P),
                     (7, 4 * MIB, MEM32), (9, 4 * GIB, MEM64P)])
    pf.extra["sriov_totalvfs"] = "32\n"
    pf.extra["sriov_numvfs"] = "4\n"
    for i in range(4):
        vf = h.add("0000:41:00.%d" % (4 + i), 0x10de, 0x2236, 0x030200, parent=rp, group=12 + i,
                   driver="nvidia", numa=0, subsys=(0x10de, 0x1482),
                   bars=[(0, 4 * MIB, MEM32), (1, 1 * GIB, MEM64P)])
        vf.physfn = pf
        pf.virtfns.append(vf)
        vf.mdev_types = [("nvidia-592", "NVIDIA A10-4Q", 1, "vfio-pci")]
    rp = h.add("0000:80:01.0", 0x8086, 0x347a, 0x060400, group=20, driver="pcieport", numa=1)
    t4 = h.add("0000:81:00.0", 0x10de, 0x1eb8, 0x030200, parent=rp, group=21, driver="nvidia",
               numa=1, subsys=(0x10de, 0x12a2),
               bars=[(0, 16 * MIB, MEM32), (1, 256 * MIB, MEM64P), (3, 32 * MIB, MEM64P)])
    t4.mdev_types = [("nvidia-222", "GRID T4-1B", 16, "vfio-pci",
                      "num_heads=4, frl_config=45, framebuffer=1024M, max_resolution=5120x2880, "
                      "max_instance=16"),
                     ("nvidia-223", "GRID T4-2B", 8, "vfio-pci",
                      "num_heads=4, frl_config=45, framebuffer=2048M, max_resolution=5120x2880, "
                      "max_instance=8"),
                     ("nvidia-230", "GRID T4-16Q", 1, "vfio-pci",
                      "num_heads=4, frl_config=60, framebuffer=16384M, max_resolution=7680x4320, "
                      "max_instance=1")]
    rp = h.add("0000:00:1d.0", 0x8086, 0xa330, 0x060400, group=1, driver="pcieport", numa=0)
    nvme = h.add("0000:02:00.0", 0x8086, 0x0b60, 0x010802, parent=rp, group=2, driver="nvme",
                 numa=0, bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    nic = h.add("0000:00:1f.6", 0x8086, 0x15bc, 0x020000, group=3, driver="e1000e", numa=0,
                bars=[(0, 128 * 1024, MEM32)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p2", "nvme0n1p2")
    h.net(nic, "eno1")
    write(os.path.join(h.sys, "module", "nvidia", "version"), "550.54.15\n")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro intel_iommu=on",
           "/dev/nvme0n1p2", "eno1")


def sriov_nic(root):
    """A training node: two GPUs on two NUMA nodes and a ConnectX-6 whose
    PF has 4 of 8 VFs enabled (each VF in its own IOMMU group, as with ACS),
    for the RDMA NICs of `networks` (mode sriov)."""
    h = Host(root)
    h.add("0000:00:00.0", 0x8086, 0x2020, 0x060000, group=0, numa=0)
    rp = h.add("0000:40:01.0", 0x8086, 0x347a, 0x060400, group=10, driver="pcieport", numa=0)
    h.add("0000:41:00.0", 0x10de, 0x20b5, 0x030200, parent=rp, group=11, driver="nvidia",
          numa=0, subsys=(0x10de, 0x1533), bars=datacenter_nvidia_bars())
    rp = h.add("0000:80:01.0", 0x8086, 0x347a, 0x060400, group=20, driver="pcieport", numa=1)
    h.add("0000:81:00.0", 0x10de, 0x20b5, 0x030200, parent=rp, group=21, driver="nvidia",
          numa=1, subsys=(0x10de, 0x1533), bars=datacenter_nvidia_bars())
    rp = h.add("0000:40:03.0", 0x8086, 0x347a, 0x060400, group=30, driver="pcieport", numa=0)
    pf = h.add("0000:42:00.0", 0x15b3, 0x101b, 0x020700, parent=rp, group=31,
               driver="mlx5_core", numa=0, subsys=(0x15b3, 0x0007),
               bars=[(0, 32 * MIB, MEM64P)])
    pf.extra["sriov_totalvfs"] = "8\n"
    pf.extra["sriov_numvfs"] = "4\n"
    for i in range(4):
        vf = h.add("0000:42:00.%d" % (2 + i), 0x15b3, 0x101c, 0x020700, parent=rp,
                   group=32 + i, driver="mlx5_core", numa=0, subsys=(0x15b3, 0x0007),
                   bars=[(0, 1 * MIB, MEM64P)])
        vf.physfn = pf
        pf.virtfns.append(vf)
    rp = h.add("0000:00:1d.0", 0x8086, 0xa330, 0x060400, group=1, driver="pcieport", numa=0)
    nvme = h.add("0000:02:00.0", 0x8086, 0x0b60, 0x010802, parent=rp, group=2, driver="nvme",
                 numa=0, bars=[(0, 16 * 1024, MEM64P & ~IORESOURCE_PREFETCH)])
    nic = h.add("0000:00:1f.6", 0x8086, 0x15bc, 0x020000, group=3, driver="e1000e", numa=0,
                bars=[(0, 128 * 1024, MEM32)])
    h.write()
    h.block(nvme, "nvme/nvme0/nvme0n1/nvme0n1p2", "nvme0n1p2")
    h.net(nic, "eno1")
    h.net(pf, "ibp66s0")
    write(os.path.join(h.sys, "module", "nvidia", "version"), "550.54.15\n")
    h.proc("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro intel_iommu=on",
           "/dev/nvme0n1p2", "eno1")


def synthetic(root, n_devices=10000, n_gpus=64):
    """A big host for the benchmark: @n_gpus GPUs behind PCIe switches (two
    per switch, spread over two NUMA nodes and several PCI domains), each in
    its own IOMMU group, plus filler endpoints (NICs, NVMe, functions of
    multi-function devices) up to @n_devices devices."""
    h = Host(root)
    group = [0]

    def g():
        group[0] += 1
        return group[0]

    count = 0
    # GPUs: domain 0, buses 0x01..; 2 per switch
    n_switches = (n_gpus + 1) // 2
    for s in range(n_switches):
        node = 0 if s < n_switches // 2 else 1
        dom = s // 16
        rbus = 0x00
        base = 1 + (s % 16) * 8
        rp = h.add("%04x:%02x:%02x.0" % (dom, rbus, 1 + (s % 16)), 0x8086, 0x347a, 0x060400,
                   group=g(), driver="pcieport", numa=node)
        up = h.add("%04x:%02x:00.0" % (dom, base), 0x10b5, 0x8747, 0x060400, parent=rp,
                   group=g(), driver="pcieport", numa=node)
        count += 2
        for i in range(2):
            if s * 2 + i >= n_gpus:
                break
            dn = h.add("%04x:%02x:%02x.0" % (dom, base + 1, 8 * (i + 1)), 0x10b5, 0x8747,
                       0x060400, parent=up, group=g(), driver="pcieport", numa=node)
            gpu_bus = base + 2 + i
            h.add("%04x:%02x:00.0" % (dom, gpu_bus), 0x10de, 0x20b5, 0x030200, parent=dn,
                  group=g(), driver="nvidia", numa=node, subsys=(0x10de, 0x1533),
                  bars=datacenter_nvidia_bars())
            count += 2
    # filler: domains 0x10.., a root port per bus with 8 multi-function
    # endpoints of 8 functions below it (each slot its own group)
    dom = 0x10
    bus = 1
    rdev = 1
    while count < n_devices:
        node = (count // 64) % 2
        rp = h.add("%04x:00:%02x.0" % (dom, rdev), 0x8086, 0x347c, 0x060400, group=g(),
                   driver="pcieport", numa=node)
        count += 1
        for slot in range(32):
            if count >= n_devices:
                break
            grp = g()
            for fn in range(8):
                if count >= n_devices:
                    break
                h.add("%04x:%02x:%02x.%d" % (dom, bus, slot, fn), 0x8086, 0x1572, 0x020000,
                      parent=rp, group=grp, driver="i40e", numa=node,
                      bars=[(0, 8 * MIB, MEM64P)])
                count += 1
        bus += 1
        rdev += 1
        if rdev >= 32 or bus >= 0xff:
            dom += 1
            bus = 1
            rdev = 1
    h.write()
    h.proc("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on", "/dev/sda1", None)


def vfio_rig(root):
    """The emulated-IOMMU rig of `make check-vfio` (QEMU q35 + intel-iommu):
    a boot VGA, a bochs-display stand-in GPU and an e1000e behind their own
    root ports, two virtio devices sharing a group behind a PCIe-to-PCI
    bridge, and the ICH9 slot 1f whose LPC, AHCI and SMBus functions share a
    group, each bound to its host driver (as in the real rig)."""
    h = Host(root)
    h.add("0000:00:00.0", 0x8086, 0x29c0, 0x060000, group=0)
    h.add("0000:00:01.0", 0x1234, 0x1111, 0x030000, group=1, driver="bochs-drm", boot_vga=1,
          bars=[(0, 16 * MIB, MEM32 | IORESOURCE_PREFETCH), (2, 4096, MEM32)])
    rp1 = h.add("0000:00:02.0", 0x1b36, 0x000c, 0x060400, group=2, driver="pcieport")
    rp2 = h.add("0000:00:02.1", 0x1b36, 0x000c, 0x060400, group=3, driver="pcieport")
    rp3 = h.add("0000:00:02.2", 0x1b36, 0x000c, 0x060400, group=4, driver="pcieport")
    rp4 = h.add("0000:00:02.3", 0x1b36, 0x000c, 0x060400, group=5, driver="pcieport")
    h.add("0000:01:00.0", 0x1234, 0x1111, 0x038000, parent=rp1, group=6, driver="bochs-drm",
          boot_vga=0, bars=[(0, 16 * MIB, MEM32 | IORESOURCE_PREFETCH), (2, 4096, MEM32)])
    h.add("0000:02:00.0", 0x8086, 0x10d3, 0x020000, parent=rp2, group=7, driver="e1000e",
          bars=[(0, 128 * 1024, MEM32), (1, 128 * 1024, MEM32), (2, 32, IO), (3, 16 * 1024, MEM32)])
    vblk = h.add("0000:03:00.0", 0x1af4, 0x1042, 0x010000, parent=rp3, group=8,
                 driver="virtio-pci", bars=[(4, 16 * 1024, MEM64P)])
    pb = h.add("0000:04:00.0", 0x1b36, 0x000e, 0x060400, parent=rp4, group=9)
    h.add("0000:05:01.0", 0x1af4, 0x1005, 0x00ff00, parent=pb, group=9, driver="virtio-pci",
          bars=[(4, 16 * 1024, MEM64P)])
    h.add("0000:05:02.0", 0x1af4, 0x1002, 0x00ff00, parent=pb, group=9,
          bars=[(4, 16 * 1024, MEM64P)])
    h.add("0000:00:1f.0", 0x8086, 0x2918, 0x060100, group=10, driver="lpc_ich")
    h.add("0000:00:1f.2", 0x8086, 0x2922, 0x010601, group=10, driver="ahci",
          bars=[(4, 32, IO), (5, 4096, MEM32)])
    h.add("0000:00:1f.3", 0x8086, 0x2930, 0x0c0500, group=10, driver="i801_smbus",
          bars=[(4, 64, IO)])
    h.write()
    h.block(vblk, "virtio1/block/vda", "vda")
    h.cpus(1, 2, 1)  # as the machine the rig (and the CPU tests) run on
    h.proc("BOOT_IMAGE=/vmlinuz root=/dev/vda rw console=ttyS0 intel_iommu=on", "/dev/vda", None)


SCENARIOS = {
    "workstation-2gpu": workstation_2gpu,
    "server-8gpu": server_8gpu,
    "no-iommu": no_iommu,
    "amd-gpu": amd_gpu,
    "sriov-mdev": sriov_mdev,
    "sriov-nic": sriov_nic,
    "vfio-rig": vfio_rig,
}


def main(argv):
    if len(argv) >= 3 and argv[1] == "--synthetic":
        n_dev = int(argv[3]) if len(argv) > 3 else 10000
        n_gpu = int(argv[4]) if len(argv) > 4 else 64
        synthetic(argv[2], n_dev, n_gpu)
        return 0
    names = argv[1:] or sorted(SCENARIOS)
    for name in names:
        SCENARIOS[name](os.path.join(HERE, "hosts", name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
