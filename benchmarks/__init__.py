"""Benchmarks of sparsediff against dense JAX, asdex, CasADi and splineax (see report.py)."""

import os

# Preparation times are measured from scratch: sparsediff's on-disk caches stay off unless a
# benchmark turns them on for its own child processes (benchmarks.nlp's warm runs).
os.environ["SPARSEDIFF_CACHE"] = "off"
