/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CPU lists, host CPU topology and the dedicated-CPU allocator (cpu-alloc.h). */
#include "config.h"

#include "cpu-alloc.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static int
compare_uint (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

GArray *
gvd_cpulist_parse (const char *field, const char *text, GError **error)
{
  g_autoptr(GArray) cpus = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree gboolean *seen = NULL;
  g_auto(GStrv) parts = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (strlen (text) > 4096)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': a CPU list of at most 4096 characters", field);
      return NULL;
    }
  seen = g_new0 (gboolean, GVD_CPU_MAX);
  parts = g_strsplit (text, ",", -1);
  for (gsize i = 0; parts[i] != NULL; i++)
    {
      g_auto(GStrv) range = NULL;
      guint64 lo, hi;
      char *part = g_strstrip (parts[i]);

      if (*part == '\0' && parts[1] == NULL)
        break; /* "" is the empty list */
      range = g_strsplit (part, "-", 3);
      if (range[0] == NULL || (range[1] != NULL && range[2] != NULL)
          || !g_ascii_string_to_unsigned (range[0], 10, 0, GVD_CPU_MAX - 1, &lo, NULL)
          || (range[1] != NULL
              && !g_ascii_string_to_unsigned (range[1], 10, 0, GVD_CPU_MAX - 1, &hi, NULL)))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'%s': '%s' is not a CPU list (e.g. 0-3,8; CPUs below %d)", field, text,
                       GVD_CPU_MAX);
          return NULL;
        }
      if (range[1] == NULL)
        hi = lo;
      if (hi < lo)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'%s': the range %s ends before it starts", field, part);
          return NULL;
        }
      for (guint64 c = lo; c <= hi; c++)
        if (!seen[c])
          {
            guint cpu = (guint) c;
            seen[c] = TRUE;
            g_array_append_val (cpus, cpu);
          }
    }
  g_array_sort (cpus, compare_uint);
  return g_steal_pointer (&cpus);
}

char *
gvd_cpulist_format (const guint *cpus, guint n)
{
  g_autofree guint *sorted = g_memdup2 (cpus, sizeof (guint) * n);
  GString *s = g_string_new (NULL);

  if (n > 0)
    qsort (sorted, n, sizeof (guint), compare_uint);
  for (guint i = 0; i < n;)
    {
      guint j = i;

      while (j + 1 < n && sorted[j + 1] == sorted[j] + 1)
        j++;
      if (s->len > 0)
        g_string_append_c (s, ',');
      if (j == i)
        g_string_append_printf (s, "%u", sorted[i]);
      else
        g_string_append_printf (s, "%u-%u", sorted[i], sorted[j]);
      i = j + 1;
    }
  return g_string_free (s, FALSE);
}

/* ---- topology ------------------------------------------------------------------ */

GvdCpuTopology *
gvd_cpu_topology_new (void)
{
  GvdCpuTopology *topo = g_new0 (GvdCpuTopology, 1);

  topo->cpus = g_array_new (FALSE, FALSE, sizeof (GvdHostCpu));
  return topo;
}

void
gvd_cpu_topology_free (GvdCpuTopology *topo)
{
  if (topo == NULL)
    return;
  g_array_unref (topo->cpus);
  g_free (topo);
}

static const GvdHostCpu *
find_cpu (const GvdCpuTopology *topo, guint id, guint *out_index)
{
  guint lo = 0, hi = topo->cpus->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const GvdHostCpu *c = &g_array_index (topo->cpus, GvdHostCpu, mid);

      if (c->id == id)
        {
          if (out_index != NULL)
            *out_index = mid;
          return c;
        }
      if (c->id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (out_index != NULL)
    *out_index = lo;
  return NULL;
}

void
gvd_cpu_topology_add (GvdCpuTopology *topo, guint id, int node, guint core)
{
  GvdHostCpu cpu = { .id = id, .node = node, .core = core };
  guint at;

  if (find_cpu (topo, id, &at) != NULL)
    g_array_index (topo->cpus, GvdHostCpu, at) = cpu;
  else
    g_array_insert_val (topo->cpus, at, cpu);
}

int
gvd_cpu_topology_node_of (const GvdCpuTopology *topo, guint id)
{
  const GvdHostCpu *c = find_cpu (topo, id, NULL);

  return c != NULL ? c->node : -1;
}

/* ---- allocation ------------------------------------------------------------------- */

void
gvd_cpu_allocation_free (GvdCpuAllocation *alloc)
{
  if (alloc == NULL)
    return;
  g_clear_pointer (&alloc->pins, g_array_unref);
  g_clear_pointer (&alloc->emulator, g_array_unref);
  g_free (alloc);
}

static gboolean
in_list (const GArray *list, guint cpu)
{
  for (guint i = 0; list != NULL && i < list->len; i++)
    if (g_array_index (list, guint, i) == cpu)
      return TRUE;
  return FALSE;
}

static int
compare_by_core (gconstpointer a, gconstpointer b)
{
  const GvdHostCpu *x = a, *y = b;

  if (x->core != y->core)
    return x->core < y->core ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* What one node offers: its CPUs by core, the free ones, and who holds the
 * others. */
typedef struct {
  int node;
  GArray *free;      /* GvdHostCpu, sorted by (core, id) */
  guint n_total;     /* online CPUs on the node */
  guint max_threads; /* the most sibling threads any core of the node has */
  GArray *held;      /* guint */
  GArray *reserved;  /* guint */
  GPtrArray *holders; /* distinct names, borrowed */
} NodeView;

static void
node_view_clear (NodeView *v)
{
  g_clear_pointer (&v->free, g_array_unref);
  g_clear_pointer (&v->held, g_array_unref);
  g_clear_pointer (&v->reserved, g_array_unref);
  g_clear_pointer (&v->holders, g_ptr_array_unref);
}

static void
node_view (const GvdCpuTopology *topo, const GvdCpuRequest *req, GHashTable *held, int node,
           NodeView *out)
{
  g_autoptr(GHashTable) threads = g_hash_table_new (g_direct_hash, g_direct_equal);

  memset (out, 0, sizeof *out);
  out->node = node;
  out->free = g_array_new (FALSE, FALSE, sizeof (GvdHostCpu));
  out->held = g_array_new (FALSE, FALSE, sizeof (guint));
  out->reserved = g_array_new (FALSE, FALSE, sizeof (guint));
  out->holders = g_ptr_array_new ();
  for (guint i = 0; i < topo->cpus->len; i++)
    {
      const GvdHostCpu *c = &g_array_index (topo->cpus, GvdHostCpu, i);
      const char *holder;
      guint n;

      if (topo->has_nodes && c->node != node)
        continue;
      out->n_total++;
      n = GPOINTER_TO_UINT (g_hash_table_lookup (threads, GUINT_TO_POINTER (c->core))) + 1;
      g_hash_table_insert (threads, GUINT_TO_POINTER (c->core), GUINT_TO_POINTER (n));
      out->max_threads = MAX (out->max_threads, n);
      holder = held != NULL ? g_hash_table_lookup (held, GUINT_TO_POINTER (c->id)) : NULL;
      if (in_list (req->reserved, c->id))
        g_array_append_val (out->reserved, c->id);
      else if (holder != NULL)
        {
          g_array_append_val (out->held, c->id);
          if (!g_ptr_array_find_with_equal_func (out->holders, holder, g_str_equal, NULL))
            g_ptr_array_add (out->holders, (gpointer) holder);
        }
      else
        g_array_append_val (out->free, *c);
    }
  g_array_sort (out->free, compare_by_core);
}

/* Take the CPUs for @req from @v: vCPU i → pins[i]. NULL when they do not fit. */
static GArray *
take (const NodeView *v, const GvdCpuRequest *req)
{
  g_autoptr(GArray) pins = g_array_new (FALSE, FALSE, sizeof (guint));
  guint t = MAX (req->threads_per_core, 1);

  /* @free is sorted by core: a core's free threads are adjacent. With one
   * thread per guest core the vCPUs still fill host cores in order, so an
   * instance's vCPUs share cores with each other before anyone else's. */
  for (guint i = 0; i < v->free->len && pins->len < req->vcpus;)
    {
      guint j = i;

      while (j < v->free->len
             && g_array_index (v->free, GvdHostCpu, j).core == g_array_index (v->free, GvdHostCpu, i).core)
        j++;
      /* free[i..j) are one core's free threads. */
      if (t == 1)
        for (guint k = i; k < j && pins->len < req->vcpus; k++)
          g_array_append_val (pins, g_array_index (v->free, GvdHostCpu, k).id);
      else if (j - i >= t)
        for (guint k = i; k < i + t; k++)
          g_array_append_val (pins, g_array_index (v->free, GvdHostCpu, k).id);
      i = j;
    }
  if (pins->len < req->vcpus)
    return NULL;
  return g_steal_pointer (&pins);
}

/* How many vCPUs @v could take: free CPUs, or t × cores with t free threads. */
static guint
capacity (const NodeView *v, guint t)
{
  guint n = 0;

  if (t <= 1)
    return v->free->len;
  for (guint i = 0; i < v->free->len;)
    {
      guint j = i;

      while (j < v->free->len
             && g_array_index (v->free, GvdHostCpu, j).core == g_array_index (v->free, GvdHostCpu, i).core)
        j++;
      if (j - i >= t)
        n += t;
      i = j;
    }
  return n;
}

static char *
node_name (const GvdCpuTopology *topo, int node)
{
  return topo->has_nodes ? g_strdup_printf ("NUMA node %d", node) : g_strdup ("the host");
}

/* "(CPUs 24-31 held by a, b; CPU 0 reserved for the host)" or "". */
static char *
why_not_free (const NodeView *v)
{
  GString *s = g_string_new (NULL);

  if (v->held->len > 0)
    {
      g_autofree char *list = gvd_cpulist_format ((guint *) v->held->data, v->held->len);

      g_string_append_printf (s, "CPU%s %s held by ", v->held->len > 1 ? "s" : "", list);
      for (guint i = 0; i < v->holders->len && i < 5; i++)
        g_string_append_printf (s, "%s%s", i > 0 ? ", " : "",
                                (const char *) g_ptr_array_index (v->holders, i));
      if (v->holders->len > 5)
        g_string_append_printf (s, " and %u more", v->holders->len - 5);
    }
  if (v->reserved->len > 0)
    {
      g_autofree char *list = gvd_cpulist_format ((guint *) v->reserved->data, v->reserved->len);

      g_string_append_printf (s, "%sCPU%s %s reserved for the host", s->len > 0 ? "; " : "",
                              v->reserved->len > 1 ? "s" : "", list);
    }
  if (s->len > 0)
    {
      g_string_prepend (s, " (");
      g_string_append_c (s, ')');
    }
  return g_string_free (s, FALSE);
}

static gboolean
refuse (const GvdCpuTopology *topo, const GvdCpuRequest *req, const NodeView *best,
        gboolean several, GError **error)
{
  g_autofree char *where = node_name (topo, best->node);
  g_autofree char *why = why_not_free (best);
  guint t = MAX (req->threads_per_core, 1);

  if (best->n_total == 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS,
                   "'cpu.policy': dedicated needs %u CPUs on %s, which has no online CPUs",
                   req->vcpus, where);
      return FALSE;
    }
  if (t > 1 && best->max_threads < t)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'cpu.threads_per_core': %u sibling threads per core, but the host cores of "
                   "%s have %u", t, where, best->max_threads);
      return FALSE;
    }
  if (t > 1)
    g_set_error (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS,
                 "'cpu.policy': dedicated needs %u host core%s with %u free threads each on %s%s; "
                 "%u are free%s", req->vcpus / t, req->vcpus / t == 1 ? "" : "s", t, where, several ? " (the roomiest node)" : "",
                 capacity (best, t) / t, why);
  else
    g_set_error (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS,
                 "'cpu.policy': dedicated needs %u CPU%s on %s%s; %u %s free%s", req->vcpus,
                 req->vcpus == 1 ? "" : "s", where,
                 several ? " (the roomiest node)" : "", best->free->len,
                 best->free->len == 1 ? "is" : "are", why);
  return FALSE;
}

GvdCpuAllocation *
gvd_cpu_alloc (const GvdCpuTopology *topo, const GvdCpuRequest *req, GHashTable *held,
               GError **error)
{
  g_autoptr(GArray) nodes = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GvdCpuAllocation) alloc = NULL;
  g_autoptr(GArray) pins = NULL;
  guint t = MAX (req->threads_per_core, 1);
  gboolean by_room = req->nodes == NULL || req->nodes->len == 0;
  NodeView best = { 0 };
  int chosen = -1;

  g_return_val_if_fail (topo != NULL && req != NULL, NULL);
  g_return_val_if_fail (req->vcpus > 0 && req->vcpus % t == 0, NULL);

  if (!topo->has_nodes)
    g_array_append_val (nodes, chosen); /* one pseudo node: the whole host */
  else if (!by_room)
    g_array_append_vals (nodes, req->nodes->data, req->nodes->len);
  else
    for (guint i = 0; i < topo->cpus->len; i++)
      {
        int n = g_array_index (topo->cpus, GvdHostCpu, i).node;
        gboolean have = FALSE;

        for (guint j = 0; j < nodes->len && !have; j++)
          have = g_array_index (nodes, int, j) == n;
        if (!have)
          g_array_append_val (nodes, n);
      }
  if (nodes->len == 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS,
                   "'cpu.policy': dedicated, but the host reports no online CPUs");
      return NULL;
    }

  /* Given nodes: the first with room. Otherwise: the roomiest (then the
   * lowest numbered), which keeps room on every node for GPU instances. */
  for (guint i = 0; i < nodes->len; i++)
    {
      NodeView v;
      guint room, best_room;
      g_autoptr(GArray) got = NULL;

      node_view (topo, req, held, g_array_index (nodes, int, i), &v);
      room = capacity (&v, t);
      best_room = best.free != NULL ? capacity (&best, t) : 0;
      got = room >= req->vcpus ? take (&v, req) : NULL;
      if (got != NULL && (pins == NULL || (by_room && room > best_room)))
        {
          g_clear_pointer (&pins, g_array_unref);
          pins = g_steal_pointer (&got);
          chosen = v.node;
          node_view_clear (&best);
          best = v;
          if (!by_room)
            break;
          continue;
        }
      /* Refusals describe the roomiest candidate. */
      if (pins == NULL && (best.free == NULL || room > best_room))
        {
          node_view_clear (&best);
          best = v;
        }
      else
        node_view_clear (&v);
    }
  if (pins == NULL)
    {
      refuse (topo, req, &best, nodes->len > 1, error);
      node_view_clear (&best);
      return NULL;
    }

  alloc = g_new0 (GvdCpuAllocation, 1);
  alloc->node = topo->has_nodes ? chosen : -1;
  alloc->pins = g_steal_pointer (&pins);
  alloc->emulator = g_array_new (FALSE, FALSE, sizeof (guint));
  /* The emulator threads (QEMU's main loop, I/O) do host work: on the
   * host's reserved CPUs of the node, else on all reserved CPUs that are
   * online, else on the instance's own CPUs (Nova's default). */
  if (best.reserved->len > 0)
    g_array_append_vals (alloc->emulator, best.reserved->data, best.reserved->len);
  else
    for (guint i = 0; req->reserved != NULL && i < req->reserved->len; i++)
      {
        guint cpu = g_array_index (req->reserved, guint, i);
        if (find_cpu (topo, cpu, NULL) != NULL)
          g_array_append_val (alloc->emulator, cpu);
      }
  if (alloc->emulator->len == 0)
    g_array_append_vals (alloc->emulator, alloc->pins->data, alloc->pins->len);
  g_array_sort (alloc->emulator, compare_uint);
  node_view_clear (&best);
  return g_steal_pointer (&alloc);
}
