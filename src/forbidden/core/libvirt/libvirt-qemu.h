/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Found first on the include path of src/core (Makefile.am): that layer may not use libvirt. */
#error "src/core may not include <libvirt/libvirt-qemu.h>: see the layer rules in Makefile.am and README.md (Source layout)"
