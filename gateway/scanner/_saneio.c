/*
 * Streaming reads from a python-sane device handle.
 *
 * python-sane only offers snap(), which holds a whole page in memory.  The
 * gateway needs the rows as the scanner delivers them, so this module calls
 * sane_read() on the handle python-sane opened, into a caller's buffer, with
 * the GIL released.  python-sane's device object is { PyObject_HEAD;
 * SANE_Handle h; } (stable since PIL's Sane module); its type is checked by
 * name and size before the handle is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sane/sane.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    SANE_Handle h;
} PySaneDev;

static PyObject *SaneIOError;

/*
 * Signal dispositions SANE may not keep.
 *
 * sanei_thread (the reader-thread helper most backends use) sets SIGPIPE back
 * to SIG_DFL whenever it joins a reader thread, and many backends' reader
 * threads set SIGTERM (sometimes SIGINT, SIGHUP, SIGPIPE) to SIG_DFL or to a
 * handler of their own; with pthreads that changes the whole process.  The
 * gateway records the dispositions it chose (keep_signals) and puts them
 * back after every SANE call (restore_kept), from whichever thread made it.
 */
#define MAX_KEPT 8
static int kept_count;
static int kept_signo[MAX_KEPT];
static struct sigaction kept_action[MAX_KEPT];
static unsigned long changed_signals; /* bit per signal found changed, until reported */

static int same_action(const struct sigaction *a, const struct sigaction *b)
{
    if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO))
        return 0;
    if (a->sa_flags & SA_SIGINFO)
        return a->sa_sigaction == b->sa_sigaction;
    return a->sa_handler == b->sa_handler;
}

/* Callable without the GIL and from any thread: sigaction() is process-wide and thread-safe. */
static void restore_kept(void)
{
    for (int i = 0; i < kept_count; i++) {
        struct sigaction now;
        if (sigaction(kept_signo[i], NULL, &now) == 0 && !same_action(&now, &kept_action[i])) {
            sigaction(kept_signo[i], &kept_action[i], NULL);
            __atomic_fetch_or(&changed_signals, 1UL << kept_signo[i], __ATOMIC_RELAXED);
        }
    }
}

/* A child forked by a backend (a reader process) must get the signals its parent
 * kills it with, whatever the forking thread blocked. */
static void unblock_kept_in_child(void)
{
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < kept_count; i++)
        sigaddset(&set, kept_signo[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static PyObject *keep_signals(PyObject *self, PyObject *arg)
{
    static int atfork_done;
    /* PySequence_Size/GetItem rather than the PySequence_Fast macros: they are in the stable ABI. */
    Py_ssize_t n = PySequence_Size(arg);
    if (n < 0)
        return NULL;
    if (n > MAX_KEPT)
        return PyErr_Format(PyExc_ValueError, "at most %d signals can be kept", MAX_KEPT);
    int signo[MAX_KEPT];
    struct sigaction action[MAX_KEPT];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_GetItem(arg, i);
        if (item == NULL)
            return NULL;
        long v = PyLong_AsLong(item);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v <= 0 || v >= (long)(8 * sizeof(changed_signals)) || sigaction((int)v, NULL, &action[i]) != 0)
            return PyErr_Format(PyExc_ValueError, "cannot keep signal %ld", v);
        signo[i] = (int)v;
    }
    kept_count = 0;
    memcpy(kept_signo, signo, sizeof(int) * n);
    memcpy(kept_action, action, sizeof(struct sigaction) * n);
    kept_count = (int)n;
    if (!atfork_done && pthread_atfork(NULL, NULL, unblock_kept_in_child) == 0)
        atfork_done = 1;
    Py_RETURN_NONE;
}

static PyObject *restore_signals(PyObject *self, PyObject *unused)
{
    restore_kept();
    unsigned long changed = __atomic_exchange_n(&changed_signals, 0, __ATOMIC_RELAXED);
    PyObject *out = PyList_New(0);
    for (int sig = 1; out != NULL && sig < (int)(8 * sizeof(changed)); sig++) {
        if (changed & (1UL << sig)) {
            PyObject *v = PyLong_FromLong(sig);
            if (v == NULL || PyList_Append(out, v) < 0)
                Py_CLEAR(out);
            Py_XDECREF(v);
        }
    }
    return out;
}

/* The stable ABI (Py_LIMITED_API) hides PyTypeObject's fields: read the
 * type's __name__ and __basicsize__ as Python attributes instead. */
static int is_sane_dev(PyObject *dev)
{
    PyObject *t = (PyObject *)Py_TYPE(dev);
    PyObject *name = PyObject_GetAttrString(t, "__name__");
    PyObject *size = PyObject_GetAttrString(t, "__basicsize__");
    int ok = name != NULL && size != NULL && PyUnicode_CompareWithASCIIString(name, "SaneDev") == 0 &&
             PyLong_AsSsize_t(size) == (Py_ssize_t)sizeof(PySaneDev);
    Py_XDECREF(name);
    Py_XDECREF(size);
    PyErr_Clear();
    return ok;
}

static SANE_Handle handle_of(PyObject *dev)
{
    if (!is_sane_dev(dev)) {
        PyErr_Format(PyExc_TypeError, "expected python-sane's SaneDev, got %R", (PyObject *)Py_TYPE(dev));
        return NULL;
    }
    SANE_Handle h = ((PySaneDev *)dev)->h;
    if (h == NULL)
        PyErr_SetString(SaneIOError, "the device is closed");
    return h;
}

static PyObject *raise_status(SANE_Status st)
{
    PyObject *args = Py_BuildValue("(is)", (int)st, sane_strstatus(st));
    if (args != NULL) {
        PyErr_SetObject(SaneIOError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* read_into(dev, buffer) -> bytes read, 0 at the end of the frame. Fills as
 * much of the buffer as one call can, looping over short sane_read()s. */
static PyObject *read_into(PyObject *self, PyObject *args)
{
    PyObject *dev;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "Ow*", &dev, &buf))
        return NULL;
    SANE_Handle h = handle_of(dev);
    if (h == NULL) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    SANE_Byte *p = buf.buf;
    Py_ssize_t want = buf.len, got = 0;
    SANE_Status st = SANE_STATUS_GOOD;
    Py_BEGIN_ALLOW_THREADS
    while (got < want) {
        SANE_Int n = 0;
        SANE_Int chunk = (want - got) > 0x7fffffff ? 0x7fffffff : (SANE_Int)(want - got);
        st = sane_read(h, p + got, chunk, &n);
        restore_kept();
        if (st != SANE_STATUS_GOOD)
            break;
        got += n;
        if (n == 0)
            break;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (st == SANE_STATUS_EOF || st == SANE_STATUS_GOOD || got > 0)
        return PyLong_FromSsize_t(got);
    return raise_status(st);
}

static PyObject *start(PyObject *self, PyObject *dev)
{
    SANE_Handle h = handle_of(dev);
    if (h == NULL)
        return NULL;
    SANE_Status st;
    Py_BEGIN_ALLOW_THREADS
    st = sane_start(h);
    restore_kept();
    Py_END_ALLOW_THREADS
    if (st != SANE_STATUS_GOOD)
        return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *cancel(PyObject *self, PyObject *dev)
{
    SANE_Handle h = handle_of(dev);
    if (h == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    sane_cancel(h);
    restore_kept();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"read_into", read_into, METH_VARARGS,
     "read_into(dev, buffer) -> int: raw frame bytes read into buffer; 0 at end of frame.\n"
     "Raises SaneIOError((status, message)) on a SANE error."},
    {"start", start, METH_O, "start(dev): sane_start with the GIL released."},
    {"cancel", cancel, METH_O, "cancel(dev): sane_cancel with the GIL released."},
    {"keep_signals", keep_signals, METH_O,
     "keep_signals(signums): remember these signals' current dispositions; every SANE call\n"
     "made through this module puts them back, and so does restore_signals()."},
    {"restore_signals", restore_signals, METH_NOARGS,
     "restore_signals() -> list: put the kept dispositions back; the signals found changed\n"
     "since the last call (by this call or by one after a SANE call)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_saneio",
    "Streaming sane_read() for python-sane device handles.", -1, methods,
};

PyMODINIT_FUNC PyInit__saneio(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    SaneIOError = PyErr_NewException("_saneio.SaneIOError", PyExc_OSError, NULL);
    if (SaneIOError == NULL || PyModule_AddObject(m, "SaneIOError", SaneIOError) < 0) {
        Py_XDECREF(SaneIOError);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
