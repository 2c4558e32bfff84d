"""Plots of sparsity patterns and colorings (needs matplotlib: ``pip install "sparsediff[plot]"``).

matplotlib is imported only when a plot is drawn, so importing sparsediff does
not need it.
"""

from .spyplot import spy

__all__ = ["spy"]
