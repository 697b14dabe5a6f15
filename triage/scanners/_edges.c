/* judge._edges_at in C: a file's edges and container marks, read by position on a descriptor.
 *
 * The batch screen reads every file a set's fingerprints call for: its first and last 4 KiB,
 * and whether they show a container. Its Python function spends more in its own steps than
 * in its reads: one process's settle of the benchmark image took 0.641 CPU-s with it, 0.602 s
 * with this, and 0.506 s with the answers looked up instead of read (benchmarks/README.md).
 * This is the same function, step for step: the same reads, the same answers (tested side by
 * side with judge._edges_at and with reads through a reader, tests/scanners/test_edges_at.py).
 * What it does not decide itself it asks Python, as the Python function does: the marks
 * table (containers.marks: every reader's marks), the readers that test a head themselves
 * (their `marked`; tar's is this module's is_tar), and containers.appended where the file's
 * last bytes hold a zip's end-of-central-directory signature at all (most hold none: asked of
 * every file, the call was near a quarter of this function's time). Optional: without it
 * judge._edges_at and containers.probe_source run. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* `length` bytes of `fd` from `offset` as bytes, fewer at its end (os.pread); NULL with
 * OSError set where the read fails. */
static PyObject *pread_bytes(int fd, Py_ssize_t length, long long offset)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out == NULL)
        return NULL;
    char *buffer = PyBytes_AS_STRING(out);
    Py_ssize_t got = 0;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    while (got < length) {
        ssize_t n = pread(fd, buffer + got, (size_t)(length - got), (off_t)(offset + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failed = errno;
            break;
        }
        if (n == 0)
            break;
        got += n;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_DECREF(out);
        errno = failed;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (got < length && _PyBytes_Resize(&out, got) < 0)
        return NULL;
    return out;
}

/* `length` bytes of the file of `size` bytes from its offset `at` (`base` + `at` of `fd`), their
 * count added to *read; with `strict`, fewer than `length` is an OSError: the media ends inside
 * the file (tsk_walk.OneRunReader's read_at). NULL with the error set. */
static PyObject *read_part(int fd, long long base, long long at, long long length,
                           long long size, int strict, long long *read)
{
    PyObject *part = pread_bytes(fd, (Py_ssize_t)length, base + at);
    if (part == NULL)
        return NULL;
    long long got = PyBytes_GET_SIZE(part);
    *read += got;
    if (strict && got < length) {
        Py_DECREF(part);
        return PyErr_Format(PyExc_OSError,
                            "read failed at offset %lld of %lld: the media ends inside the file",
                            at + got, size);
    }
    return part;
}

/* Whether `data` holds `mark` (bytes) at `at`: bytes.startswith(mark, at). */
static int holds(const char *data, Py_ssize_t length, PyObject *mark, Py_ssize_t at)
{
    Py_ssize_t n = PyBytes_GET_SIZE(mark);
    return at >= 0 && at + n <= length && memcmp(data + at, PyBytes_AS_STRING(mark), n) == 0;
}

/* The (offset, mark) pair `pair`'s parts; 0 where it is not one (a TypeError set). */
static int unpack_mark(PyObject *pair, Py_ssize_t *at, PyObject **mark)
{
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
        !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
        PyErr_SetString(PyExc_TypeError, "a mark is an (offset, bytes) pair");
        return 0;
    }
    *at = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
    *mark = PyTuple_GET_ITEM(pair, 1);
    return !(*at == -1 && PyErr_Occurred());
}

/* containers.any_mark: 1 where a reader's mark shows in `head`, 0 where none, -1 on error. */
static int any_mark(PyObject *head, PyObject *starts, PyObject *near, PyObject *far,
                    PyObject *others, Py_ssize_t probe)
{
    const char *data = PyBytes_AS_STRING(head);
    Py_ssize_t length = PyBytes_GET_SIZE(head);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(starts); i++)
        if (holds(data, length, PyTuple_GET_ITEM(starts, i), 0))
            return 1;
    Py_ssize_t at;
    PyObject *mark;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(near); i++) {
        if (!unpack_mark(PyTuple_GET_ITEM(near, i), &at, &mark))
            return -1;
        if (holds(data, length, mark, at))
            return 1;
    }
    if (length > probe)   /* the far marks lie past PROBE bytes */
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(far); i++) {
            if (!unpack_mark(PyTuple_GET_ITEM(far, i), &at, &mark))
                return -1;
            if (holds(data, length, mark, at))
                return 1;
        }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(others); i++) {
        PyObject *said = PyObject_CallOneArg(PyTuple_GET_ITEM(others, i), head);
        if (said == NULL)
            return -1;
        int marked = PyObject_IsTrue(said);
        Py_DECREF(said);
        if (marked)
            return marked;
    }
    return 0;
}

/* Whether a tar archive's first header begins `head` (compressed._is_tar, whose twin this
 * is): POSIX and GNU tar say "ustar" at byte 257; an old (v7) tar only by its header's
 * checksum, the octal number in bytes 148-155 (spaces and NULs around it), which must equal the
 * sum of the header's 512 bytes with those 8 counted as spaces. */
static int tar_marked(const unsigned char *head, Py_ssize_t length)
{
    if (length >= 262 && memcmp(head + 257, "ustar", 5) == 0)
        return 1;
    if (length < 512)
        return 0;
    Py_ssize_t from = 148, to = 156;   /* bytes.strip(b" \x00") of the field */
    while (from < to && (head[from] == ' ' || head[from] == 0))
        from++;
    while (to > from && (head[to - 1] == ' ' || head[to - 1] == 0))
        to--;
    if (from == to)
        return 0;
    long long stored = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        if (head[i] < '0' || head[i] > '9')   /* bytes.isdigit() */
            return 0;
        if (head[i] > '7')                    /* int(field, 8) refuses it */
            return 0;
        stored = stored * 8 + (head[i] - '0');
        if (stored > (1LL << 40))             /* past any sum of 512 bytes */
            return 0;
    }
    long long sum = 8 * 32;
    for (Py_ssize_t i = 0; i < 512; i++)
        if (i < 148 || i >= 156)
            sum += head[i];
    return stored == sum;
}

static PyObject *is_tar(PyObject *self, PyObject *head)
{
    if (!PyBytes_Check(head)) {
        PyErr_SetString(PyExc_TypeError, "is_tar() takes bytes");
        return NULL;
    }
    return PyBool_FromLong(tar_marked((const unsigned char *)PyBytes_AS_STRING(head),
                                      PyBytes_GET_SIZE(head)));
}

/* Whether the last `length` bytes at `data` could end with a zip's end-of-central-directory
 * record: its signature at least 22 bytes from their end (what containers.appended tests
 * first; it tests the rest). */
static int may_end_a_zip(const char *data, Py_ssize_t length)
{
    /* any signature that starts 22 bytes or more before their end, found by its last byte
     * (memchr: rare in text, and a byte loop took 2 us of 4 KiB, memmem 0.5) */
    if (length < 22)
        return 0;
    const char *end = data + length - 22 + 4, *at = data + 3;
    while (at < end && (at = memchr(at, 0x06, (size_t)(end - at))) != NULL) {
        if (memcmp(at - 3, "PK\x05", 3) == 0)
            return 1;
        at++;
    }
    return 0;
}

static PyObject *answer(PyObject *head, PyObject *tail, long long read, int maybe,
                        PyObject *appended)
{
    return Py_BuildValue("(OOLOO)", head, tail, read, maybe ? Py_True : Py_False, appended);
}

/* The parts of judge._spec's spec: (EDGE, TAIL, MIN_SIZE, PROBE, starts, near, far, far first,
 * far end, the others' `marked`, containers.appended). */
typedef struct {
    long long edge, tail, min_size, probe, far_first, far_end;
    PyObject *starts, *near, *far, *others, *appended_of;
} Spec;

static int unpack_spec(PyObject *spec, Spec *out)
{
    if (!PyArg_ParseTuple(spec, "LLLLO!O!O!LLO!O", &out->edge, &out->tail, &out->min_size,
                          &out->probe, &PyTuple_Type, &out->starts, &PyTuple_Type, &out->near,
                          &PyTuple_Type, &out->far, &out->far_first, &out->far_end,
                          &PyTuple_Type, &out->others, &out->appended_of))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(out->starts); i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(out->starts, i))) {
            PyErr_SetString(PyExc_TypeError, "a mark at offset 0 is bytes");
            return 0;
        }
    return 1;
}

/* containers.probe past a head of `head_length` bytes that shows no mark: the far marks the
 * file could hold beyond it (_Marks.beyond), read at once and looked for. 1 where one shows,
 * 0 where none does or none could be there, -1 on error. */
static int far_marked(int fd, long long base, long long size, Py_ssize_t head_length,
                      const Spec *spec, int strict, long long *read)
{
    Py_ssize_t count = PyTuple_GET_SIZE(spec->far);
    int all = size >= spec->far_end && head_length < spec->far_first;
    long long low = -1, high = 0;
    Py_ssize_t at;
    PyObject *mark;
    for (Py_ssize_t i = 0; i < count; i++) {   /* the span the marks in reach lie in */
        if (!unpack_mark(PyTuple_GET_ITEM(spec->far, i), &at, &mark))
            return -1;
        long long end = at + PyBytes_GET_SIZE(mark);
        if (!(all || (head_length < end && end <= size)))
            continue;
        if (low < 0)
            low = at;   /* the table's far marks are sorted by offset */
        if (end > high)
            high = end;
    }
    if (low < 0)
        return 0;
    PyObject *data = read_part(fd, base, low, high - low, size, strict, read);
    if (data == NULL)
        return -1;
    int found = 0;
    for (Py_ssize_t i = 0; i < count && !found; i++) {
        unpack_mark(PyTuple_GET_ITEM(spec->far, i), &at, &mark);
        long long end = at + PyBytes_GET_SIZE(mark);
        if (all || (head_length < end && end <= size))
            found = holds(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), mark, at - low);
    }
    Py_DECREF(data);
    return found;
}

/* containers.probe of a file whose first bytes are `head` (as many as it asked): a reader's
 * mark in them, else one of the far marks past them. 1, 0, or -1 on error. */
static int marked_at(int fd, long long base, long long size, PyObject *head, const Spec *spec,
                     int strict, long long *read)
{
    int marked = any_mark(head, spec->starts, spec->near, spec->far, spec->others,
                          (Py_ssize_t)spec->probe);
    if (marked == 0)
        marked = far_marked(fd, base, size, PyBytes_GET_SIZE(head), spec, strict, read);
    return marked;
}

/* containers.appended of the `length` bytes at `data` (a file's last ones): None without asking
 * Python where they hold no end-of-central-directory signature to begin with. New reference;
 * NULL on error. */
static PyObject *appended(const char *data, Py_ssize_t length, long long size,
                          const Spec *spec)
{
    if (!may_end_a_zip(data, length))
        Py_RETURN_NONE;
    PyObject *last = PyBytes_FromStringAndSize(data, length);
    if (last == NULL)
        return NULL;
    PyObject *found = PyObject_CallFunction(spec->appended_of, "OL", last, size);
    Py_DECREF(last);
    return found;
}

/* edges_at(fd, base, size, sniff, strict, spec): judge._edges_at's answer. */
static PyObject *edges_at(PyObject *self, PyObject *args)
{
    int fd, sniff, strict;
    long long base, size;
    PyObject *spec_tuple;
    Spec spec;
    if (!PyArg_ParseTuple(args, "iLLppO!", &fd, &base, &size, &sniff, &strict,
                          &PyTuple_Type, &spec_tuple) || !unpack_spec(spec_tuple, &spec))
        return NULL;
    long long first = size < spec.edge ? size : spec.edge, read = 0;
    PyObject *head = read_part(fd, base, 0, first, size, strict, &read);
    if (head == NULL)
        return NULL;
    PyObject *tail = NULL, *result = NULL;
    if (read == first && size > spec.edge) {   /* reading.edges: the tail past the head, its
                                                * last EDGE bytes */
        long long start = size - spec.edge > spec.edge ? size - spec.edge : spec.edge;
        tail = read_part(fd, base, start, size - start, size, strict, &read);
    } else   /* the whole file, or (a folder's) what a short head left */
        tail = PyBytes_FromStringAndSize(NULL, 0);
    if (tail == NULL)
        goto done;
    if (!sniff || size < spec.min_size) {
        result = answer(head, tail, read, 0, Py_None);
        goto done;
    }
    Py_ssize_t head_length = PyBytes_GET_SIZE(head);
    if (head_length < first) {
        result = answer(head, tail, read, 1, Py_None);
        goto done;
    }
    int marked = marked_at(fd, base, size, head, &spec, strict, &read);
    if (marked < 0)
        goto done;
    if (marked) {
        result = answer(head, tail, read, 1, Py_None);
        goto done;
    }
    /* an archive appended: the last TAIL bytes of the tail, or of a head that is all of it */
    PyObject *whole = PyBytes_GET_SIZE(tail) ? tail : (head_length == size ? head : NULL);
    Py_ssize_t length = whole == NULL ? 0 : PyBytes_GET_SIZE(whole);
    Py_ssize_t from = length > spec.tail ? length - (Py_ssize_t)spec.tail : 0;
    PyObject *found = appended(whole == NULL ? "" : PyBytes_AS_STRING(whole) + from,
                               length - from, size, &spec);
    if (found == NULL)
        goto done;
    result = answer(head, tail, read, found != Py_None, found);
    Py_DECREF(found);
done:
    Py_DECREF(head);
    Py_XDECREF(tail);
    return result;
}

/* probe_at(fd, base, size, strict, spec): containers.probe_source's (maybe, read, appended) of
 * a file at `base` of `fd`, the same reads in the same order: its first PROBE bytes, the far
 * marks past them, and, where neither shows a container, its last TAIL bytes (taken from the
 * head where that is the whole file). What a file read only to tell a container costs: 11 us
 * through probe_source's reader, 4.3 here. */
static PyObject *probe_at(PyObject *self, PyObject *args)
{
    int fd, strict;
    long long base, size;
    PyObject *spec_tuple;
    Spec spec;
    if (!PyArg_ParseTuple(args, "iLLpO!", &fd, &base, &size, &strict, &PyTuple_Type,
                          &spec_tuple) || !unpack_spec(spec_tuple, &spec))
        return NULL;
    long long first = size < spec.probe ? size : spec.probe, read = 0;
    PyObject *head = read_part(fd, base, 0, first, size, strict, &read);
    if (head == NULL)
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t head_length = PyBytes_GET_SIZE(head);
    int marked = 0;   /* containers.probe */
    if (size >= spec.min_size) {
        if (head_length < first)
            marked = 1;   /* shorter than its size said: the full read tells */
        else
            marked = marked_at(fd, base, size, head, &spec, strict, &read);
    }
    if (marked < 0)
        goto done;
    if (marked) {
        result = Py_BuildValue("(OLO)", Py_True, read, Py_None);
        goto done;
    }
    PyObject *found;
    if (head_length == size) {   /* containers.tail_of: the head is all of it */
        Py_ssize_t from = head_length > spec.tail ? head_length - (Py_ssize_t)spec.tail : 0;
        found = appended(PyBytes_AS_STRING(head) + from, head_length - from, size, &spec);
    } else {
        long long length = size < spec.tail ? size : spec.tail;
        long long tail_read = 0;
        PyObject *last = read_part(fd, base, size - length, length, size, strict, &tail_read);
        if (last == NULL)
            goto done;
        read += tail_read;
        found = appended(PyBytes_AS_STRING(last), PyBytes_GET_SIZE(last), size, &spec);
        Py_DECREF(last);
    }
    if (found == NULL)
        goto done;
    result = Py_BuildValue("(OLO)", found != Py_None ? Py_True : Py_False, read, found);
    Py_DECREF(found);
done:
    Py_DECREF(head);
    return result;
}

static PyMethodDef methods[] = {
    {"edges_at", edges_at, METH_VARARGS,
     "edges_at(fd, base, size, sniff, strict, spec): judge._edges_at's (head, tail, read, "
     "maybe, appended)."},
    {"probe_at", probe_at, METH_VARARGS,
     "probe_at(fd, base, size, strict, spec): containers.probe_source's (maybe, read, "
     "appended) of a file at `base` of `fd`."},
    {"is_tar", is_tar, METH_O,
     "is_tar(head): whether a tar archive's first header begins `head` (compressed._is_tar)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_edges", NULL, -1, methods};

PyMODINIT_FUNC PyInit__edges(void)
{
    return PyModule_Create(&module);
}
