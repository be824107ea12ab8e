/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded reads of sysfs, procfs and other host files: the one reader every
 * src/host and src/virt file uses, so no host file is read without a bound. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A sysfs attribute is at most a page. */
#define GVD_HOST_READ_SMALL 4096
/* procfs tables (/proc/mounts, /proc/net/route, /proc/cpuinfo) on a big
 * host: a 512-CPU cpuinfo is under 1 MiB. */
#define GVD_HOST_READ_LARGE (4 * 1024 * 1024)

/* The contents of @path, read until EOF (procfs files report size 0, so
 * stat is not trusted), NUL-terminated, its length in @out_len (may be
 * NULL). A file longer than @max bytes is G_FILE_ERROR_FAILED; open and read
 * failures are G_FILE_ERROR codes from errno (NOENT for an absent file). */
char *gvd_host_read (const char *path, gsize max, gsize *out_len, GError **error);

/* The first @max bytes of @path at most, for procfs tables whose head is
 * what counts (/proc/cpuinfo's first CPU, /proc/interrupts on a host with
 * thousands of CPUs): never an error for being long. */
char *gvd_host_read_head (const char *path, gsize max, gsize *out_len, GError **error);

/* A small file (at most GVD_HOST_READ_SMALL bytes), or NULL when it is
 * absent, unreadable or bigger. */
char *gvd_host_read_small (const char *path);

G_END_DECLS
