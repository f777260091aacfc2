"""Event-driven analysis of recorded job-interview answers."""

__version__ = "0.1.0"
