"""Build the package, compiling its node core (autograd_bp/core/node.py) with mypyc if it can.

Everything else is in pyproject.toml. The compiled module is the same source as the Python
one, so without mypy or a C compiler the install goes on with the Python source alone (a
warning says so) and the package works the same, bit for bit, only slower.
``AUTOGRAD_BP_PURE_BUILD=1`` skips the compilation on purpose.
"""

from __future__ import annotations

import os
import warnings

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED_MODULES = ["autograd_bp/core/node.py"]


class OptionalBuildExt(build_ext):
    """A failed compilation (no C compiler, missing headers) leaves the Python source."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any build failure: fall back, loudly
            warnings.warn(f"autograd_bp: the compiled node core was not built ({error}); "
                          "the pure-Python engine will run", stacklevel=1)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001
            warnings.warn(f"autograd_bp: {ext.name} was not compiled ({error}); "
                          "the pure-Python engine will run", stacklevel=1)


def compiled_extensions() -> list:
    if os.environ.get("AUTOGRAD_BP_PURE_BUILD", "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        warnings.warn("autograd_bp: mypy is not installed, so the node core is not compiled; "
                      "the pure-Python engine will run", stacklevel=1)
        return []
    try:
        # numpy may be missing from the build's environment: its types are Any here anyway
        extensions = mypycify(["--ignore-missing-imports", *COMPILED_MODULES], opt_level="3")
    except (Exception, SystemExit) as error:  # noqa: BLE001 - mypyc refused: fall back
        warnings.warn(f"autograd_bp: mypyc could not compile the node core ({error}); "
                      "the pure-Python engine will run", stacklevel=1)
        return []
    for extension in extensions:
        # The same IEEE results as the Python source: no fused multiply-add contractions.
        extension.extra_compile_args = [*extension.extra_compile_args, "-ffp-contract=off"]
    return extensions


setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": OptionalBuildExt})
