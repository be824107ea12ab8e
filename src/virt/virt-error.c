/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's errors as gpuvmd's: the one mapping from virErrorNumber to
 * GVD_ERROR codes. */
#include "config.h"

#include "virt-error.h"

/* virErrorNumber → GVD_ERROR code; VIR_FROM_RPC is checked first. */
static const struct {
  int code;
  GvdErrorCode gvd;
} error_table[] = {
  { VIR_ERR_NO_CONNECT, GVD_ERROR_LIBVIRT_UNAVAILABLE },
  { VIR_ERR_INVALID_CONN, GVD_ERROR_LIBVIRT_UNAVAILABLE },
  { VIR_ERR_RPC, GVD_ERROR_LIBVIRT_UNAVAILABLE },
  { VIR_ERR_NO_DOMAIN, GVD_ERROR_NOT_FOUND },
  { VIR_ERR_NO_STORAGE_POOL, GVD_ERROR_NOT_FOUND },
  { VIR_ERR_NO_STORAGE_VOL, GVD_ERROR_NOT_FOUND },
  { VIR_ERR_DOM_EXIST, GVD_ERROR_ALREADY_EXISTS },
  { VIR_ERR_STORAGE_VOL_EXIST, GVD_ERROR_ALREADY_EXISTS },
  { VIR_ERR_OPERATION_INVALID, GVD_ERROR_CONFLICT },
  { VIR_ERR_OPERATION_TIMEOUT, GVD_ERROR_TIMEOUT },
};

GvdErrorCode
gvd_virt_error_map (int code, int domain, GvdErrorCode fallback)
{
  /* The transport to libvirtd failed (EOF, broken pipe, socket closed,
   * keepalive timeout): whatever the code, the connection is gone. */
  if (domain == VIR_FROM_RPC)
    return GVD_ERROR_LIBVIRT_UNAVAILABLE;
  for (gsize i = 0; i < G_N_ELEMENTS (error_table); i++)
    {
      if (error_table[i].code == code)
        return error_table[i].gvd;
    }
  return fallback;
}

GvdErrorCode
gvd_virt_error_code (GvdErrorCode fallback)
{
  const virError *err = virGetLastError ();

  if (err == NULL)
    return fallback;
  return gvd_virt_error_map (err->code, err->domain, fallback);
}

void
gvd_virt_set_error (GError **error, GvdErrorCode code, const char *what)
{
  const char *msg = virGetLastErrorMessage ();

  g_set_error (error, GVD_ERROR, code, "%s: %s", what,
               msg != NULL ? msg : "unknown libvirt error");
}

void
gvd_virt_error_set (GError **error, const char *what)
{
  gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_LIBVIRT), what);
}

void
gvd_virt_error_set_define (GError **error, virConnectPtr conn, const char *name,
                           const char *what)
{
  virErrorPtr saved = virSaveLastError ();
  GvdErrorCode code = gvd_virt_error_code (GVD_ERROR_LIBVIRT);

  if (code == GVD_ERROR_LIBVIRT && conn != NULL && name != NULL)
    {
      virDomainPtr other = virDomainLookupByName (conn, name);

      if (other != NULL)
        {
          code = GVD_ERROR_ALREADY_EXISTS;
          virDomainFree (other);
        }
    }
  g_set_error (error, GVD_ERROR, code, "%s: %s", what,
               saved != NULL && saved->message != NULL ? saved->message
                                                        : "unknown libvirt error");
  virFreeError (saved);
}
