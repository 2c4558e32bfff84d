"""The project's differential fuzzer for sparsity detection and sparse derivatives.

``python -m benchmarks.fuzz --n 20000`` draws random JAX programs and compares what
sparsediff detects and evaluates with dense JAX AD. The pieces, one concept per module:

- :mod:`.catalog` and ``ops_*.py``: the ops (as data) by rule family;
- :mod:`.program`: a program as a DAG of op nodes, rendered to Python source;
- :mod:`.generate`: random programs from a seed;
- :mod:`.oracle`: dense derivatives at chosen points (ties, zeros, large values);
- :mod:`.errors`: the whitelist of deliberate exceptions;
- :mod:`.check`: the classification of one program;
- :mod:`.known`: the known-issue filter;
- :mod:`.shrink` and :mod:`.repro`: minimal standalone repros of failures;
- :mod:`.run` and ``__main__``: campaigns, tables and the command line.

``tests/fuzz/test_fuzz_quick.py`` runs a fixed-seed quick campaign in the test suite.
"""
