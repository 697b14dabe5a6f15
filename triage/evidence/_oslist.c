/* A folder's listing at C speed, for folder.py's walk.
 *
 * One call lists one directory: its names read, each stat'ed (fstatat, not following a link)
 * and sorted by name with the GIL released, then each regular file made into the FileEntry
 * folder._entry would make of it. What a folder's walk decides (which subfolders to enter,
 * mounts of the kernel's state, iOS backups, errors as records) stays in folder.py, shared
 * with its scandir path, so both give the same entries. A directory with a name that is not
 * UTF-8 is left to that path whole (None): Python sorts such names by their surrogate escapes,
 * not by their bytes. Linux only (folder.py uses it there): the entries' times are what
 * os.stat gives there, without a birth time. Optional: without it the walk lists through
 * os.scandir alone, slower. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *name;
    size_t length;
    struct stat st;
    int error;   /* errno of a failed fstatat, else 0 */
} Child;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const Child *)a)->name, ((const Child *)b)->name);
}

static void free_children(Child *children, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(children[i].name);
    free(children);
}

/* Every name of the directory open as `fd` (which this closes) but "." and "..", stat'ed and
 * sorted; -1 with errno set when it cannot be read; -2 when it holds more than `limit` names
 * (left to scandir, which makes its entries one at a time). No Python here: run without the
 * GIL. */
static int read_children(int fd, size_t limit, Child **out, size_t *count)
{
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    rewinddir(dir);
    size_t used = 0, room = 64;
    Child *children = malloc(room * sizeof(Child));
    if (children == NULL) {
        closedir(dir);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (d == NULL) {
            if (errno != 0) {
                int saved = errno;
                free_children(children, used);
                closedir(dir);
                errno = saved;
                return -1;
            }
            break;
        }
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        if (used == limit) {
            free_children(children, used);
            closedir(dir);
            return -2;
        }
        if (used == room) {
            Child *more = realloc(children, 2 * room * sizeof(Child));
            if (more == NULL) {
                free_children(children, used);
                closedir(dir);
                errno = ENOMEM;
                return -1;
            }
            children = more;
            room *= 2;
        }
        Child *c = &children[used];
        c->length = strlen(d->d_name);
        c->name = strdup(d->d_name);
        if (c->name == NULL) {
            free_children(children, used);
            closedir(dir);
            errno = ENOMEM;
            return -1;
        }
        c->error = fstatat(dirfd(dir), c->name, &c->st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
        used++;
    }
    closedir(dir);
    qsort(children, used, sizeof(Child), by_name);
    *out = children;
    *count = used;
    return 0;
}

/* Tuples of ints only are left out of the cyclic GC, as CPython's own collector would leave
 * them at its first pass: a listing makes five for every file. */
static PyObject *untracked(PyObject *tuple)
{
    if (tuple != NULL && PyObject_GC_IsTracked(tuple))
        PyObject_GC_UnTrack(tuple);
    return tuple;
}

/* (seconds, nanoseconds): what divmod(st_*time_ns, 10**9) gives (tv_nsec is never negative) */
static PyObject *stamp(const struct timespec *t)
{
    return untracked(Py_BuildValue("(LL)", (long long)t->tv_sec, (long long)t->tv_nsec));
}

static PyObject *K_path, *K_size, *K_inode, *K_times, *K_open, *K_device;

/* The FileEntry of a regular file: a copy of `base` (the fields every file of the walk shares)
 * with its own set, as folder._entry sets them; its `open` an OsFile of its path. */
static PyObject *file_entry(PyObject *cls, PyObject *base, PyTypeObject *opener,
                            PyObject *path, PyObject *shown, const struct stat *st)
{
    PyObject *open = opener->tp_alloc(opener, 2);   /* OsFile(path, False): a tuple */
    if (open == NULL)
        return NULL;
    Py_INCREF(path);
    PyTuple_SET_ITEM(open, 0, path);
    Py_INCREF(Py_False);
    PyTuple_SET_ITEM(open, 1, Py_False);
    PyObject *times = PyTuple_New(4);
    const struct timespec *stamps[3] = {&st->st_mtim, &st->st_atim, &st->st_ctim};
    for (int i = 0; times != NULL && i < 4; i++) {
        PyObject *p = i < 3 ? stamp(stamps[i]) : untracked(Py_BuildValue("(ii)", 0, 0));
        if (p == NULL)
            Py_CLEAR(times);
        else
            PyTuple_SET_ITEM(times, i, p);
    }
    untracked(times);
    PyObject *size = PyLong_FromLongLong((long long)st->st_size);
    PyObject *inode = PyLong_FromUnsignedLongLong((unsigned long long)st->st_ino);
    PyObject *device = st->st_nlink > 1
        ? PyLong_FromUnsignedLongLong((unsigned long long)st->st_dev) : Py_NewRef(Py_None);
    PyObject *state = NULL, *entry = NULL;
    if (times == NULL || size == NULL || inode == NULL || device == NULL)
        goto done;
    state = PyDict_Copy(base);
    if (state == NULL || PyDict_SetItem(state, K_path, shown) < 0 ||
        PyDict_SetItem(state, K_size, size) < 0 || PyDict_SetItem(state, K_inode, inode) < 0 ||
        PyDict_SetItem(state, K_times, times) < 0 || PyDict_SetItem(state, K_open, open) < 0 ||
        PyDict_SetItem(state, K_device, device) < 0)
        goto done;
    entry = ((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (entry != NULL && PyObject_GenericSetDict(entry, state, NULL) < 0)
        Py_CLEAR(entry);
done:
    Py_XDECREF(state);
    Py_XDECREF(device);
    Py_XDECREF(inode);
    Py_XDECREF(size);
    Py_XDECREF(times);
    Py_DECREF(open);
    return entry;
}

/* One child's row: a FileEntry (a regular file), ("d", name, st_dev) (a folder), ("e", name,
 * errno) (it could not be stat'ed), or None (a link, FIFO, socket or device node: no content
 * of its own). */
static PyObject *row(const Child *c, PyObject *name, PyObject *folder, PyObject *shown_folder,
                     PyObject *cls, PyObject *base, PyTypeObject *opener)
{
    if (c->error)
        return Py_BuildValue("(sOi)", "e", name, c->error);
    if (S_ISDIR(c->st.st_mode))
        return Py_BuildValue("(sOK)", "d", name, (unsigned long long)c->st.st_dev);
    if (!S_ISREG(c->st.st_mode))
        Py_RETURN_NONE;
    PyObject *path = PyUnicode_Concat(folder, name);
    PyObject *shown = path == NULL ? NULL : PyUnicode_Concat(shown_folder, name);
    PyObject *entry = shown == NULL ? NULL : file_entry(cls, base, opener, path, shown, &c->st);
    Py_XDECREF(shown);
    Py_XDECREF(path);
    return entry;
}

/* list(fd, folder, shown_folder, maker, limit) -> [row, ...] in name order, or None when a
 * name is not UTF-8 or the directory holds more than `limit` names (its entries, all made at
 * once here, would hold a million files' worth of memory). fd: the directory, opened by the
 * caller, closed here. folder: its path with a trailing separator, to which a name is added
 * for a file's path (its OsFile's); shown_folder: the same as the entry's path shows it ("/"
 * and the path under the walk's root, "/"-ended). maker: (FileEntry, the __dict__ every entry
 * starts from, OsFile). OSError when the directory cannot be read. */
static PyObject *oslist_list(PyObject *module, PyObject *args)
{
    int fd;
    Py_ssize_t limit;
    PyObject *folder, *shown_folder, *cls, *base, *opener;
    if (!PyArg_ParseTuple(args, "iUU(OO!O!)n", &fd, &folder, &shown_folder, &cls,
                          &PyDict_Type, &base, &PyType_Type, &opener, &limit)) {
        /* the descriptor is this call's to close, however its other arguments are wrong */
        PyObject *first = PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL;
        if (first != NULL && PyLong_Check(first)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            long given = PyLong_AsLong(first);
            if (given >= 0 && given <= INT_MAX)
                close((int)given);
            PyErr_Clear();
            PyErr_Restore(type, value, tb);
        }
        return NULL;
    }
    if (limit < 0) {
        close(fd);
        PyErr_SetString(PyExc_ValueError, "list: a negative limit");
        return NULL;
    }
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)opener, &PyTuple_Type)) {
        close(fd);
        PyErr_SetString(PyExc_TypeError, "list: a bad maker");
        return NULL;
    }
    Child *children = NULL;
    size_t count = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = read_children(fd, (size_t)limit, &children, &count);
    Py_END_ALLOW_THREADS
    if (rc == -2)
        Py_RETURN_NONE;
    if (rc < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    PyObject *rows = PyList_New(0);
    for (size_t i = 0; rows != NULL && i < count; i++) {
        PyObject *name = PyUnicode_DecodeUTF8(children[i].name, (Py_ssize_t)children[i].length,
                                              NULL);
        if (name == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {   /* scandir's to list */
                PyErr_Clear();
                Py_DECREF(rows);
                free_children(children, count);
                Py_RETURN_NONE;
            }
            Py_CLEAR(rows);
            break;
        }
        PyObject *item = row(&children[i], name, folder, shown_folder, cls, base,
                             (PyTypeObject *)opener);
        Py_DECREF(name);
        if (item == NULL || (item != Py_None && PyList_Append(rows, item) < 0))
            Py_CLEAR(rows);
        Py_XDECREF(item);
    }
    free_children(children, count);
    return rows;
}

static PyMethodDef methods[] = {
    {"list", oslist_list, METH_VARARGS,
     "list(fd, folder, shown_folder, maker, limit): a directory's rows in name order, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_oslist", NULL, -1, methods};

PyMODINIT_FUNC PyInit__oslist(void)
{
    if (!((K_path = PyUnicode_InternFromString("path")) &&
          (K_size = PyUnicode_InternFromString("size")) &&
          (K_inode = PyUnicode_InternFromString("inode")) &&
          (K_times = PyUnicode_InternFromString("times")) &&
          (K_open = PyUnicode_InternFromString("open")) &&
          (K_device = PyUnicode_InternFromString("device"))))
        return NULL;
    return PyModule_Create(&module);
}
