"""C extensions only: everything else is declared in setup.cfg."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gateway.scanner._saneio",
            sources=["gateway/scanner/_saneio.c"],
            libraries=["sane"],
        ),
        Extension(
            "gateway.imaging._encoder",
            sources=["gateway/imaging/_encoder.c"],
            libraries=["jpeg", "z"],
            extra_compile_args=["-O2"],
        ),
    ],
)
