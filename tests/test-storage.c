/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* storage.c against the real libvirtd, in its own pool (gvdtest-pool):
 * pool setup, imports, overlays, uploads, deletion; and /v1/images through
 * the built daemon (gvdtest-pool-api). */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "virt-conn.h"

#define POOL "gvdtest-pool"
#define POOL_PATH "/var/tmp/gvdtest-pool"
#define API_POOL "gvdtest-pool-api"
#define API_POOL_PATH "/var/tmp/gvdtest-pool-api"
#define PREFIX "gpuvm-"
#define TINY_VIRTUAL_SIZE (64 * 1024 * 1024)

static virConnectPtr conn;
static GvdStorage *storage;
static char *tmpdir;
/* Sources are imported from the test's temp dir and tests/data/images. */
static char *import_dirs[3];
#define IMPORT_DIRS ((const char *const *) import_dirs)

/* Delete every volume, then the pool itself (its directory included). */
static void
remove_pool (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, name);
  virStorageVolPtr *vols = NULL;
  int n;

  if (pool == NULL)
    return;
  if (!virStoragePoolIsActive (pool))
    virStoragePoolCreate (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      virStorageVolDelete (vols[i], 0);
      virStorageVolFree (vols[i]);
    }
  free (vols);
  virStoragePoolDestroy (pool);
  virStoragePoolDelete (pool, 0);
  virStoragePoolUndefine (pool);
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;

  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  storage = gvd_storage_new ();
  remove_pool (POOL);
  remove_pool (API_POOL);
  tmpdir = g_dir_make_tmp ("gvdtest-storage-XXXXXX", &error);
  assert_non_null (tmpdir);
  import_dirs[0] = g_strdup (tmpdir);
  {
    g_autofree char *images = gvd_test_data_path ("data", "images", NULL);
    import_dirs[1] = g_canonicalize_filename (images, NULL);
  }
  return 0;
}

static int
group_teardown (void **state)
{
  g_autoptr(GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;

  remove_pool (POOL);
  remove_pool (API_POOL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tmpdir, name, NULL);
      g_remove (path);
    }
  g_rmdir (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
  g_clear_pointer (&import_dirs[0], g_free);
  g_clear_pointer (&import_dirs[1], g_free);
  g_clear_pointer (&storage, gvd_storage_unref);
  virConnectClose (conn);
  return 0;
}

/* Every test starts from an empty, ensured pool. */
static int
setup (void **state)
{
  g_autoptr(GError) error = NULL;

  remove_pool (POOL);
  assert_true (gvd_storage_ensure_pool (storage, conn, POOL, POOL_PATH, &error));
  return 0;
}

/* Canonical: an import path may have no ".." (the source dir is often
 * "_build/.."). */
static char *
fixture (const char *name)
{
  g_autofree char *path = gvd_test_data_path ("data", "images", name, NULL);

  return g_canonicalize_filename (path, NULL);
}

/* A raw source file of @len pattern bytes in the test's temp dir. */
static char *
raw_source (const char *name, gsize len)
{
  g_autofree guint8 *data = g_malloc (len);
  char *path = g_build_filename (tmpdir, name, NULL);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (i * 7 + i / 4096);
  assert_true (g_file_set_contents (path, (const char *) data, len, NULL));
  return path;
}

static GvdImage *
import_ok (const char *name, const char *source, const char *format)
{
  g_autoptr(GError) error = NULL;
  GvdImage *image = gvd_storage_import_image (storage, conn, POOL, name, source, format, PREFIX, IMPORT_DIRS, &error);

  if (error != NULL)
    print_error ("import %s: %s\n", name, error->message);
  assert_non_null (image);
  return image;
}

static char *
volume_xml (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  g_autoptr(virStorageVol) vol = NULL;
  char *xml;
  char *out;

  assert_non_null (pool);
  vol = virStorageVolLookupByName (pool, name);
  if (vol == NULL)
    return NULL;
  xml = virStorageVolGetXMLDesc (vol, 0);
  out = g_strdup (xml);
  free (xml);
  return out;
}

static int
recv_cb (virStreamPtr st, const char *data, size_t nbytes, void *opaque)
{
  g_byte_array_append (opaque, (const guint8 *) data, nbytes);
  return (int) nbytes;
}

/* A volume's bytes, read back through libvirt. */
static GBytes *
download (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  g_autoptr(virStorageVol) vol = virStorageVolLookupByName (pool, name);
  g_autoptr(virStream) st = virStreamNew (conn, 0);
  GByteArray *buf = g_byte_array_new ();

  assert_non_null (vol);
  assert_int_equal (virStorageVolDownload (vol, st, 0, 0, 0), 0);
  assert_int_equal (virStreamRecvAll (st, recv_cb, buf), 0);
  assert_int_equal (virStreamFinish (st), 0);
  return g_byte_array_free_to_bytes (buf);
}

/* ---- the pool ------------------------------------------------------------- */

static void
ensure_pool__twice__active_autostarted_same_path (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(virStoragePool) pool = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *type = NULL;
  g_autofree char *path = NULL;
  int autostart = 0;

  /* setup ensured it once (from nothing); again, with a trailing slash. */
  assert_true (gvd_storage_ensure_pool (storage, conn, POOL, POOL_PATH "/", &error));
  assert_null (error);
  pool = virStoragePoolLookupByName (conn, POOL);
  assert_non_null (pool);
  assert_int_equal (virStoragePoolIsActive (pool), 1);
  assert_int_equal (virStoragePoolGetAutostart (pool, &autostart), 0);
  assert_int_equal (autostart, 1);
  xml = virStoragePoolGetXMLDesc (pool, 0);
  assert_true (gvd_storage_parse_pool_xml (xml, &type, &path, NULL));
  assert_string_equal (type, "dir");
  assert_string_equal (path, POOL_PATH);
  assert_true (g_file_test (POOL_PATH, G_FILE_TEST_IS_DIR));

  /* An inactive pool is started again. */
  assert_int_equal (virStoragePoolDestroy (pool), 0);
  assert_true (gvd_storage_ensure_pool (storage, conn, POOL, POOL_PATH, &error));
  assert_int_equal (virStoragePoolIsActive (pool), 1);
}

static void
ensure_pool__same_name_other_path__conflict_names_both (void **state)
{
  g_autoptr(GError) error = NULL;

  assert_false (gvd_storage_ensure_pool (storage, conn, POOL, "/var/tmp/gvdtest-elsewhere", &error));
  assert_int_equal (error->code, GVD_ERROR_CONFLICT);
  assert_non_null (strstr (error->message, POOL_PATH));
  assert_non_null (strstr (error->message, "/var/tmp/gvdtest-elsewhere"));
  assert_false (g_file_test ("/var/tmp/gvdtest-elsewhere", G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  assert_false (gvd_storage_ensure_pool (storage, conn, POOL, "relative/path", &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_CONFIG);
}

/* ---- imports -------------------------------------------------------------- */

static void
import_image__raw_and_qcow2__listed_with_format_and_capacity (void **state)
{
  g_autofree char *raw = raw_source ("disk.img", 3 * 65536 + 17);
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autoptr(GvdImage) a = import_ok ("a-raw.img", raw, NULL);
  g_autoptr(GvdImage) b = import_ok ("b-tiny.qcow2", qcow2, NULL);
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) want = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autofree char *data = NULL;
  gsize len;
  GvdImage *img;

  assert_string_equal (a->format, "raw");
  assert_int_equal (a->capacity, 3 * 65536 + 17);
  assert_string_equal (a->path, POOL_PATH "/a-raw.img");
  assert_string_equal (b->format, "qcow2");
  assert_int_equal (b->capacity, TINY_VIRTUAL_SIZE);

  list = gvd_storage_list_images (storage, conn, POOL, PREFIX, &error);
  assert_non_null (list);
  assert_int_equal (list->len, 2);
  img = g_ptr_array_index (list, 0);
  assert_string_equal (img->name, "a-raw.img");
  assert_string_equal (img->format, "raw");
  assert_int_equal (img->capacity, 3 * 65536 + 17);
  assert_int_equal (img->in_use_by->len, 0);
  img = g_ptr_array_index (list, 1);
  assert_string_equal (img->name, "b-tiny.qcow2");
  assert_string_equal (img->format, "qcow2");
  assert_int_equal (img->capacity, TINY_VIRTUAL_SIZE);

  /* The bytes arrived unchanged. */
  assert_true (g_file_get_contents (qcow2, &data, &len, NULL));
  want = g_bytes_new_take (g_steal_pointer (&data), len);
  got = download ("b-tiny.qcow2");
  assert_true (g_bytes_equal (want, got));
}

static void
import_image__sparse_raw__identical_and_still_sparse (void **state)
{
  g_autofree char *path = g_build_filename (tmpdir, "sparse.img", NULL);
  g_autofree guint8 *chunk = g_malloc (65536);
  g_autoptr(GvdImage) image = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autofree char *want = NULL;
  gsize len;
  struct stat st;
  int fd;

  for (gsize i = 0; i < 65536; i++)
    chunk[i] = (guint8) (i % 13 + 1);
  /* data, 8 MiB hole, data, trailing hole up to 32 MiB */
  fd = open (path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  assert_int_equal (pwrite (fd, chunk, 65536, 0), 65536);
  assert_int_equal (pwrite (fd, chunk, 65536, 8 << 20), 65536);
  assert_int_equal (ftruncate (fd, 32 << 20), 0);
  close (fd);

  image = import_ok ("sparse.img", path, NULL);
  assert_string_equal (image->format, "raw");
  assert_int_equal (image->capacity, 32 << 20);
  assert_true (g_file_get_contents (path, &want, &len, NULL));
  got = download ("sparse.img");
  assert_int_equal (g_bytes_get_size (got), len);
  assert_memory_equal (g_bytes_get_data (got, NULL), want, len);
  /* Where the file system keeps holes, the holes were not written. */
  assert_int_equal (stat (path, &st), 0);
  if ((guint64) st.st_blocks * 512 < (guint64) st.st_size)
    assert_true (image->allocation < (guint64) (4 << 20));
  else
    print_message ("file system without holes: allocation not checked\n");
}

static void
import_image__explicit_format__checked_against_content (void **state)
{
  g_autofree char *raw = raw_source ("plain.img", 4096);
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autoptr(GvdImage) ok = import_ok ("q.qcow2", qcow2, "qcow2");
  g_autoptr(GError) error = NULL;

  assert_null (gvd_storage_import_image (storage, conn, POOL, "x", qcow2, "raw", PREFIX, IMPORT_DIRS, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  assert_non_null (strstr (error->message, "qcow2"));
  g_clear_error (&error);
  assert_null (gvd_storage_import_image (storage, conn, POOL, "x", raw, "qcow2", PREFIX, IMPORT_DIRS, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  assert_null (gvd_storage_import_image (storage, conn, POOL, "x", raw, "vmdk", PREFIX, IMPORT_DIRS, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  assert_null (volume_xml ("x"));
}

static void
import_image__backing_file__refused_and_removed (void **state)
{
  g_autofree char *path = fixture ("backing.qcow2");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;

  assert_null (gvd_storage_import_image (storage, conn, POOL, "chained.qcow2", path, NULL, PREFIX,
                                         IMPORT_DIRS, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  assert_non_null (strstr (error->message, "backing file"));
  assert_null (volume_xml ("chained.qcow2"));
  list = gvd_storage_list_images (storage, conn, POOL, PREFIX, NULL);
  assert_int_equal (list->len, 0);
}

static void
import_image__bad_input__clear_errors_nothing_created (void **state)
{
  g_autofree char *raw = raw_source ("src.img", 1000);
  g_autofree char *empty = raw_source ("empty.img", 0);
  g_autofree char *missing = g_build_filename (tmpdir, "missing.img", NULL);
  g_autofree char *subdir = g_build_filename (tmpdir, "subdir.img", NULL);
  g_autofree char *link = g_build_filename (tmpdir, "shadow.img", NULL);
  g_autofree char *fifo = g_build_filename (tmpdir, "fifo.img", NULL);
  g_autoptr(GvdImage) first = import_ok ("taken.img", raw, "raw");
  g_autoptr(GPtrArray) list = NULL;
  struct {
    const char *name;
    const char *source;
    GvdErrorCode code;
    const char *needle;
  } cases[] = {
    { "../escape", raw, GVD_ERROR_INVALID_ARGUMENT, "not valid" },
    { ".hidden", raw, GVD_ERROR_INVALID_ARGUMENT, "not valid" },
    { "", raw, GVD_ERROR_INVALID_ARGUMENT, "not valid" },
    { "a b", raw, GVD_ERROR_INVALID_ARGUMENT, "not valid" },
    { PREFIX "x-root.qcow2", raw, GVD_ERROR_INVALID_ARGUMENT, "reserved" },
    { "taken.img", raw, GVD_ERROR_ALREADY_EXISTS, "taken.img" },
    { "rel.img", "relative/disk.img", GVD_ERROR_INVALID_ARGUMENT, "absolute" },
    { "missing.img", missing, GVD_ERROR_INVALID_ARGUMENT, "No such file" },
    { "outside.img", "/nonexistent/gvdtest.img", GVD_ERROR_FORBIDDEN, "not below" },
    { "shadow.img", "/etc/shadow", GVD_ERROR_FORBIDDEN, "not below" },
    { "null.img", "/dev/null", GVD_ERROR_FORBIDDEN, "not below" },
    { "up.img", "/var/tmp/../../etc/shadow", GVD_ERROR_FORBIDDEN, "'..'" },
    { "dir.img", subdir, GVD_ERROR_FORBIDDEN, "a directory, not a regular file" },
    { "link.img", link, GVD_ERROR_FORBIDDEN, "symbolic link" },
    { "fifo.img", fifo, GVD_ERROR_FORBIDDEN, "a FIFO, not a regular file" },
    { "empty.img", empty, GVD_ERROR_INVALID_ARGUMENT, "0 bytes" },
  };

  g_remove (subdir);
  g_remove (link);
  g_remove (fifo);
  assert_int_equal (g_mkdir (subdir, 0755), 0);
  assert_int_equal (symlink ("/etc/shadow", link), 0);
  assert_int_equal (mkfifo (fifo, 0600), 0);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      GvdImage *image = gvd_storage_import_image (storage, conn, POOL, cases[i].name, cases[i].source,
                                                  NULL, PREFIX, IMPORT_DIRS, &error);

      if (image != NULL || error == NULL || error->code != (int) cases[i].code
          || strstr (error->message, cases[i].needle) == NULL)
        print_error ("case %s: %s\n", cases[i].name, error != NULL ? error->message : "ok");
      assert_null (image);
      assert_int_equal (error->code, cases[i].code);
      assert_non_null (strstr (error->message, cases[i].needle));
    }
  list = gvd_storage_list_images (storage, conn, POOL, PREFIX, NULL);
  assert_int_equal (list->len, 1);
  g_remove (subdir);
  g_remove (link);
  g_remove (fifo);
}

/* ---- overlays --------------------------------------------------------------- */

static void
create_overlay__qcow2_base__backing_store_and_capacity (void **state)
{
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autoptr(GvdImage) base = import_ok ("base.qcow2", qcow2, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *path2 = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GvdImage) shown = NULL;
  GvdImage *img;

  path = gvd_storage_create_overlay (storage, conn, POOL, PREFIX "a-root.qcow2", "base.qcow2",
                                     2 * TINY_VIRTUAL_SIZE, &error);
  assert_null (error);
  assert_string_equal (path, POOL_PATH "/" PREFIX "a-root.qcow2");
  xml = volume_xml (PREFIX "a-root.qcow2");
  info = gvd_storage_parse_volume_xml (xml, &error);
  assert_non_null (info);
  assert_string_equal (info->format, "qcow2");
  assert_int_equal (info->capacity, 2 * TINY_VIRTUAL_SIZE);
  assert_string_equal (info->backing_path, base->path);
  assert_string_equal (info->backing_format, "qcow2");

  /* Size 0: the base's virtual size. */
  path2 = gvd_storage_create_overlay (storage, conn, POOL, PREFIX "b-root.qcow2", "base.qcow2", 0, &error);
  assert_non_null (path2);
  g_clear_pointer (&xml, g_free);
  g_clear_pointer (&info, gvd_volume_info_free);
  xml = volume_xml (PREFIX "b-root.qcow2");
  info = gvd_storage_parse_volume_xml (xml, NULL);
  assert_int_equal (info->capacity, TINY_VIRTUAL_SIZE);

  /* Instance volumes are not images; the base knows its users. */
  list = gvd_storage_list_images (storage, conn, POOL, PREFIX, &error);
  assert_int_equal (list->len, 1);
  img = g_ptr_array_index (list, 0);
  assert_string_equal (img->name, "base.qcow2");
  assert_int_equal (img->in_use_by->len, 2);
  assert_string_equal (g_ptr_array_index (img->in_use_by, 0), PREFIX "a-root.qcow2");
  assert_string_equal (g_ptr_array_index (img->in_use_by, 1), PREFIX "b-root.qcow2");
  shown = gvd_storage_get_image (storage, conn, POOL, "base.qcow2", PREFIX, &error);
  assert_non_null (shown);
  assert_int_equal (shown->in_use_by->len, 2);
  assert_null (gvd_storage_get_image (storage, conn, POOL, PREFIX "a-root.qcow2", PREFIX, &error));
  assert_int_equal (error->code, GVD_ERROR_IMAGE_NOT_FOUND);
}

static void
create_overlay__raw_base__raw_backing_format (void **state)
{
  g_autofree char *raw = raw_source ("rawbase.img", 1 << 20);
  g_autoptr(GvdImage) base = import_ok ("rawbase.img", raw, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;

  path = gvd_storage_create_overlay (storage, conn, POOL, PREFIX "r-root.qcow2", "rawbase.img",
                                     1 << 21, &error);
  assert_non_null (path);
  xml = volume_xml (PREFIX "r-root.qcow2");
  info = gvd_storage_parse_volume_xml (xml, NULL);
  assert_string_equal (info->backing_format, "raw");
  assert_int_equal (info->capacity, 1 << 21);
}

static void
create_overlay__refusals__codes (void **state)
{
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autoptr(GvdImage) base = import_ok ("base.qcow2", qcow2, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  assert_null (gvd_storage_create_overlay (storage, conn, POOL, PREFIX "s-root.qcow2", "base.qcow2",
                                           TINY_VIRTUAL_SIZE - 1, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  assert_non_null (strstr (error->message, "smaller"));
  assert_null (volume_xml (PREFIX "s-root.qcow2"));
  g_clear_error (&error);

  assert_null (gvd_storage_create_overlay (storage, conn, POOL, PREFIX "s-root.qcow2", "nope.qcow2", 0,
                                           &error));
  assert_int_equal (error->code, GVD_ERROR_IMAGE_NOT_FOUND);
  assert_non_null (strstr (error->message, "nope.qcow2"));
  g_clear_error (&error);

  assert_null (gvd_storage_create_overlay (storage, conn, POOL, PREFIX "s-root.qcow2", "../base.qcow2",
                                           0, &error));
  assert_int_equal (error->code, GVD_ERROR_IMAGE_NOT_FOUND);
  g_clear_error (&error);

  path = gvd_storage_create_overlay (storage, conn, POOL, PREFIX "s-root.qcow2", "base.qcow2", 0, &error);
  assert_non_null (path);
  assert_null (gvd_storage_create_overlay (storage, conn, POOL, PREFIX "s-root.qcow2", "base.qcow2", 0,
                                           &error));
  assert_int_equal (error->code, GVD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);

  assert_null (gvd_storage_create_overlay (storage, conn, POOL, "bad/name", "base.qcow2", 0, &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
}

/* ---- uploads and deletion --------------------------------------------------- */

static void
upload_volume__bytes__read_back_identical (void **state)
{
  gsize len = 300 * 1024 + 5; /* several stream chunks and a ragged tail */
  g_autofree guint8 *buf = g_malloc (len);
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) list = NULL;

  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (i % 251);
  data = g_bytes_new (buf, len);
  path = gvd_storage_upload_volume (conn, POOL, PREFIX "u-seed.iso", data, NULL, &error);
  assert_null (error);
  assert_string_equal (path, POOL_PATH "/" PREFIX "u-seed.iso");
  got = download (PREFIX "u-seed.iso");
  assert_int_equal (g_bytes_get_size (got), len);
  assert_true (g_bytes_equal (data, got));

  assert_null (gvd_storage_upload_volume (conn, POOL, PREFIX "u-seed.iso", data, NULL, &error));
  assert_int_equal (error->code, GVD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  /* Seeds are instance volumes: not images. */
  list = gvd_storage_list_images (storage, conn, POOL, PREFIX, NULL);
  assert_int_equal (list->len, 0);
}

static void
delete_volume__twice__success_both_times (void **state)
{
  g_autoptr(GBytes) data = g_bytes_new_static ("seed", 4);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = gvd_storage_upload_volume (conn, POOL, PREFIX "d-seed.iso", data,
                                                     "raw", &error);

  assert_non_null (path);
  assert_true (gvd_storage_delete_volume (conn, POOL, PREFIX "d-seed.iso", &error));
  assert_null (volume_xml (PREFIX "d-seed.iso"));
  assert_true (gvd_storage_delete_volume (conn, POOL, PREFIX "d-seed.iso", &error));
  assert_true (gvd_storage_delete_volume (conn, POOL, "never-existed", &error));
  assert_null (error);
  assert_false (gvd_storage_delete_volume (conn, POOL, "../x", &error));
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
}

static void
delete_image__in_use__conflict_names_overlay (void **state)
{
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autoptr(GvdImage) base = import_ok ("base.qcow2", qcow2, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = gvd_storage_create_overlay (storage, conn, POOL, PREFIX "c-root.qcow2",
                                                      "base.qcow2", 0, &error);
  g_autofree char *still_there = NULL;

  assert_non_null (path);
  assert_false (gvd_storage_delete_image (storage, conn, POOL, "base.qcow2", PREFIX, &error));
  assert_int_equal (error->code, GVD_ERROR_CONFLICT);
  assert_non_null (strstr (error->message, PREFIX "c-root.qcow2"));
  still_there = volume_xml ("base.qcow2");
  assert_non_null (still_there);
  g_clear_error (&error);

  /* Instance volumes cannot be deleted as images. */
  assert_false (gvd_storage_delete_image (storage, conn, POOL, PREFIX "c-root.qcow2", PREFIX, &error));
  assert_int_equal (error->code, GVD_ERROR_IMAGE_NOT_FOUND);
  g_clear_error (&error);

  assert_true (gvd_storage_delete_volume (conn, POOL, PREFIX "c-root.qcow2", &error));
  assert_true (gvd_storage_delete_image (storage, conn, POOL, "base.qcow2", PREFIX, &error));
  assert_null (volume_xml ("base.qcow2"));
  assert_false (gvd_storage_delete_image (storage, conn, POOL, "base.qcow2", PREFIX, &error));
  assert_int_equal (error->code, GVD_ERROR_IMAGE_NOT_FOUND);
}

/* ---- a lost connection ------------------------------------------------------------- */

/* A unix socket that relays one client to libvirtd until told to hang up,
 * so the test can cut a live connection without touching the shared
 * libvirtd. */
typedef struct {
  GSocket *listener;
  int stop[2];
} Relay;

static gboolean
relay_copy (int from, int to)
{
  char buf[64 * 1024];
  ssize_t n = read (from, buf, sizeof buf);

  for (ssize_t off = 0; n > 0 && off < n;)
    {
      ssize_t w = write (to, buf + off, (size_t) (n - off));

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return FALSE;
      off += w;
    }
  return n > 0;
}

static gpointer
relay_thread (gpointer data)
{
  Relay *r = data;
  g_autoptr(GSocket) client = g_socket_accept (r->listener, NULL, NULL);
  g_autoptr(GSocket) up = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new ("/run/libvirt/libvirt-sock");
  GPollFD fds[3];

  if (client == NULL || up == NULL || !g_socket_connect (up, addr, NULL, NULL))
    return NULL;
  /* GSocket makes its descriptors non-blocking; the relay blocks. */
  g_unix_set_fd_nonblocking (g_socket_get_fd (client), FALSE, NULL);
  g_unix_set_fd_nonblocking (g_socket_get_fd (up), FALSE, NULL);
  fds[0] = (GPollFD) { g_socket_get_fd (client), G_IO_IN, 0 };
  fds[1] = (GPollFD) { g_socket_get_fd (up), G_IO_IN, 0 };
  fds[2] = (GPollFD) { r->stop[0], G_IO_IN, 0 };
  for (;;)
    {
      if (g_poll (fds, 3, -1) < 0)
        continue;
      if (fds[2].revents != 0)
        break;
      if (fds[0].revents != 0 && !relay_copy (fds[0].fd, fds[1].fd))
        break;
      if (fds[1].revents != 0 && !relay_copy (fds[1].fd, fds[0].fd))
        break;
    }
  g_socket_close (client, NULL);
  g_socket_close (up, NULL);
  return NULL;
}

static void
lost_connection__storage_and_instances__same_code (void **state)
{
  g_autofree char *path = g_build_filename (tmpdir, "relay.sock", NULL);
  g_autofree char *uri = g_strdup_printf ("qemu+unix:///system?socket=%s", path);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr(GError) storage_error = NULL;
  g_autoptr(GError) instances_error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  virDomainPtr *doms = NULL;
  virConnectPtr c;
  Relay r = { 0 };
  GThread *thread;

  r.listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  assert_true (g_socket_bind (r.listener, addr, FALSE, NULL));
  assert_true (g_socket_listen (r.listener, NULL));
  assert_true (g_unix_open_pipe (r.stop, FD_CLOEXEC, NULL));
  thread = g_thread_new ("relay", relay_thread, &r);
  c = virConnectOpen (uri);
  assert_non_null (c);
  /* Alive through the relay... */
  list = gvd_storage_list_images (storage, c, POOL, PREFIX, &storage_error);
  assert_non_null (list);
  /* ...then libvirtd is gone for this connection. */
  assert_int_equal (write (r.stop[1], "x", 1), 1);
  g_thread_join (thread);

  /* The storage path (what /v1/images and a create's volumes do). */
  assert_null (gvd_storage_list_images (storage, c, POOL, PREFIX, &storage_error));
  assert_non_null (storage_error);
  /* The instance path: instance-recover.c's listing, set as every
   * instance-*.c site sets it. */
  assert_true (virConnectListAllDomains (c, &doms, 0) < 0);
  gvd_virt_error_set (&instances_error, "cannot list domains");
  print_message ("storage: %s\ninstances: %s\n", storage_error->message, instances_error->message);
  assert_int_equal (storage_error->code, GVD_ERROR_LIBVIRT_UNAVAILABLE);
  assert_int_equal (instances_error->code, storage_error->code);
  assert_int_equal (gvd_error_code_http_status (storage_error->code), 503);

  virConnectClose (c);
  close (r.stop[0]);
  close (r.stop[1]);
  g_object_unref (r.listener);
  g_unlink (path);
}

/* ---- concurrency --------------------------------------------------------------- */

typedef struct {
  const char *source;
  GvdImage *image;
  GError *error;
} ImportThread;

static gpointer
import_thread (gpointer data)
{
  ImportThread *t = data;
  g_autoptr(virConnect) c = virConnectOpen ("qemu:///system");

  t->image = gvd_storage_import_image (storage, c, POOL, "race.img", t->source, NULL, PREFIX, IMPORT_DIRS, &t->error);
  return NULL;
}

static void
import_image__same_name_concurrently__exactly_one_wins (void **state)
{
  g_autofree char *raw = raw_source ("race.img", 4 << 20);
  ImportThread t[2] = { { raw, NULL, NULL }, { raw, NULL, NULL } };
  GThread *threads[2];
  g_autoptr(GBytes) got = NULL;
  g_autofree char *data = NULL;
  gsize len;

  for (int i = 0; i < 2; i++)
    threads[i] = g_thread_new ("import", import_thread, &t[i]);
  for (int i = 0; i < 2; i++)
    g_thread_join (threads[i]);
  assert_true ((t[0].image != NULL) != (t[1].image != NULL));
  for (int i = 0; i < 2; i++)
    {
      if (t[i].error != NULL)
        assert_int_equal (t[i].error->code, GVD_ERROR_ALREADY_EXISTS);
      g_clear_error (&t[i].error);
      g_clear_pointer (&t[i].image, gvd_image_free);
    }
  /* The winner's volume is complete: the loser did not delete it. */
  assert_true (g_file_get_contents (raw, &data, &len, NULL));
  got = download ("race.img");
  assert_int_equal (g_bytes_get_size (got), len);
  assert_memory_equal (g_bytes_get_data (got, NULL), data, len);
}

/* ---- the API ------------------------------------------------------------------- */

static gboolean
libvirt_connected (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *health = g_strconcat (d->url, "/healthz", NULL);
  guint status = 0;
  g_autoptr(JsonNode) node = gvd_test_http (session, "GET", health, NULL, NULL, &status);

  return status == 200 && node != NULL && gvd_test_json_bool (node, "libvirt.connected");
}

static char *
api_url (GvdTestDaemon *d, const char *path)
{
  return g_strconcat (d->url, path, NULL);
}

/* The API daemon's configuration: imports from the fixtures and the temp dir. */
static char *
api_config (void)
{
  return g_strdup_printf ("[storage]\npool=" API_POOL "\npool_path=" API_POOL_PATH "\n"
                          "import_dirs=%s,%s\n[agent]\nlisten=127.0.0.1:0\n",
                          import_dirs[0], import_dirs[1]);
}

static void
api_images__import_list_show_delete (void **state)
{
  g_autofree char *config = api_config ();
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *images = api_url (d, "/v1/images");
  g_autofree char *one = api_url (d, "/v1/images/tiny.qcow2");
  g_autofree char *qcow2 = fixture ("tiny.qcow2");
  g_autofree char *body = g_strdup_printf ("{\"name\": \"tiny.qcow2\", \"source_path\": \"%s\"}",
                                           qcow2);
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *overlay = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;
  JsonArray *list;

  assert_true (gvd_test_wait_until (libvirt_connected, d, 10000));

  /* The pool is created on first use. */
  node = gvd_test_http (session, "GET", images, NULL, NULL, &status);
  assert_int_equal (status, 200);
  list = json_node_get_array (gvd_test_json_path (node, "images"));
  assert_int_equal (json_array_get_length (list), 0);
  assert_true (g_file_test (API_POOL_PATH, G_FILE_TEST_IS_DIR));
  g_clear_pointer (&node, json_node_unref);

  node = gvd_test_http (session, "POST", images, NULL, body, &status);
  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (node, "name"), "tiny.qcow2");
  assert_string_equal (gvd_test_json_string (node, "format"), "qcow2");
  assert_int_equal (gvd_test_json_int (node, "capacity_bytes"), TINY_VIRTUAL_SIZE);
  assert_string_equal (gvd_test_json_string (node, "path"), API_POOL_PATH "/tiny.qcow2");
  g_clear_pointer (&node, json_node_unref);

  node = gvd_test_http (session, "POST", images, NULL, body, &status);
  assert_int_equal (status, 409);
  assert_string_equal (gvd_test_json_string (node, "error.code"), "already_exists");
  g_clear_pointer (&node, json_node_unref);

  node = gvd_test_http (session, "GET", images, NULL, NULL, &status);
  assert_int_equal (status, 200);
  list = json_node_get_array (gvd_test_json_path (node, "images"));
  assert_int_equal (json_array_get_length (list), 1);
  g_clear_pointer (&node, json_node_unref);

  node = gvd_test_http (session, "GET", one, NULL, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "format"), "qcow2");
  g_clear_pointer (&node, json_node_unref);

  /* In use by an overlay: shown, and not deletable. */
  overlay = gvd_storage_create_overlay (storage, conn, API_POOL, PREFIX "api-root.qcow2", "tiny.qcow2", 0,
                                        &error);
  assert_non_null (overlay);
  node = gvd_test_http (session, "GET", one, NULL, NULL, &status);
  list = json_node_get_array (gvd_test_json_path (node, "in_use_by"));
  assert_int_equal (json_array_get_length (list), 1);
  assert_string_equal (json_array_get_string_element (list, 0), PREFIX "api-root.qcow2");
  g_clear_pointer (&node, json_node_unref);
  node = gvd_test_http (session, "DELETE", one, NULL, NULL, &status);
  assert_int_equal (status, 409);
  assert_string_equal (gvd_test_json_string (node, "error.code"), "conflict");
  assert_non_null (strstr (gvd_test_json_string (node, "error.message"), PREFIX "api-root.qcow2"));
  g_clear_pointer (&node, json_node_unref);
  assert_true (gvd_storage_delete_volume (conn, API_POOL, PREFIX "api-root.qcow2", &error));

  node = gvd_test_http (session, "DELETE", one, NULL, NULL, &status);
  assert_int_equal (status, 204);
  assert_null (node);
  node = gvd_test_http (session, "GET", one, NULL, NULL, &status);
  assert_int_equal (status, 404);
  assert_string_equal (gvd_test_json_string (node, "error.code"), "image_not_found");
  g_clear_pointer (&node, json_node_unref);
  node = gvd_test_http (session, "DELETE", one, NULL, NULL, &status);
  assert_int_equal (status, 404);
  g_clear_pointer (&node, json_node_unref);

  gvd_test_daemon_stop (d, TRUE);
}

static void
api_images__bad_requests__4xx_naming_the_problem (void **state)
{
  g_autofree char *config = api_config ();
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *images = api_url (d, "/v1/images");
  g_autofree char *deep = api_url (d, "/v1/images/a/b");
  struct {
    const char *body;
    guint status;
    const char *code;
    const char *needle;
  } cases[] = {
    { "{\"name\": \"a\", \"source_path\": \"/x\", \"colour\": 1}", 400, "invalid_argument",
      "colour" },
    { "{\"source_path\": \"/x\"}", 400, "invalid_argument", "name" },
    { "{\"name\": \"a\"}", 400, "invalid_argument", "source_path" },
    { "{\"name\": 7, \"source_path\": \"/x\"}", 400, "invalid_argument", "string" },
    { "{\"name\": \"../a\", \"source_path\": \"/x\"}", 400, "invalid_argument", "not valid" },
    { "{\"name\": \"gpuvm-a\", \"source_path\": \"/x\"}", 400, "invalid_argument", "reserved" },
    { "{\"name\": \"a\", \"source_path\": \"x\"}", 400, "invalid_argument", "absolute" },
    { "{\"name\": \"a\", \"source_path\": \"/x\", \"format\": \"vmdk\"}", 400, "invalid_argument",
      "vmdk" },
    { "{\"name\": \"a\", \"source_path\": \"/nonexistent/gvd\"}", 403, "forbidden",
      "import_dirs" },
    { "[1]", 400, "invalid_json", "object" },
  };
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  assert_true (gvd_test_wait_until (libvirt_connected, d, 10000));
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      node = gvd_test_http (session, "POST", images, NULL, cases[i].body, &status);
      if (status != cases[i].status || node == NULL
          || strstr (gvd_test_json_string (node, "error.message"), cases[i].needle) == NULL)
        print_error ("case %s: %u\n", cases[i].body, status);
      assert_int_equal (status, cases[i].status);
      assert_string_equal (gvd_test_json_string (node, "error.code"), cases[i].code);
      assert_non_null (strstr (gvd_test_json_string (node, "error.message"), cases[i].needle));
      g_clear_pointer (&node, json_node_unref);
    }
  node = gvd_test_http (session, "PUT", images, NULL, NULL, &status);
  assert_int_equal (status, 405);
  g_clear_pointer (&node, json_node_unref);
  node = gvd_test_http (session, "GET", deep, NULL, NULL, &status);
  assert_int_equal (status, 404);
  g_clear_pointer (&node, json_node_unref);
  gvd_test_daemon_stop (d, TRUE);
}

/* Host files through the API: refused with 403 naming the import
 * directories; a FIFO is refused without being opened. */
static void
api_images__host_files__forbidden_fifo_never_opened (void **state)
{
  g_autofree char *config = api_config ();
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 10);
  g_autofree char *images = api_url (d, "/v1/images");
  g_autofree char *link = g_build_filename (tmpdir, "api-shadow.img", NULL);
  g_autofree char *fifo = g_build_filename (tmpdir, "api-fifo.img", NULL);
  g_autofree char *good = raw_source ("api-good.img", 4096);
  const char *sources[] = { "/etc/shadow", link, fifo, "/dev/null" };
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  g_remove (link);
  g_remove (fifo);
  assert_int_equal (symlink ("/etc/shadow", link), 0);
  assert_int_equal (mkfifo (fifo, 0600), 0);
  assert_true (gvd_test_wait_until (libvirt_connected, d, 10000));
  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_autofree char *body = g_strdup_printf ("{\"name\": \"host-%zu.img\", \"source_path\": "
                                               "\"%s\", \"format\": \"raw\"}", i, sources[i]);
      gint64 t0 = g_get_monotonic_time ();

      node = gvd_test_http (session, "POST", images, NULL, body, &status);
      /* Answered at once: nothing blocked on the FIFO. */
      assert_true (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC);
      if (status != 403)
        print_error ("%s: %u\n", sources[i], status);
      assert_int_equal (status, 403);
      assert_string_equal (gvd_test_json_string (node, "error.code"), "forbidden");
      /* The message says where images may come from. */
      assert_non_null (strstr (gvd_test_json_string (node, "error.message"), import_dirs[0]));
      g_clear_pointer (&node, json_node_unref);
    }
  /* No reader ever opened the FIFO: a non-blocking writer still finds none. */
  {
    int w = open (fifo, O_WRONLY | O_NONBLOCK);
    int saved = errno;
    if (w >= 0)
      close (w);
    assert_int_equal (w, -1);
    assert_int_equal (saved, ENXIO);
  }
  /* A regular file in the import directory still imports. */
  {
    g_autofree char *body = g_strdup_printf ("{\"name\": \"api-good.img\", \"source_path\": "
                                             "\"%s\", \"format\": \"raw\"}", good);
    g_autofree char *one = api_url (d, "/v1/images/api-good.img");

    node = gvd_test_http (session, "POST", images, NULL, body, &status);
    assert_int_equal (status, 201);
    assert_int_equal (gvd_test_json_int (node, "capacity_bytes"), 4096);
    g_clear_pointer (&node, json_node_unref);
    node = gvd_test_http (session, "DELETE", one, NULL, NULL, &status);
    assert_int_equal (status, 204);
  }
  g_remove (link);
  g_remove (fifo);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup (ensure_pool__twice__active_autostarted_same_path, setup),
    cmocka_unit_test_setup (ensure_pool__same_name_other_path__conflict_names_both, setup),
    cmocka_unit_test_setup (import_image__raw_and_qcow2__listed_with_format_and_capacity, setup),
    cmocka_unit_test_setup (import_image__sparse_raw__identical_and_still_sparse, setup),
    cmocka_unit_test_setup (import_image__explicit_format__checked_against_content, setup),
    cmocka_unit_test_setup (import_image__backing_file__refused_and_removed, setup),
    cmocka_unit_test_setup (import_image__bad_input__clear_errors_nothing_created, setup),
    cmocka_unit_test_setup (create_overlay__qcow2_base__backing_store_and_capacity, setup),
    cmocka_unit_test_setup (create_overlay__raw_base__raw_backing_format, setup),
    cmocka_unit_test_setup (create_overlay__refusals__codes, setup),
    cmocka_unit_test_setup (upload_volume__bytes__read_back_identical, setup),
    cmocka_unit_test_setup (delete_volume__twice__success_both_times, setup),
    cmocka_unit_test_setup (delete_image__in_use__conflict_names_overlay, setup),
    cmocka_unit_test_setup (import_image__same_name_concurrently__exactly_one_wins, setup),
    cmocka_unit_test_setup (lost_connection__storage_and_instances__same_code, setup),
    cmocka_unit_test (api_images__import_list_show_delete),
    cmocka_unit_test (api_images__bad_requests__4xx_naming_the_problem),
    cmocka_unit_test (api_images__host_files__forbidden_fifo_never_opened),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
