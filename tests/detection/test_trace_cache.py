"""Traces are reused as ``jax.jit`` reuses them: same function object, same
signature, same configuration; anything else traces again."""

from __future__ import annotations

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsediff as sd
from sparsediff.detection import trace_cache


@pytest.fixture(autouse=True)
def _empty_cache():
    trace_cache.clear()
    yield
    trace_cache.clear()


def counting(body):
    calls = []

    def f(*args, **kwargs):
        calls.append(1)
        return body(*args, **kwargs)

    return f, calls


def test_same_function_and_signature_traces_once():
    f, calls = counting(lambda x, scale=1.0: jnp.sin(x) * scale)
    x = np.ones(4, np.float32)
    p1 = sd.jacobian_sparsity(f, x)
    p2 = sd.jacobian_sparsity(f, np.zeros(4, np.float32))  # other values, same signature
    assert len(calls) == 1
    assert p1 == p2
    sd.hessian_sparsity(lambda x: jnp.sum(f(x)), x)  # another function object
    assert len(calls) == 2


def test_a_new_signature_or_static_value_traces_again():
    f, calls = counting(lambda x, mode="a": x * 2 if mode == "a" else x[::-1])
    sd.jacobian_sparsity(f, np.ones(4, np.float32))
    sd.jacobian_sparsity(f, np.ones(5, np.float32))  # shape
    sd.jacobian_sparsity(f, np.ones(4, np.int32).astype(np.float16))  # dtype
    assert len(calls) == 3
    p = sd.jacobian_sparsity(f, np.ones(4, np.float32), mode="b")  # static kwarg
    assert len(calls) == 4
    np.testing.assert_array_equal(p.todense(), np.eye(4, dtype=bool)[::-1])
    sd.jacobian_sparsity(f, (np.ones(4, np.float32),)[0], mode="b")
    assert len(calls) == 4


def test_equal_static_values_of_another_type_trace_again():
    f, calls = counting(lambda x, k=1: x * 2 if isinstance(k, bool) else x[::-1])
    a = sd.jacobian_sparsity(f, np.ones(3, np.float32), k=1)
    b = sd.jacobian_sparsity(f, np.ones(3, np.float32), k=True)  # 1 == True, other type
    assert len(calls) == 2
    assert a != b


def test_jacobian_and_hessian_are_separate_entries():
    f, calls = counting(lambda x: jnp.sum(x**3))
    x = np.ones(3, np.float32)
    j = sd.jacobian_sparsity(f, x)
    h = sd.hessian_sparsity(f, x)
    assert j.shape == (1, 3) and h.shape == (3, 3)
    sd.hessian_sparsity(f, x)
    sd.jacobian_sparsity(f, x)
    assert len(calls) == 2


def test_configuration_changes_trace_again():
    f, calls = counting(lambda x: x * 2)
    x = np.ones(3)
    assert sd.jacobian_sparsity(f, x).input_structure.leaves[0].dtype == "float32"
    with jax.enable_x64(True):
        assert sd.jacobian_sparsity(f, x).input_structure.leaves[0].dtype == "float64"
    assert len(calls) == 2


def test_unhashable_static_values_and_bound_methods_are_traced_each_time():
    f, calls = counting(lambda x, opts=None: x * len(opts))
    x = np.ones(3, np.float32)
    sd.jacobian_sparsity(f, x, opts={1, 2})  # a set: an unhashable leaf
    sd.jacobian_sparsity(f, x, opts={1, 2})  # a set: an unhashable leaf
    assert len(calls) == 2

    class Model:
        def __init__(self):
            self.calls = 0

        def residual(self, x):
            self.calls += 1
            return x * 2

    m = Model()
    sd.jacobian_sparsity(m.residual, x)
    sd.jacobian_sparsity(m.residual, x)  # a new bound-method object each time
    assert m.calls == 2


def test_an_entry_goes_with_its_function():
    def make():
        return lambda x: x * 2

    f = make()
    sd.jacobian_sparsity(f, np.ones(3, np.float32))
    assert len(trace_cache._ENTRIES) == 1
    del f
    gc.collect()
    assert len(trace_cache._ENTRIES) == 0


def test_sizes_are_bounded(monkeypatch):
    monkeypatch.setattr(trace_cache, "PER_FUNCTION", 2)
    monkeypatch.setattr(trace_cache, "MAX_FUNCTIONS", 3)
    f, calls = counting(lambda x: x * 2)
    for n in (2, 3, 4, 2):
        sd.jacobian_sparsity(f, np.ones(n, np.float32))
    assert len(calls) == 4  # n = 2 was evicted by n = 4
    keep = [lambda x: x + 1 for _ in range(5)]
    for g in keep:
        sd.jacobian_sparsity(g, np.ones(2, np.float32))
    assert len(trace_cache._ENTRIES) == 3


def test_errors_are_not_cached():
    state = {"fail": True}

    def f(x):
        if state["fail"]:
            raise ValueError("not yet")
        return x * 2

    with pytest.raises(ValueError, match="not yet"):
        sd.jacobian_sparsity(f, np.ones(2, np.float32))
    state["fail"] = False
    assert sd.jacobian_sparsity(f, np.ones(2, np.float32)).nnz == 2


def _counting_concrete(monkeypatch):
    """Count the equations detection evaluates concretely (constant folding)."""
    from sparsediff.detection.interpreter import Interpreter

    seen = []
    original = Interpreter._try_concrete

    def spy(self, eqn, invals, out_avals):
        seen.append(eqn.primitive.name)
        return original(self, eqn, invals, out_avals)

    monkeypatch.setattr(Interpreter, "_try_concrete", spy)
    return seen


def _loop(x):
    mu = jnp.linspace(0.5, 9.0, 5)
    acc = 0.0
    for k in range(5):
        a = jnp.sin(mu[k]) / (mu[k] + 1.0)  # constants only: folded
        acc = acc + a * jnp.exp(-mu[k] * x[0]) + (k == 2) * 0.0 * x[1]
    return jnp.stack([acc, x[0] * x[1]])


def test_constant_folding_is_kept_with_the_trace(monkeypatch):
    seen = _counting_concrete(monkeypatch)
    x = np.ones(2, np.float32)
    p1 = sd.jacobian_sparsity(_loop, x)
    first = len(seen)
    assert first > 20  # mu[k], sin, div, ... of every iteration
    p2 = sd.jacobian_sparsity(_loop, x)
    assert len(seen) == first  # the second interpretation reads them back
    assert p1 == p2
    assert p1 == sd.SparsityPattern.from_dense(np.asarray(jax.jacfwd(_loop)(x + 0.3)) != 0)


def test_constant_folding_is_per_detection_options():
    x = np.ones(2, np.float32)
    p = sd.jacobian_sparsity(_loop, x)
    assert (0, 1) not in set(zip(p.rows.tolist(), p.cols.tolist()))  # 0.0 * x[1] folded
    with sd.detection_options(known_value_limit=0):  # nothing may be known
        q = sd.jacobian_sparsity(_loop, x)
    # not read from the default options' store: the zero is no longer seen, a
    # sound extra entry
    assert (0, 1) in set(zip(q.rows.tolist(), q.cols.tolist()))
    (stores,) = trace_cache._FOLDED.values()
    assert len(stores) == 2
    assert sd.jacobian_sparsity(_loop, x) == p


def test_folded_values_are_read_only_and_go_with_the_trace():
    x = np.ones(2, np.float32)

    def f(y):
        return _loop(y)

    sd.jacobian_sparsity(f, x)
    (closed,) = [c for c in list(trace_cache._FOLDED.keys())]
    stores = trace_cache._FOLDED[closed]
    values = [k for store in stores.values() for ks in store.values() for k in ks]
    arrays = [v for v in values if isinstance(v, np.ndarray)]
    assert arrays and not any(a.flags.writeable for a in arrays)
    del closed, stores
    del f
    gc.collect()
    assert len(trace_cache._FOLDED) == 0


def test_a_reused_trace_sees_the_values_of_its_first_trace():
    """A numpy array the function closes over and the caller changes afterwards: as
    under jax.jit, the reused trace keeps the first values, for the folded constants
    and the others alike (no mix of old and new)."""
    mask = np.zeros(3, np.float32)

    def f(x):
        doubled = jnp.asarray(mask) * 2.0  # constants only: folded
        return x * doubled + x * jnp.asarray(mask)

    x = np.ones(3, np.float32)
    assert sd.jacobian_sparsity(f, x).nnz == 0
    mask[1] = 1.0
    assert sd.jacobian_sparsity(f, x).nnz == 0  # the first trace's values
    assert np.asarray(jax.jit(f)(x)).tolist() == [0.0, 3.0, 0.0]  # jit traces anew
    trace_cache.clear()
    assert sd.jacobian_sparsity(f, x).nnz == 1  # a new trace reads the new values


def test_only_small_folded_values_are_kept():
    from sparsediff.detection.interpreter import FOLD_MAX_ELEMENTS

    big = FOLD_MAX_ELEMENTS + 1

    def f(x):
        idx = jnp.arange(big) % 3  # a large constant: computed again, not kept
        return x[idx[:4]] * jnp.sin(jnp.float32(0.5))

    sd.jacobian_sparsity(f, np.ones(3, np.float32))
    (stores,) = trace_cache._FOLDED.values()
    sizes = [np.size(k) for store in stores.values() for ks in store.values() for k in ks]
    assert sizes and max(sizes) <= FOLD_MAX_ELEMENTS
