/* The batch screen's reads in C: judge._screen_at (a chunk of files at once) and
 * judge._edges_at (one file), reading by position on a descriptor.
 *
 * The batch screen reads every file a set's fingerprints call for: its first and last 4 KiB,
 * and whether they show a container; and of a file read only to tell a container, what tells
 * one (containers.probe_source). Its Python functions spend more in their own steps than in
 * their reads: one process's settle of the benchmark image took 0.641 CPU-s with them, 0.602 s
 * with edges_at, and 0.506 s with the answers looked up instead of read (benchmarks/README.md).
 * screen() reads a chunk of files in one call, each file's edges read into the one bytes
 * object its fingerprint digests. These are the same functions, step for step: the same
 * reads, the same answers (tested side by side with the Python ones and with reads through a
 * reader, tests/scanners/test_edges_at.py). What they do not decide themselves they ask
 * Python, as the Python functions do: the marks table (containers.marks: every reader's
 * marks), the readers that test a head themselves (their `marked`; tar's is this module's
 * is_tar), and containers.appended where the file's last bytes hold a zip's
 * end-of-central-directory signature at all (most hold none: asked of every file, the call was
 * near a quarter of the time). Optional: without it judge._screen_at and judge._edges_at
 * run. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#ifndef O_NOATIME   /* Linux's: elsewhere, access times are as the OS keeps them */
#define O_NOATIME 0
#endif

/* Up to `length` bytes of `fd` from `offset` into `buffer`, fewer at its end (os.pread, again
 * until the end or an error): their count, or -1 with errno set. */
static Py_ssize_t pread_into(int fd, char *buffer, Py_ssize_t length, long long offset)
{
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
        errno = failed;
        return -1;
    }
    return got;
}

/* `length` bytes of `fd` from `offset` as bytes, fewer at its end (os.pread); NULL with
 * OSError set where the read fails. */
static PyObject *pread_bytes(int fd, Py_ssize_t length, long long offset)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out == NULL)
        return NULL;
    Py_ssize_t got = pread_into(fd, PyBytes_AS_STRING(out), length, offset);
    if (got < 0) {
        Py_DECREF(out);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (got < length && _PyBytes_Resize(&out, got) < 0)
        return NULL;
    return out;
}

/* The error of a file read by its run where the media ends inside it, at `at` of its `size`
 * bytes (tsk_walk.ends_inside). NULL. */
static PyObject *ends_inside(long long at, long long size)
{
    return PyErr_Format(PyExc_OSError,
                        "read failed at offset %lld of %lld: the media ends inside the file",
                        at, size);
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
        return ends_inside(at + got, size);
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

static int tar_marked(const unsigned char *head, Py_ssize_t length);
static PyObject *is_tar(PyObject *self, PyObject *head);

/* containers.any_mark: 1 where a reader's mark shows in the `length` bytes of a file's head at
 * `data`, 0 where none, -1 on error. A reader that tests a head itself is called with the head
 * as bytes, made only for it; tar's test is this module's is_tar, run here on the bytes as
 * they are (the copy and the call were a third of a sniffed file's time). */
static int any_mark(const char *data, Py_ssize_t length, PyObject *starts, PyObject *near,
                    PyObject *far, PyObject *others, Py_ssize_t probe)
{
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
    PyObject *head = NULL;
    int marked = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(others) && !marked; i++) {
        PyObject *other = PyTuple_GET_ITEM(others, i);
        if (PyCFunction_Check(other) && PyCFunction_GET_FUNCTION(other) == is_tar) {
            marked = tar_marked((const unsigned char *)data, length);
            continue;
        }
        if (head == NULL && (head = PyBytes_FromStringAndSize(data, length)) == NULL)
            return -1;
        PyObject *said = PyObject_CallOneArg(other, head);
        marked = said == NULL ? -1 : PyObject_IsTrue(said);
        Py_XDECREF(said);
    }
    Py_XDECREF(head);
    return marked;
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
static int marked_at(int fd, long long base, long long size, const char *head,
                     Py_ssize_t length, const Spec *spec, int strict, long long *read)
{
    int marked = any_mark(head, length, spec->starts, spec->near, spec->far, spec->others,
                          (Py_ssize_t)spec->probe);
    if (marked == 0)
        marked = far_marked(fd, base, size, length, spec, strict, read);
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

/* A file's edges (reading.edges: its first EDGE bytes, and its last EDGE bytes past them) read
 * into one bytes object after its size's 8 bytes, little-endian: what a fingerprint digests
 * (signals.exact's key_of). *head_length: the bytes of the head in it. A head read short
 * (a folder's file that shrank) is all there is: no tail is read. With `strict`, a read
 * short of the file's size is an OSError: the media ends inside the file. NULL with the error
 * set. */
static PyObject *edges_read(int fd, long long base, long long size, int strict,
                            const Spec *spec, Py_ssize_t *head_length, long long *read)
{
    long long first = size < spec->edge ? size : spec->edge;
    long long start = size - spec->edge > spec->edge ? size - spec->edge : spec->edge;
    long long tail = size > spec->edge ? size - start : 0;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(8 + first + tail));
    if (out == NULL)
        return NULL;
    unsigned char *data = (unsigned char *)PyBytes_AS_STRING(out);
    for (int i = 0; i < 8; i++)
        data[i] = (unsigned char)((unsigned long long)size >> (8 * i));
    Py_ssize_t got = pread_into(fd, (char *)data + 8, (Py_ssize_t)first, base);
    if (got < 0)
        goto failed;
    *read += got;
    *head_length = got;
    if (strict && got < first) {
        Py_DECREF(out);
        return ends_inside(got, size);
    }
    Py_ssize_t length = 8 + got;
    if (got == first && tail) {
        Py_ssize_t more = pread_into(fd, (char *)data + 8 + first, (Py_ssize_t)tail,
                                     base + start);
        if (more < 0)
            goto failed;
        *read += more;
        if (strict && more < tail) {
            Py_DECREF(out);
            return ends_inside(start + more, size);
        }
        length += more;
    }
    if (length < PyBytes_GET_SIZE(out) && _PyBytes_Resize(&out, length) < 0)
        return NULL;
    return out;
failed:
    Py_DECREF(out);
    return PyErr_SetFromErrno(PyExc_OSError);
}

/* judge._sniffed of edges read (edges_read's `edges`, `head_length` of them the head):
 * whether they leave the file maybe a container, 1 or 0 (-1 on error), and *appended the
 * reader of an archive appended to it (a new reference; None where there is none). */
static int sniffed(int fd, long long base, long long size, PyObject *edges,
                   Py_ssize_t head_length, const Spec *spec, int strict, long long *read,
                   PyObject **appended_to)
{
    Py_INCREF(Py_None);
    *appended_to = Py_None;
    if (size < spec->min_size)
        return 0;
    if (head_length < (size < spec->edge ? size : spec->edge))
        return 1;   /* shorter than its size said: the full read tells */
    const char *data = PyBytes_AS_STRING(edges) + 8;
    int marked = marked_at(fd, base, size, data, head_length, spec, strict, read);
    if (marked)
        return marked;
    /* an archive appended: the last TAIL bytes of the tail, or of a head that is all of it */
    Py_ssize_t tail = PyBytes_GET_SIZE(edges) - 8 - head_length;
    const char *whole = tail ? data + head_length : (head_length == size ? data : "");
    Py_ssize_t length = tail ? tail : (head_length == size ? head_length : 0);
    Py_ssize_t from = length > spec->tail ? length - (Py_ssize_t)spec->tail : 0;
    PyObject *found = appended(whole + from, length - from, size, spec);
    if (found == NULL)
        return -1;
    Py_SETREF(*appended_to, found);
    return found != Py_None;
}

/* edges_at(fd, base, size, sniff, strict, spec): judge._edges_at's (head, tail, read, maybe,
 * appended). */
static PyObject *edges_at(PyObject *self, PyObject *args)
{
    int fd, sniff, strict;
    long long base, size;
    PyObject *spec_tuple;
    Spec spec;
    if (!PyArg_ParseTuple(args, "iLLppO!", &fd, &base, &size, &sniff, &strict,
                          &PyTuple_Type, &spec_tuple) || !unpack_spec(spec_tuple, &spec))
        return NULL;
    long long read = 0;
    Py_ssize_t head_length = 0;
    PyObject *edges = edges_read(fd, base, size, strict, &spec, &head_length, &read);
    if (edges == NULL)
        return NULL;
    PyObject *found = Py_None, *result = NULL;
    int maybe = 0;
    Py_INCREF(found);
    if (sniff && (maybe = sniffed(fd, base, size, edges, head_length, &spec, strict, &read,
                                  &found)) < 0)
        goto done;
    const char *data = PyBytes_AS_STRING(edges) + 8;
    result = Py_BuildValue("(y#y#LOO)", data, head_length, data + head_length,
                           PyBytes_GET_SIZE(edges) - 8 - head_length, read,
                           maybe ? Py_True : Py_False, found);
done:
    Py_DECREF(edges);
    Py_XDECREF(found);
    return result;
}

/* containers.probe_source's answer of a file at `base` of `fd`, the same reads in the same
 * order: its first PROBE bytes, the far marks past them, and, where neither shows a container,
 * its last TAIL bytes (taken from the head where that is the whole file). Whether it is maybe
 * a container (1, 0; -1 on error), its bytes read added to *read, and *appended_to the reader
 * of an archive appended (a new reference, None where there is none). */
static int probed(int fd, long long base, long long size, int strict, const Spec *spec,
                  long long *read, PyObject **appended_to)
{
    *appended_to = NULL;
    long long first = size < spec->probe ? size : spec->probe;
    PyObject *head = read_part(fd, base, 0, first, size, strict, read);
    if (head == NULL)
        return -1;
    int marked = 0;   /* containers.probe */
    Py_ssize_t head_length = PyBytes_GET_SIZE(head);
    if (size >= spec->min_size)
        marked = head_length < first ? 1   /* shorter than its size said: the full read tells */
                                     : marked_at(fd, base, size, PyBytes_AS_STRING(head),
                                                 head_length, spec, strict, read);
    if (marked) {
        Py_DECREF(head);
        if (marked > 0) {
            Py_INCREF(Py_None);
            *appended_to = Py_None;
        }
        return marked;
    }
    PyObject *found;
    if (head_length == size) {   /* containers.tail_of: the head is all of it */
        Py_ssize_t from = head_length > spec->tail ? head_length - (Py_ssize_t)spec->tail : 0;
        found = appended(PyBytes_AS_STRING(head) + from, head_length - from, size, spec);
    } else {
        long long length = size < spec->tail ? size : spec->tail;
        PyObject *last = read_part(fd, base, size - length, length, size, strict, read);
        found = last == NULL ? NULL : appended(PyBytes_AS_STRING(last), PyBytes_GET_SIZE(last),
                                               size, spec);
        Py_XDECREF(last);
    }
    Py_DECREF(head);
    if (found == NULL)
        return -1;
    *appended_to = found;
    return found != Py_None;
}

/* What screen() does with a file (judge.SCREEN_*): its edges read, its edges read and sniffed,
 * or only what tells a container read (probed()). */
enum { EDGES = 0, EDGES_SNIFFED = 1, PROBED = 2 };

/* One file's answer in screen(): (read, maybe, edges), edges None where it is maybe a
 * container or only probed. NULL with the error set. */
static PyObject *screened(int fd, long long base, long long size, int mode, int strict,
                          const Spec *spec)
{
    long long read = 0;
    PyObject *found = NULL, *edges = Py_None;
    int maybe;
    if (mode == PROBED) {
        maybe = probed(fd, base, size, strict, spec, &read, &found);
        Py_INCREF(edges);
    } else {
        Py_ssize_t head_length = 0;
        edges = edges_read(fd, base, size, strict, spec, &head_length, &read);
        if (edges == NULL)
            return NULL;
        maybe = mode == EDGES_SNIFFED ?
            sniffed(fd, base, size, edges, head_length, spec, strict, &read, &found) : 0;
        if (maybe > 0)
            Py_SETREF(edges, Py_NewRef(Py_None));
    }
    Py_XDECREF(found);
    if (maybe < 0) {
        Py_DECREF(edges);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(LON)", read, maybe ? Py_True : Py_False, edges);
    return result;
}

/* A folder's file opened by its path as folder.open_descriptor opens it: read-only, no link
 * followed, its access time left alone where the OS lets us (O_NOATIME is refused on a file
 * of another owner: then without it), closed on exec. -1 with errno set where it cannot be. */
static int open_named(const char *path)
{
    int fd;
    Py_BEGIN_ALLOW_THREADS
    do
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == EPERM)
        do
            fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
    Py_END_ALLOW_THREADS
    return fd;
}

/* screened() of a file named by `source`: a descriptor (an int), or a folder's file by its
 * path (str or bytes, opened here as open_named, and closed). NULL with the error set. */
static PyObject *screened_source(PyObject *source, long long base, long long size, int mode,
                                 int strict, const Spec *spec)
{
    if (PyLong_Check(source)) {
        long fd = PyLong_AsLong(source);
        if (fd == -1 && PyErr_Occurred())
            return NULL;
        if (fd < INT_MIN || fd > INT_MAX)   /* as os.pread's OverflowError */
            return PyErr_Format(PyExc_ValueError, "a descriptor is a C int");
        return screened((int)fd, base, size, mode, strict, spec);
    }
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(source, &path))   /* str or bytes, as os.open takes them */
        return NULL;
    int fd = open_named(PyBytes_AS_STRING(path));
    if (fd < 0) {
        PyObject *failed = PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, source);
        Py_DECREF(path);
        return failed;
    }
    Py_DECREF(path);
    PyObject *answer = screened(fd, base, size, mode, strict, spec);
    close(fd);   /* read-only: nothing to lose; what an error of close could say, a read said */
    return answer;
}

/* screen(sources, bases, sizes, modes, strict, spec, caught): judge._screen_at's answers, a
 * file each: what the batch screen reads of each file at `bases[i]` of sources[i] (a
 * descriptor, or a folder's file by its path), as `modes[i]` says (screened()), in one call
 * where each was a call of its own and the Python around it. An error of a class in `caught`
 * (a read's, an open's) is a file's answer None; any other is raised. */
static PyObject *screen(PyObject *self, PyObject *args)
{
    PyObject *sources, *bases, *sizes, *spec_tuple, *caught;
    const char *modes;
    Py_ssize_t count;
    int strict;
    Spec spec;
    if (!PyArg_ParseTuple(args, "O!O!O!y#pO!O", &PyList_Type, &sources, &PyList_Type, &bases,
                          &PyList_Type, &sizes, &modes, &count, &strict, &PyTuple_Type,
                          &spec_tuple, &caught) || !unpack_spec(spec_tuple, &spec))
        return NULL;
    if (PyList_GET_SIZE(sources) != count || PyList_GET_SIZE(bases) != count ||
        PyList_GET_SIZE(sizes) != count) {
        PyErr_SetString(PyExc_ValueError, "screen() takes as many sources, bases, sizes and "
                                          "modes");
        return NULL;
    }
    PyObject *out = PyList_New(count);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        long long base = PyLong_AsLongLong(PyList_GET_ITEM(bases, i));
        long long size = PyLong_AsLongLong(PyList_GET_ITEM(sizes, i));
        if (PyErr_Occurred() || modes[i] < EDGES || modes[i] > PROBED) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a screen mode is 0, 1 or 2");
            Py_DECREF(out);
            return NULL;
        }
        PyObject *answer = screened_source(PyList_GET_ITEM(sources, i), base, size, modes[i],
                                           strict, &spec);
        if (answer == NULL) {
            if (!PyErr_ExceptionMatches(caught)) {
                Py_DECREF(out);
                return NULL;
            }
            PyErr_Clear();
            answer = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(out, i, answer);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"edges_at", edges_at, METH_VARARGS,
     "edges_at(fd, base, size, sniff, strict, spec): judge._edges_at's (head, tail, read, "
     "maybe, appended)."},
    {"screen", screen, METH_VARARGS,
     "screen(sources, bases, sizes, modes, strict, spec, caught): judge._screen_at's "
     "answers, (read, maybe, edges) or None a file."},
    {"is_tar", is_tar, METH_O,
     "is_tar(head): whether a tar archive's first header begins `head` (compressed._is_tar)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_edges", NULL, -1, methods};

PyMODINIT_FUNC PyInit__edges(void)
{
    return PyModule_Create(&module);
}
