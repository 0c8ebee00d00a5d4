"""Declare the Cython extension; everything else is in pyproject.toml.

ONSHI_DEBUG=1 builds with line tracing and -O0 -g for profiling and coverage.
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = bool(os.environ.get("ONSHI_DEBUG"))

extensions = [
    Extension(
        f"core_ext.{name}",
        [f"core_ext/{name}.pyx"],
        extra_compile_args=["-O0", "-g"] if DEBUG else ["-O2"],
        define_macros=[("CYTHON_TRACE", "1")] if DEBUG else [],
    )
    for name in sorted(path.stem for path in Path("core_ext").glob("*.pyx"))  # one extension per .pyx
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "linetrace": DEBUG,
        },
    )
)
