/* The Sleuth Kit's directory listing at C speed, for tsk_walk.py.
 *
 * One call lists one directory: a tuple per name, with what tsk_walk needs of its name and
 * metadata (and, on NTFS, of its attributes), read the way pytsk3 reads them (the same TSK
 * calls: tsk_fs_dir_open_meta, tsk_fs_dir_get, tsk_fs_file_open_meta, the attribute list).
 * The traversal itself (which names to follow, paths, records) stays in Python, shared with
 * the pytsk3 path, so both give the same entries. The image's bytes come from the Python
 * object pytsk3 reads too (its read(offset, size)), so every read goes through the evidence
 * layer's own code (EWF, layers, damage tracking). Built against the system's libtsk
 * (libtsk-dev); optional: without it tsk_walk lists through pytsk3 alone. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <tsk/libtsk.h>

/* libtsk's own allocator of image structures (exported, declared only in its private
 * headers): tsk_img_open_external takes a structure made by it, tsk_img_close's callback
 * frees it with tsk_img_free. */
extern void *tsk_img_malloc(size_t);
extern void tsk_img_free(void *);

typedef struct {
    TSK_IMG_INFO img;     /* first: TSK casts to and from it */
    PyObject *source;     /* has read(offset, size) -> bytes */
    /* An exception that is not an error of the read (KeyboardInterrupt, the scan's time
     * budget, SystemExit), raised in a read: kept to be raised again once TSK returns. */
    PyObject *pending_type, *pending_value, *pending_tb;
} PyImage;

static ssize_t image_read(TSK_IMG_INFO *img, TSK_OFF_T off, char *buf, size_t len)
{
    PyImage *self = (PyImage *)img;
    if (self->pending_type != NULL)
        return -1;   /* stopping: no more reads */
    PyObject *data = PyObject_CallMethod(self->source, "read", "LK", (long long)off,
                                         (unsigned long long)len);
    if (data == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            PyErr_Fetch(&self->pending_type, &self->pending_value, &self->pending_tb);
        else
            PyErr_Clear();   /* as pytsk3: the reader of the failure asks the media why */
        tsk_error_reset();
        tsk_error_set_errno(TSK_ERR_IMG_READ);
        tsk_error_set_errstr("read of %zu bytes at offset %lld failed", len, (long long)off);
        return -1;
    }
    char *bytes;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(data, &bytes, &n) < 0) {
        Py_DECREF(data);
        PyErr_Clear();
        tsk_error_reset();
        tsk_error_set_errno(TSK_ERR_IMG_READ);
        tsk_error_set_errstr("the image's read did not return bytes");
        return -1;
    }
    if ((size_t)n > len)
        n = (Py_ssize_t)len;
    memcpy(buf, bytes, (size_t)n);
    Py_DECREF(data);
    return (ssize_t)n;
}

/* Raise the exception a read kept (1), if any (0). */
static int raise_pending(TSK_IMG_INFO *img)
{
    PyImage *self = (PyImage *)img;
    if (self == NULL || self->pending_type == NULL)
        return 0;
    PyErr_Clear();
    PyErr_Restore(self->pending_type, self->pending_value, self->pending_tb);
    self->pending_type = self->pending_value = self->pending_tb = NULL;
    return 1;
}

static void image_close(TSK_IMG_INFO *img)
{
    PyImage *self = (PyImage *)img;
    Py_CLEAR(self->pending_type);
    Py_CLEAR(self->pending_value);
    Py_CLEAR(self->pending_tb);
    Py_CLEAR(self->source);
    tsk_img_free(img);
}

static void image_stat(TSK_IMG_INFO *img, FILE *out)
{
    (void)img;
    (void)out;
}

typedef struct {
    PyObject_HEAD
    TSK_IMG_INFO *img;
    TSK_FS_INFO *fs;
    int busy;   /* in open or list: Python code they call back (the image's read, a signal
                 * handler) must not close or reopen what libtsk is using */
} Walker;

static int walker_in_use(Walker *self)
{
    if (!self->busy)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "the walker is in use (called from within its own call)");
    return 1;
}

static PyObject *tsk_failure(const char *what)
{
    const char *why = tsk_error_get();
    PyErr_Format(PyExc_OSError, "%s: %s", what, why ? why : "unknown TSK error");
    tsk_error_reset();
    return NULL;
}

static void Walker_close_all(Walker *self)
{
    if (self->fs != NULL) {
        tsk_fs_close(self->fs);
        self->fs = NULL;
    }
    if (self->img != NULL) {
        tsk_img_close(self->img);
        self->img = NULL;
    }
}

static int open_walker(Walker *self, PyObject *args, PyObject *kwds);

static int Walker_init(Walker *self, PyObject *args, PyObject *kwds)
{
    if (walker_in_use(self))
        return -1;
    Walker_close_all(self);   /* a second __init__ replaces the open file system, never leaks it */
    self->busy = 1;
    int rc = open_walker(self, args, kwds);
    self->busy = 0;
    return rc;
}

static int open_walker(Walker *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"image", "size", "offset", "ftype", NULL};
    PyObject *source;
    long long size, offset;
    unsigned int ftype;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OLLI", kwlist, &source, &size, &offset, &ftype))
        return -1;
    PyImage *image = (PyImage *)tsk_img_malloc(sizeof(PyImage));
    if (image == NULL) {
        tsk_failure("cannot open the image");
        return -1;
    }
    Py_INCREF(source);
    image->source = source;
    image->pending_type = image->pending_value = image->pending_tb = NULL;
    if (tsk_img_open_external(image, size, 512, image_read, image_close, image_stat) == NULL) {
        Py_DECREF(source);
        tsk_img_free(image);
        tsk_failure("cannot open the image");
        return -1;
    }
    self->img = (TSK_IMG_INFO *)image;
    self->fs = tsk_fs_open_img(self->img, offset, (TSK_FS_TYPE_ENUM)ftype);
    int interrupted = raise_pending(self->img);
    if (self->fs == NULL || interrupted) {
        if (!interrupted)
            tsk_failure("cannot open the file system");
        else
            tsk_error_reset();
        Walker_close_all(self);
        return -1;
    }
    return 0;
}

static void Walker_dealloc(Walker *self)
{
    Walker_close_all(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Tuples of ints only (and strings, None) are left out of the cyclic GC, as CPython's own
 * collector would leave them at its first pass: a walk makes five for every file. */
static PyObject *untracked(PyObject *tuple)
{
    if (tuple != NULL && PyObject_GC_IsTracked(tuple))
        PyObject_GC_UnTrack(tuple);
    return tuple;
}

static PyObject *pair(long long a, long long b)
{
    return untracked(Py_BuildValue("(LL)", a, b));
}

/* (mtime, atime, ctime, crtime), each (seconds, nanoseconds); NULL (an exception set) when one
 * cannot be made */
static PyObject *times_tuple(const TSK_FS_META *m)
{
    const long long v[8] = {m->mtime, m->mtime_nano, m->atime, m->atime_nano,
                            m->ctime, m->ctime_nano, m->crtime, m->crtime_nano};
    PyObject *times = PyTuple_New(4);
    for (int i = 0; times != NULL && i < 4; i++) {
        PyObject *p = pair(v[2 * i], v[2 * i + 1]);
        if (p == NULL) {
            Py_CLEAR(times);
            break;
        }
        PyTuple_SET_ITEM(times, i, p);
    }
    return untracked(times);
}

/* An inode's count of names: nlink; on NTFS (`ntfs`) its names less its DOS (8.3) name, which
 * the MFT record's link count counts too: TSK leaves DOS names out of meta->name2. */
static unsigned int names_of(TSK_FS_META *m, int ntfs)
{
    if (!ntfs)
        return (unsigned int)m->nlink;
    unsigned int count = 0;
    for (TSK_FS_META_NAME_LIST *n = m->name2; n != NULL && count < 0xFFFF; n = n->next)
        count++;
    return count ? count : 1;
}

/* (mflags, mtype, size, times, attributes, links): attributes only when asked (NTFS), a list
 * of (name or None, type, id, size), empty when they cannot be listed; else None. links: the
 * inode's count of names (names_of). */
static PyObject *meta_tuple(TSK_FS_FILE *file, int attributes)
{
    TSK_FS_META *m = file->meta;
    PyObject *times = times_tuple(m);
    if (times == NULL)
        return NULL;
    PyObject *attrs;
    if (!attributes) {
        attrs = Py_None;
        Py_INCREF(attrs);
    } else {
        int count = tsk_fs_file_attr_getsize(file);
        attrs = PyList_New(0);
        for (int i = 0; attrs != NULL && i < count; i++) {
            const TSK_FS_ATTR *a = tsk_fs_file_attr_get_idx(file, i);
            if (a == NULL) {   /* pytsk3's listing stops with an error: none are kept */
                tsk_error_reset();
                Py_DECREF(attrs);
                attrs = PyList_New(0);
                break;
            }
            PyObject *item = Py_BuildValue("(yiiL)", a->name, (int)a->type, (int)a->id,
                                           (long long)a->size);
            if (item == NULL || PyList_Append(attrs, item) < 0) {
                Py_XDECREF(item);
                Py_CLEAR(attrs);
                break;
            }
            Py_DECREF(item);
        }
        if (count < 0)
            tsk_error_reset();
    }
    if (attrs == NULL) {
        Py_DECREF(times);
        return NULL;
    }
    return Py_BuildValue("(IILNNI)", (unsigned int)m->flags, (unsigned int)m->type,
                         (long long)m->size, times, attrs, names_of(m, attributes));
}

/* A directory's own bytes, as pytsk3's read_random(0, size) on the directory opened by its
 * address gives them; None when they cannot be read (no whole names then, as ext_names). */
static PyObject *file_bytes(TSK_FS_FILE *dir, long long limit)
{
    if (dir == NULL || dir->meta == NULL)
        Py_RETURN_NONE;
    long long size = (long long)dir->meta->size;
    if (size > limit)
        size = limit;
    if (size <= 0)
        return PyBytes_FromStringAndSize("", 0);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (out == NULL)
        return NULL;
    ssize_t got = tsk_fs_file_read(dir, 0, PyBytes_AS_STRING(out), (size_t)size,
                                   TSK_FS_FILE_READ_FLAG_NONE);
    if (got < 0) {
        tsk_error_reset();
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    if (got < size && _PyBytes_Resize(&out, (Py_ssize_t)got) < 0)
        return NULL;
    return out;
}

/* The plain case made into its record here: with a `maker` (see Walker_list), a regular file
 * with metadata whose name is valid UTF-8, not "." or "..", in a directory without whole
 * names, becomes the FileEntry tsk_walk would make of it (its TskOpener and Locator too);
 * every other row is left to tsk_walk's Python. */
typedef struct {
    PyObject *entry_cls, *entry_base, *opener_cls, *opener_base, *locator_cls;
    PyObject *opened_as, *volume_index, *prefix;
    int deleted, runs;   /* runs: asked to give a live file's runs (a scan's walk) */
    /* The opener's geometry (the volume's byte offset on the media, the block size), when
     * runs are asked and its volume lies linearly on the media: a live file's runs are then
     * given (layout). */
    int linear;
    long long volume_offset, block;
} Maker;

/* An instance of `cls` whose __dict__ is a copy of `base` with `count` more (key, value)
 * pairs set: what tsk_walk's quick_maker makes (FileEntry), or TskOpener's __init__. */
static PyObject *instance(PyObject *cls, PyObject *base, int count, PyObject *const *pairs)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL)
        return NULL;
    PyObject *state = PyDict_Copy(base);
    int bad = state == NULL;
    for (int i = 0; !bad && i < count; i++)
        bad = PyDict_SetItem(state, pairs[2 * i], pairs[2 * i + 1]) < 0;
    if (bad || PyObject_GenericSetDict(obj, state, NULL) < 0) {
        Py_XDECREF(state);
        Py_DECREF(obj);
        return NULL;
    }
    Py_DECREF(state);
    return obj;
}

static PyObject *K_locator, *K_size, *K_short_ok, *K_path, *K_allocated, *K_inode, *K_times,
    *K_realloc, *K_open, *K_runs, *K_device;

static int intern_keys(void)
{
    return (K_locator = PyUnicode_InternFromString("locator")) && (K_size = PyUnicode_InternFromString("size")) &&
           (K_short_ok = PyUnicode_InternFromString("short_ok")) && (K_path = PyUnicode_InternFromString("path")) &&
           (K_allocated = PyUnicode_InternFromString("allocated")) &&
           (K_inode = PyUnicode_InternFromString("inode")) && (K_times = PyUnicode_InternFromString("times")) &&
           (K_realloc = PyUnicode_InternFromString("realloc")) && (K_open = PyUnicode_InternFromString("open")) &&
           (K_runs = PyUnicode_InternFromString("runs")) &&
           (K_device = PyUnicode_InternFromString("device"));
}

/* 1: made into *out; 0: not the plain case (or skipped: *out stays NULL and *skip is set);
 * -1: a Python error. */
/* NTFS: the size of the one entry a file's attributes give (tsk_walk._ntfs_attributes): its
 * unnamed $DATA's, or the file's own when none is listed; 0 when they give other entries (an
 * alternate data stream, a named index), left to tsk_walk. */
static int ntfs_plain_size(TSK_FS_FILE *file, long long *size)
{
    int count = tsk_fs_file_attr_getsize(file);
    int listed = 0;
    long long data_size = 0;
    if (count < 0)
        tsk_error_reset();
    for (int i = 0; i < count; i++) {
        const TSK_FS_ATTR *a = tsk_fs_file_attr_get_idx(file, i);
        if (a == NULL) {   /* none are listed (as meta_tuple): the file's own size */
            tsk_error_reset();
            listed = 0;
            break;
        }
        int named = a->name != NULL && a->name[0] != 0;
        if (a->type == TSK_FS_ATTR_TYPE_NTFS_DATA) {
            if (named && strcmp(a->name, "$Data") != 0)
                return 0;
            listed++;
            data_size = (long long)a->size;
        } else if (a->type == TSK_FS_ATTR_TYPE_NTFS_IDXROOT && named && strcmp(a->name, "$I30") != 0) {
            return 0;
        } else if (a->type == TSK_FS_ATTR_TYPE_NTFS_LOG && named && strcmp(a->name, "$EFS") == 0) {
            return 0;   /* EFS-encrypted: tsk_walk marks its streams */
        }
    }
    if (listed > 1)
        return 0;
    if (listed == 1)
        *size = data_size;
    return 1;
}

/* tsk_walk._layout, here: ((media offset, length), ...) of the runs of a file's default data,
 * in the file's order and cut at its size, when they are all its content (non-resident, no
 * compressed, encrypted or sparse data, every run plain and back to back, covering the size)
 * and, what pytsk3 does not show, its initialized size is its size (NTFS reads zeros past it).
 * None when not so; NULL on a Python error. */
static PyObject *layout(TSK_FS_FILE *file, long long size, Maker *mk)
{
    if (!mk->linear || size <= 0 || mk->block <= 0)
        Py_RETURN_NONE;
    const TSK_FS_ATTR *a = tsk_fs_file_attr_get(file);
    if (a == NULL) {
        tsk_error_reset();
        Py_RETURN_NONE;
    }
    if (!(a->flags & TSK_FS_ATTR_NONRES) ||
        (a->flags & (TSK_FS_ATTR_COMP | TSK_FS_ATTR_ENC | TSK_FS_ATTR_SPARSE)) ||
        (long long)a->size != size || (long long)a->nrd.initsize < size || a->nrd.skiplen != 0)
        Py_RETURN_NONE;
    long long covered = 0;
    int count = 0;
    for (const TSK_FS_ATTR_RUN *r = a->nrd.run; r != NULL && covered < size; r = r->next) {
        if (r->flags != TSK_FS_ATTR_RUN_FLAG_NONE || (long long)r->offset * mk->block != covered)
            Py_RETURN_NONE;
        covered += (long long)r->len * mk->block;
        count++;
    }
    if (covered < size || count == 0)
        Py_RETURN_NONE;
    PyObject *runs = PyTuple_New(count);
    if (runs == NULL)
        return NULL;
    covered = 0;
    int i = 0;
    for (const TSK_FS_ATTR_RUN *r = a->nrd.run; i < count; r = r->next, i++) {
        long long length = (long long)r->len * mk->block;
        if (length > size - covered)
            length = size - covered;
        PyObject *run = pair(mk->volume_offset + (long long)r->addr * mk->block, length);
        if (run == NULL) {
            Py_DECREF(runs);
            return NULL;
        }
        PyTuple_SET_ITEM(runs, i, run);
        covered += (long long)r->len * mk->block;
    }
    return untracked(runs);
}

static int make_entry(Maker *mk, TSK_FS_FILE *file, TSK_FS_NAME *name, int ntfs, PyObject **out,
                      int *skip)
{
    TSK_FS_META *m = file->meta;
    *out = NULL;
    *skip = 0;
    if (m->type != TSK_FS_META_TYPE_REG || name->type == TSK_FS_NAME_TYPE_DIR ||
        name->type == TSK_FS_NAME_TYPE_VIRT_DIR)
        return 0;
    const char *raw = name->name;
    if (strcmp(raw, ".") == 0 || strcmp(raw, "..") == 0)
        return 0;
    long long content_size = (long long)m->size;
    /* $MFT (address 0) is left to tsk_walk, which takes its times from pytsk3 */
    if (ntfs && (name->meta_addr == 0 || !ntfs_plain_size(file, &content_size)))
        return 0;
    int unallocated = (name->flags & TSK_FS_NAME_FLAG_UNALLOC) != 0;
    if (unallocated && !mk->deleted) {
        *skip = 1;
        return 0;
    }
    PyObject *text = PyUnicode_DecodeUTF8(raw, (Py_ssize_t)strlen(raw), NULL);
    if (text == NULL) {   /* not UTF-8: tsk_walk shows its bytes escaped */
        PyErr_Clear();
        return 0;
    }
    PyObject *path = PyUnicode_Concat(mk->prefix, text);   /* the prefix ends in "/" */
    Py_DECREF(text);
    if (path == NULL)
        return -1;
    int realloc_ = unallocated && (m->flags & TSK_FS_META_FLAG_ALLOC);
    int allocated = !unallocated;
    /* A deleted file is recovered as far as TSK can follow it; a live inode must read whole. */
    int short_ok = !(allocated || realloc_);
    PyObject *inode = PyLong_FromUnsignedLongLong((unsigned long long)name->meta_addr);
    PyObject *size = PyLong_FromLongLong(content_size);
    PyObject *times = times_tuple(m);
    PyObject *locator = NULL, *opener = NULL, *entry = NULL, *runs = NULL;
    if (inode == NULL || size == NULL || times == NULL)
        goto fail;
    /* Locator(opened_as, volume index, inode, None): a NamedTuple, made as its tuple */
    locator = ((PyTypeObject *)mk->locator_cls)->tp_alloc((PyTypeObject *)mk->locator_cls, 4);
    if (locator == NULL)
        goto fail;
    Py_INCREF(mk->opened_as);
    PyTuple_SET_ITEM(locator, 0, mk->opened_as);
    Py_INCREF(mk->volume_index);
    PyTuple_SET_ITEM(locator, 1, mk->volume_index);
    Py_INCREF(inode);
    PyTuple_SET_ITEM(locator, 2, inode);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(locator, 3, Py_None);
    untracked(locator);
    runs = short_ok ? (Py_INCREF(Py_None), Py_None) : layout(file, content_size, mk);
    if (runs == NULL)
        goto fail;
    PyObject *opener_fields[] = {K_locator, locator, K_size, size,
                                 K_short_ok, short_ok ? Py_True : Py_False, K_runs, runs};
    opener = instance(mk->opener_cls, mk->opener_base, 4, opener_fields);
    if (opener == NULL)
        goto fail;
    PyObject *entry_fields[] = {K_path, path, K_size, size,
                                K_allocated, allocated ? Py_True : Py_False, K_inode, inode,
                                K_times, times, K_realloc, realloc_ ? Py_True : Py_False,
                                K_open, opener, K_device, mk->volume_index};
    /* an inode with other names (hard links): FileEntry.device, its volume (tsk_walk._Maker) */
    entry = instance(mk->entry_cls, mk->entry_base, names_of(m, ntfs) > 1 ? 8 : 7,
                     entry_fields);
    if (entry == NULL)
        goto fail;
    Py_DECREF(path);
    Py_DECREF(inode);
    Py_DECREF(size);
    Py_DECREF(times);
    Py_DECREF(locator);
    Py_DECREF(runs);
    Py_DECREF(opener);
    *out = entry;
    return 1;
fail:
    Py_XDECREF(path);
    Py_XDECREF(inode);
    Py_XDECREF(size);
    Py_XDECREF(times);
    Py_XDECREF(locator);
    Py_XDECREF(runs);
    Py_XDECREF(opener);
    Py_XDECREF(entry);
    return -1;
}

/* ext_names.names_in, here: {(inode, name up to its NUL): whole name} of the directory
 * entries whose name holds a NUL, each record and the older ones left in its slack. */
#define U32(d, at) ((unsigned int)(d)[at] | (unsigned int)(d)[(at) + 1] << 8 | \
                    (unsigned int)(d)[(at) + 2] << 16 | (unsigned int)(d)[(at) + 3] << 24)
#define U16(d, at) ((unsigned int)(d)[(at) + 4] | (unsigned int)(d)[(at) + 5] << 8)

static int found_name(PyObject *found, const unsigned char *d, size_t at, size_t end)
{
    const unsigned char *cut = memchr(d + at + 8, 0, end - (at + 8));
    if (cut == NULL || cut == d + at + 8)
        return 0;
    unsigned int inode = U32(d, at);
    PyObject *key = Py_BuildValue("(Iy#)", inode, (const char *)d + at + 8,
                                  (Py_ssize_t)(cut - (d + at + 8)));
    PyObject *whole = PyBytes_FromStringAndSize((const char *)d + at + 8, (Py_ssize_t)(end - at - 8));
    int rc = (key == NULL || whole == NULL) ? -1 : (PyDict_SetDefault(found, key, whole) ? 0 : -1);
    Py_XDECREF(key);
    Py_XDECREF(whole);
    return rc;
}

static int slack_names(PyObject *found, const unsigned char *d, size_t at, size_t stop)
{
    size_t i;
    for (i = at; i < stop && d[i] == 0; i++)
        ;
    if (i == stop)
        return 0;   /* the usual case: nothing left behind */
    while (at + 8 <= stop) {
        unsigned int inode = U32(d, at), rec_len = U16(d, at), name_len = d[at + 6];
        size_t end = at + 8 + name_len;
        if (inode && name_len && rec_len >= 8 + name_len && end <= stop) {
            if (found_name(found, d, at, end) < 0)
                return -1;
            at += (8 + name_len + 3) & ~3u;
        } else {
            at += 4;
        }
    }
    return 0;
}

static int block_names(PyObject *found, const unsigned char *d, size_t at, size_t stop)
{
    while (at + 8 <= stop) {
        unsigned int inode = U32(d, at), rec_len = U16(d, at), name_len = d[at + 6];
        if (rec_len < 8 || rec_len & 3 || at + rec_len > stop)
            return 0;   /* not a chain TSK would follow either */
        size_t end = at + 8 + name_len;
        if (inode && name_len && end <= stop && found_name(found, d, at, end) < 0)
            return -1;
        unsigned int used = (8 + name_len + 3) & ~3u;
        if (rec_len >= used + 12 && slack_names(found, d, at + used, at + rec_len) < 0)
            return -1;
        at += rec_len;
    }
    return 0;
}

static PyObject *whole_names(TSK_FS_FILE *dir, long long limit, long long block)
{
    PyObject *data = file_bytes(dir, limit);
    if (data == NULL)
        return NULL;
    PyObject *found = PyDict_New();
    if (found != NULL && data != Py_None && block > 0) {
        const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
        size_t n = (size_t)PyBytes_GET_SIZE(data);
        for (size_t start = 0; start < n; start += (size_t)block) {
            size_t stop = start + (size_t)block < n ? start + (size_t)block : n;
            if (block_names(found, d, start, stop) < 0) {
                Py_CLEAR(found);
                break;
            }
        }
    }
    Py_DECREF(data);
    return found;
}

/* list(addr, attributes[, maker, prefix, limit, block]) -> (rows, error or None, whole names
 * or None): with a block size, first the directory's whole names (ext_names.names_in of its
 * first `limit` bytes; rows of a directory that has some are all left to Python). A row per name of the
 * directory, in TSK's order: (name, meta address, name flags, name type, meta tuple or None),
 * or with a maker, the plain case's FileEntry itself (make_entry; a deleted one left out when
 * the maker says so). maker: (FileEntry, its base __dict__, TskOpener, its base __dict__,
 * Locator, the evidence path as opened, the volume's index, whether deleted files are listed). The metadata of a
 * name that came without it is loaded by address (as tsk_walk's _with_meta does). `error`: why
 * the listing stopped early (the rows before it stand). OSError when the directory cannot be
 * opened at all. */
static PyObject *list_names(Walker *self, PyObject *args);

static PyObject *Walker_list(Walker *self, PyObject *args)
{
    if (walker_in_use(self))
        return NULL;
    if (self->fs == NULL) {   /* before anything is owned */
        PyErr_SetString(PyExc_ValueError, "the walker is closed");
        return NULL;
    }
    self->busy = 1;
    PyObject *out = list_names(self, args);
    self->busy = 0;
    return out;
}

static PyObject *list_names(Walker *self, PyObject *args)
{
    unsigned long long addr;
    int attributes, dirs_only = 0;
    PyObject *spec = Py_None, *prefix = Py_None;
    long long whole_limit = 0, whole_block = 0;
    if (!PyArg_ParseTuple(args, "Kp|OOLLp", &addr, &attributes, &spec, &prefix, &whole_limit,
                          &whole_block, &dirs_only))
        return NULL;
    if (dirs_only && spec != Py_None) {
        PyErr_SetString(PyExc_ValueError, "list: rows of directories alone are made of no maker");
        return NULL;
    }
    Maker mk, *maker = NULL;
    if (spec != Py_None) {
        if (!PyArg_ParseTuple(spec, "OO!OO!OOOpp", &mk.entry_cls, &PyDict_Type, &mk.entry_base,
                              &mk.opener_cls, &PyDict_Type, &mk.opener_base, &mk.locator_cls,
                              &mk.opened_as, &mk.volume_index, &mk.deleted, &mk.runs))
            return NULL;
        if (!PyType_Check(mk.entry_cls) || !PyType_Check(mk.opener_cls) ||
            !PyType_Check(mk.locator_cls) ||
            !PyType_IsSubtype((PyTypeObject *)mk.locator_cls, &PyTuple_Type) ||
            !PyUnicode_Check(prefix)) {
            PyErr_SetString(PyExc_TypeError, "list: a bad maker");
            return NULL;
        }
        PyObject *geometry = PyDict_GetItemString(mk.opener_base, "geometry");
        mk.linear = mk.runs && geometry != NULL && geometry != Py_None;
        if (mk.linear && !PyArg_ParseTuple(geometry, "LL", &mk.volume_offset, &mk.block))
            return NULL;
        mk.prefix = PyUnicode_FromFormat("%U/", prefix);
        if (mk.prefix == NULL)
            return NULL;
        maker = &mk;
    }
    TSK_FS_DIR *dir = tsk_fs_dir_open_meta(self->fs, (TSK_INUM_T)addr);
    if (dir == NULL) {
        if (spec != Py_None)
            Py_DECREF(mk.prefix);
        if (raise_pending(self->img)) {
            tsk_error_reset();
            return NULL;
        }
        return tsk_failure("cannot open the directory");
    }
    PyObject *whole = Py_None;
    Py_INCREF(whole);
    if (whole_block > 0) {
        Py_DECREF(whole);
        whole = whole_names(dir->fs_file, whole_limit, whole_block);
        if (whole == NULL) {
            tsk_fs_dir_close(dir);
            if (spec != Py_None)
                Py_DECREF(mk.prefix);
            return NULL;
        }
        if (PyDict_GET_SIZE(whole) > 0)
            maker = NULL;   /* a name to show whole: every row of this directory to Python */
    }
    size_t count = tsk_fs_dir_getsize(dir);
    PyObject *rows = PyList_New(0);
    PyObject *error = NULL;
    Py_ssize_t names = 0;   /* every name listed, rows made of it or not */
    for (size_t i = 0; rows != NULL && i < count; i++) {
        /* a signal's handler (Ctrl-C, the time budget's alarm) runs here, not at the end */
        if (((PyImage *)self->img)->pending_type != NULL || PyErr_CheckSignals() < 0) {
            Py_CLEAR(rows);
            break;
        }
        TSK_FS_FILE *file = tsk_fs_dir_get(dir, i);
        if (file == NULL) {
            const char *why = tsk_error_get();
            error = PyUnicode_FromString(why ? why : "unknown TSK error");
            tsk_error_reset();
            break;
        }
        TSK_FS_NAME *name = file->name;
        if (name == NULL || name->name == NULL) {
            tsk_fs_file_close(file);
            continue;
        }
        names++;
        TSK_FS_FILE *owner = file;
        if (file->meta == NULL && name->meta_addr) {
            TSK_FS_FILE *opened = tsk_fs_file_open_meta(self->fs, NULL, name->meta_addr);
            if (opened != NULL)
                owner = opened;
            else
                tsk_error_reset();
        }
        /* a traversal's listing: the rows of what may be a directory alone (tsk_walk._is_dir:
         * by its name's type or its inode's), the rest only counted */
        if (dirs_only && name->type != TSK_FS_NAME_TYPE_DIR &&
            name->type != TSK_FS_NAME_TYPE_VIRT_DIR &&
            (owner->meta == NULL || (owner->meta->type != TSK_FS_META_TYPE_DIR &&
                                     owner->meta->type != TSK_FS_META_TYPE_VIRT_DIR))) {
            if (owner != file)
                tsk_fs_file_close(owner);
            tsk_fs_file_close(file);
            continue;
        }
        if (maker != NULL && owner->meta != NULL) {
            PyObject *made;
            int skip;
            int rc = make_entry(maker, owner, name, attributes, &made, &skip);
            if (rc != 0 || skip) {
                if (owner != file)
                    tsk_fs_file_close(owner);
                tsk_fs_file_close(file);
                if (rc < 0 || (rc > 0 && PyList_Append(rows, made) < 0)) {
                    Py_XDECREF(made);
                    Py_CLEAR(rows);
                    break;
                }
                Py_XDECREF(made);
                continue;
            }
        }
        PyObject *meta;
        if (owner->meta != NULL) {
            meta = meta_tuple(owner, attributes);
        } else {
            meta = Py_None;
            Py_INCREF(meta);
        }
        PyObject *row = NULL;
        if (meta != NULL)
            row = Py_BuildValue("(yKIIN)", name->name, (unsigned long long)name->meta_addr,
                                (unsigned int)name->flags, (unsigned int)name->type, meta);
        if (owner != file)
            tsk_fs_file_close(owner);
        tsk_fs_file_close(file);
        if (row == NULL || PyList_Append(rows, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(rows);
            break;
        }
        Py_DECREF(row);
    }
    tsk_fs_dir_close(dir);
    if (spec != Py_None)
        Py_DECREF(mk.prefix);
    if (raise_pending(self->img)) {
        tsk_error_reset();
        Py_CLEAR(rows);
    }
    if (rows == NULL) {
        Py_XDECREF(error);
        Py_DECREF(whole);
        return NULL;
    }
    if (error == NULL) {
        error = Py_None;
        Py_INCREF(error);
    }
    return Py_BuildValue("(NNNn)", rows, error, whole, names);
}

static PyObject *Walker_close(Walker *self, PyObject *unused)
{
    (void)unused;
    if (walker_in_use(self))
        return NULL;
    Walker_close_all(self);
    Py_RETURN_NONE;
}

static PyMethodDef Walker_methods[] = {
    {"list", (PyCFunction)Walker_list, METH_VARARGS,
     "list(addr, attributes[, spec, prefix, whole_limit, whole_block, dirs_only]) -> (rows, "
     "error or None, whole names, names listed): the names of one directory (with dirs_only, "
     "rows of what may be a directory alone)."},
    {"close", (PyCFunction)Walker_close, METH_NOARGS, "Close the file system and the image."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "triage.evidence._tskwalk.Walker",
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Walker(image, size, offset, ftype): one file system, opened by libtsk.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Walker_init,
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_methods = Walker_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tskwalk",
    "The Sleuth Kit's directory listing at C speed (tsk_walk.py's optional helper).", -1, NULL,
};

PyMODINIT_FUNC PyInit__tskwalk(void)
{
    if (PyType_Ready(&WalkerType) < 0 || !intern_keys())
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&WalkerType);
    if (PyModule_AddObject(m, "Walker", (PyObject *)&WalkerType) < 0) {
        Py_DECREF(&WalkerType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddStringConstant(m, "TSK_VERSION", TSK_VERSION_STR);
    return m;
}
