"""Simulators (one module per detector) and dataset I/O."""
