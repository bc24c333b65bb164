"""C extensions only: everything else is declared in setup.cfg.

Both are built against Python's stable ABI for 3.11 (Py_LIMITED_API, files
named *.abi3.so): the same build loads in every later Python 3, so a Debian
upgrade that brings a newer python3 does not break the installed package.
"""
from setuptools import Extension, setup

STABLE_ABI = [("Py_LIMITED_API", "0x030B0000")]

setup(
    ext_modules=[
        Extension(
            "gateway.scanner._saneio",
            sources=["gateway/scanner/_saneio.c"],
            libraries=["sane"],
            define_macros=STABLE_ABI,
            py_limited_api=True,
        ),
        Extension(
            "gateway.imaging._encoder",
            sources=["gateway/imaging/_encoder.c"],
            libraries=["jpeg", "z"],
            extra_compile_args=["-O2"],
            define_macros=STABLE_ABI,
            py_limited_api=True,
        ),
    ],
)
