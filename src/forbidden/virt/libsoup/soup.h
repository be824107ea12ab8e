/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Found first on the include path of src/virt (Makefile.am): that layer may not use libsoup. */
#error "src/virt may not include <libsoup/soup.h>: see the layer rules in Makefile.am and README.md (Source layout)"
