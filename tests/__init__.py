# The package first: it picks the BLAS kernels before anything loads numpy (numerics.py).
import video_analysis  # noqa: F401
