/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init lines that mount an instance's shares where the request asked
 * (pure). cloud-init's own `mounts:` module (22.4) keeps only block and
 * network devices and silently drops a mount tag, so gpuvmd appends the
 * fstab lines itself (write_files, append) and mounts them once (runcmd);
 * later boots mount them from fstab. */
#include "config.h"

#include "cloudinit-priv.h"

static JsonArray *
argv_array (const char *a, const char *b, const char *c)
{
  JsonArray *array = json_array_new ();

  json_array_add_string_element (array, a);
  json_array_add_string_element (array, b);
  if (c != NULL)
    json_array_add_string_element (array, c);
  return array;
}

void
gvd_cloudinit_add_share_mounts (const GvdInstanceSpec *spec, JsonArray *files, JsonArray *runcmd)
{
  g_autoptr(GString) fstab = g_string_new (NULL);
  JsonObject *file;

  for (guint i = 0; i < spec->shares->len; i++)
    {
      const GvdShareSpec *s = g_ptr_array_index (spec->shares, i);

      if (s->mount_point == NULL)
        continue;
      /* nofail: a guest without the module still boots. The tag and the
       * mount point were checked: no blanks, no fstab escapes. */
      if (s->virtiofs)
        g_string_append_printf (fstab, "%s %s virtiofs defaults,nofail 0 0\n", s->tag,
                                s->mount_point);
      else
        g_string_append_printf (fstab, "%s %s 9p trans=virtio,version=9p2000.L,%s,nofail 0 0\n",
                                s->tag, s->mount_point, s->readonly ? "ro" : "rw");
      json_array_add_array_element (runcmd, argv_array ("mkdir", "-p", s->mount_point));
      json_array_add_array_element (runcmd, argv_array ("mount", s->mount_point, NULL));
    }
  if (fstab->len == 0)
    return;
  file = json_object_new ();
  json_object_set_string_member (file, "path", "/etc/fstab");
  json_object_set_string_member (file, "content", fstab->str);
  json_object_set_boolean_member (file, "append", TRUE);
  json_array_add_object_element (files, file);
}
