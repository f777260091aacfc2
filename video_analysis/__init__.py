"""Event-driven analysis of recorded job-interview answers."""

from .numerics import pin_blas_kernels as _pin_blas_kernels

__version__ = "0.1.0"

# Before anything imports numpy: the same matrix kernels on every host (``numerics.py``).
_pin_blas_kernels()
