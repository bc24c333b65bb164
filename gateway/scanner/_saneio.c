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
#include <string.h>

typedef struct {
    PyObject_HEAD
    SANE_Handle h;
} PySaneDev;

static PyObject *SaneIOError;

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
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"read_into", read_into, METH_VARARGS,
     "read_into(dev, buffer) -> int: raw frame bytes read into buffer; 0 at end of frame.\n"
     "Raises SaneIOError((status, message)) on a SANE error."},
    {"start", start, METH_O, "start(dev): sane_start with the GIL released."},
    {"cancel", cancel, METH_O, "cancel(dev): sane_cancel with the GIL released."},
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
