"""The argument model: one place decides leaves, statics, dtypes and selection."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsediff.arguments import AuxSplit, CallModel, Signature, canonical_spec, normalize_argnums


def test_dtypes_are_canonicalised_like_jit():
    assert canonical_spec(np.zeros(3, np.float64)).dtype == jax.dtypes.canonicalize_dtype(
        np.float64
    )
    assert canonical_spec(np.zeros(3, np.float64)).dtype == jnp.float32  # x64 off in the tests
    spec = canonical_spec(2.0)
    assert spec.shape == () and spec.weak_type
    assert Signature.of((np.zeros(4),), {}) == Signature.of((jnp.zeros(4),), {})
    assert Signature.of((np.zeros(4, np.float16),), {}) != Signature.of((jnp.zeros(4),), {})


def test_keyword_leaves_split_into_traced_and_static():
    kwargs = {"w": jnp.ones(2), "opts": {"kind": "cube", "n": 3, "scale": np.ones(1)}}
    model = CallModel.of((jnp.ones(3),), kwargs)
    traced = [x for x, t in zip(model.kw_leaves, model.kw_traced) if t]
    static = [x for x, t in zip(model.kw_leaves, model.kw_traced) if not t]
    assert [np.shape(x) for x in traced] == [(1,), (2,)]  # leaves in key order
    assert static == ["cube", 3]
    rebuilt = model.kwargs_with([jnp.zeros(1), jnp.zeros(2)])
    assert rebuilt["opts"]["kind"] == "cube" and rebuilt["opts"]["n"] == 3
    assert rebuilt["w"].shape == (2,)


def test_static_values_change_the_signature_but_not_the_arrays():
    a = Signature.of((jnp.ones(3),), {"kind": "sq"})
    b = Signature.of((jnp.ones(3),), {"kind": "cube"})
    assert a != b and a.same_arrays(b)
    assert "static" in a.describe_mismatch(b)


def test_selection_and_column_order():
    args = ({"b": jnp.ones((2, 2)), "a": jnp.ones(3)}, jnp.ones(2), jnp.ones(5))
    model = CallModel.of(args, {}, argnums=(2, 0))
    assert model.argnums == (2, 0) and not model.single
    assert model.n == 5 + 3 + 4
    assert [leaf.path for leaf in model.in_structure.leaves] == ["", "['a']", "['b']"]
    # traced leaves: arg0's two leaves, arg1, arg2 -> positions 3 (arg 2), then 0 and 1
    assert model.selected_positions() == [(3, 0), (0, 5), (1, 8)]


@pytest.mark.parametrize(
    "argnums, error",
    [(True, TypeError), ("0", TypeError), ((), ValueError), (3, ValueError), ((0, 0), ValueError)],
)
def test_bad_argnums(argnums, error):
    with pytest.raises(error):
        normalize_argnums(argnums, 2)


def test_selected_dtypes_follow_jacfwd():
    with pytest.raises(TypeError, match="int32"):
        CallModel.of((jnp.arange(3),), {})
    with pytest.raises(TypeError, match="holomorphic=True"):
        CallModel.of((jnp.ones(3, jnp.complex64),), {})
    with pytest.raises(TypeError, match="needs complex inputs"):
        CallModel.of((jnp.ones(3),), {}, holomorphic=True)
    assert CallModel.of((jnp.ones(3, jnp.complex64),), {}, holomorphic=True).n == 3


def test_strings_are_refused_as_positional_leaves():
    with pytest.raises(TypeError, match="keyword arguments"):
        CallModel.of((jnp.ones(3), "cube"), {})


def test_aux_split_keeps_non_array_leaves_outside():
    split = AuxSplit()
    arrays = split.strip({"name": "abc", "n": 3, "arr": jnp.ones(2), "none": None})
    assert len(arrays) == 1
    out = split.join([jnp.zeros(2)])
    assert out["name"] == "abc" and out["n"] == 3 and out["none"] is None
    assert np.array_equal(out["arr"], np.zeros(2))
