/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's command-line parsing and the parsers of option values
 * (sizes, labels, counts); pure, so the tests drive them without a daemon. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *long_name;  /* "gpus" for --gpus */
  char short_name;        /* 'o' for -o, or 0 */
  gboolean has_value;     /* --gpus N; FALSE: a flag */
  gboolean repeat;        /* may be given more than once (--device A --device B) */
} GvdCtlOption;

typedef struct {
  GHashTable *values;     /* long name → GPtrArray of values ("" for flags) */
  GPtrArray *positional;  /* the words that are not options, in order */
} GvdCtlArgs;

GvdCtlArgs *gvd_ctl_args_new (void);
void gvd_ctl_args_free (GvdCtlArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCtlArgs, gvd_ctl_args_free)

/* Parse @argv[0..@argc) against the options in @tables (a NULL-terminated
 * list of arrays, each ended by an entry with a NULL long_name) into @args.
 * Accepts --name VALUE, --name=VALUE, -x VALUE, -xVALUE and "--" (the rest
 * are positional). With @stop_at_positional the parse ends at the first
 * positional word, and *@out_consumed says how many words were read.
 * Errors (GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE): an unknown option, a missing
 * value, a non-repeatable option given twice. */
gboolean gvd_ctl_args_parse (GvdCtlArgs *args, const GvdCtlOption *const *tables, int argc,
                             char **argv, gboolean stop_at_positional, int *out_consumed,
                             GError **error);

gboolean gvd_ctl_args_has (const GvdCtlArgs *args, const char *name);
/* The last value given, or NULL. */
const char *gvd_ctl_args_get (const GvdCtlArgs *args, const char *name);
/* Every value given, in order (NULL-terminated, owned by @args; never NULL). */
const char *const *gvd_ctl_args_get_all (const GvdCtlArgs *args, const char *name);

/* A whole number in [@min, @max] ("--gpus 2"); @what names it in errors. */
gboolean gvd_ctl_parse_uint (const char *text, const char *what, guint64 min, guint64 max,
                             guint64 *out_value, GError **error);
/* A size in MiB: "4096" (MiB), "512M", "4G", "1T" (also with "i"/"iB"). */
gboolean gvd_ctl_parse_size_mib (const char *text, const char *what, guint64 *out_mib,
                                 GError **error);
/* A size in GiB: "20" (GiB), "20G", "1T" (also with "i"/"iB"). */
gboolean gvd_ctl_parse_size_gib (const char *text, const char *what, guint64 *out_gib,
                                 GError **error);
/* "key=value" (key non-empty, value may be empty). */
gboolean gvd_ctl_parse_label (const char *text, char **out_key, char **out_value, GError **error);

G_END_DECLS
