/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers that look at libvirt directly, behind gpuvmd's back:
 * domains and storage volumes on test:///default or qemu:///system. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* Whether @conn has a domain named @domain_name (the full name, gpuvmd's
 * domain prefix included). */
gboolean gvd_test_domain_exists (virConnectPtr conn, const char *domain_name);
/* The XML of the domain @domain_name (virDomainGetXMLDesc with @flags,
 * e.g. VIR_DOMAIN_XML_INACTIVE); NULL when there is no such domain. */
char *gvd_test_domain_xml (virConnectPtr conn, const char *domain_name, unsigned int flags);

/* Define and start the directory pool @name at @path; fails the test when
 * libvirt refuses. */
void gvd_test_pool_define (virConnectPtr conn, const char *name, const char *path);
/* Create the 1 MiB volume @name in @format ("qcow2", "raw"...) in the pool
 * @pool_name; fails the test when libvirt refuses. */
void gvd_test_volume_create (virConnectPtr conn, const char *pool_name, const char *name,
                             const char *format);
/* Whether the pool @pool_name (which must exist) holds the volume @name,
 * after a refresh. */
gboolean gvd_test_volume_exists (virConnectPtr conn, const char *pool_name, const char *name);
/* How many volumes of the pool @pool_name have @needle in their name, after
 * a refresh; 0 when there is no such pool. A volume gpuvmd leaves behind
 * shows here: it names them "<prefix><instance>-root.qcow2" and so on. */
guint gvd_test_count_volumes (virConnectPtr conn, const char *pool_name, const char *needle);

/* An integration program's scratch space: first what an earlier (killed)
 * run left on @conn is cleared (gvd_test_libvirt_cleanup: domains named
 * @prefix..., the pool @pool_name), then a new temporary directory
 * @prefix"XXXXXX" is made with the blank raw image @image_name of
 * @image_size bytes in it (gvd_test_blank_image; its path in
 * @out_image_file). Returns the directory. */
char *gvd_test_scratch_new (virConnectPtr conn, const char *prefix, const char *pool_name,
                            const char *image_name, goffset image_size, char **out_image_file);
/* Its end: the same libvirt cleanup, then the directory @dir removed with
 * all it holds. */
void gvd_test_scratch_remove (virConnectPtr conn, const char *prefix, const char *pool_name,
                              const char *dir);

G_END_DECLS
