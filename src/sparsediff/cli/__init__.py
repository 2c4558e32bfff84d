"""Command-line interface (``sparsediff ...`` / ``python -m sparsediff ...``)."""

from .main import main

__all__ = ["main"]
