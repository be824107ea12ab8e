/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest agent files embedded in the binary (GResource), for cloud-init. */
#pragma once

#include <glib.h>

#include "cloudinit.h"

G_BEGIN_DECLS

/* The script and systemd unit from data/agent/, as compiled into gpuvmd. */
GvdAgentFiles *gvd_agent_files_load (GError **error);

G_END_DECLS
