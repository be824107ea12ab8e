/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's errors as gpuvmd's: one table from virErrorNumber (and the RPC
 * error domain) to GVD_ERROR codes, used by every libvirt call site, with
 * libvirt's message kept. */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "errors.h"

G_BEGIN_DECLS

/* The GVD_ERROR code for libvirt error @code raised in error domain
 * @domain:
 *   - the connection is gone or cannot be made (any error of VIR_FROM_RPC,
 *     VIR_ERR_NO_CONNECT, VIR_ERR_INVALID_CONN, VIR_ERR_RPC):
 *     GVD_ERROR_LIBVIRT_UNAVAILABLE (503 libvirt_unavailable), the same for
 *     storage, instances and recovery;
 *   - no such domain, pool or volume: GVD_ERROR_NOT_FOUND;
 *   - a domain or volume of that name exists: GVD_ERROR_ALREADY_EXISTS;
 *   - the object is in the wrong state (VIR_ERR_OPERATION_INVALID):
 *     GVD_ERROR_CONFLICT;
 *   - VIR_ERR_OPERATION_TIMEOUT: GVD_ERROR_TIMEOUT;
 *   - anything else: @fallback. */
GvdErrorCode gvd_virt_error_map (int code, int domain, GvdErrorCode fallback);

/* gvd_virt_error_map() of libvirt's last error in this thread; @fallback
 * when there is none. */
GvdErrorCode gvd_virt_error_code (GvdErrorCode fallback);

/* Set @error from libvirt's last error in this thread: code
 * gvd_virt_error_code (GVD_ERROR_LIBVIRT), message "@what: <libvirt's>". */
void gvd_virt_error_set (GError **error, const char *what);

/* The same after a failed define of domain @name: libvirt reports a name
 * that is already taken as a generic VIR_ERR_OPERATION_FAILED, so the name
 * is looked up (whatever language libvirt's message is in): taken is
 * GVD_ERROR_ALREADY_EXISTS. */
void gvd_virt_error_set_define (GError **error, virConnectPtr conn, const char *name,
                                const char *what);

/* Set @error to @code as is with "@what: <libvirt's last error message>",
 * for callers whose code does not depend on libvirt's (a failed connect is
 * "unavailable" whatever libvirt says). */
void gvd_virt_set_error (GError **error, GvdErrorCode code, const char *what);

G_END_DECLS
