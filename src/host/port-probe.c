/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A bind test for host ports handed to forwarded guest ports. */
#include "config.h"

#include "port-probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static gboolean
bind_free (guint32 address, guint port)
{
  struct sockaddr_in sa = { 0 };
  int one = 1;
  int fd;
  gboolean ok;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((guint16) port);
  sa.sin_addr.s_addr = htonl (address);
  (void) setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

gboolean
gvd_port_probe_free (guint port, gpointer user_data)
{
  const guint32 *address = user_data;

  if (port == 0 || port > 65535)
    return FALSE;
  /* A listener on 0.0.0.0:PORT makes both fail. */
  return bind_free (INADDR_LOOPBACK, port)
         && (address == NULL || *address == INADDR_LOOPBACK || bind_free (*address, port));
}
