import dataclasses

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from sparsediff.patterns import LeafSpec, SparsityPattern, Structure


@pytest.fixture
def two_leaves():
    return Structure(
        leaves=(
            LeafSpec(argnum=0, path="", shape=(2, 3), dtype="float32"),
            LeafSpec(argnum=1, path="['w']", shape=(4,), dtype="float64"),
        ),
        argnums=(0, 1),
    )


def test_leaf_size_and_normalisation():
    assert LeafSpec(None, "", (), "float32").size == 1
    assert LeafSpec(None, "", (2, 0, 3), "float32").size == 0
    leaf = LeafSpec(np.int64(1), "", [np.int32(2), 5], np.float64)
    assert leaf.argnum == 1 and type(leaf.argnum) is int
    assert leaf.shape == (2, 5) and all(type(d) is int for d in leaf.shape)
    assert leaf.dtype == "float64"
    with pytest.raises(ValueError):
        LeafSpec(None, "", (-1,), "float32")


def test_leafspec_is_frozen():
    leaf = LeafSpec(None, "", (3,), "float32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        leaf.path = "x"


def test_size_and_offsets(two_leaves):
    assert two_leaves.size == 10
    np.testing.assert_array_equal(two_leaves.offsets, [0, 6, 10])
    assert two_leaves.offsets.dtype == np.int64
    assert not two_leaves.offsets.flags.writeable


def test_locate_multi_leaf(two_leaves):
    assert two_leaves.locate(0) == (0, "", (0, 0))
    assert two_leaves.locate(4) == (0, "", (1, 1))
    assert two_leaves.locate(5) == (0, "", (1, 2))
    assert two_leaves.locate(6) == (1, "['w']", (0,))
    assert two_leaves.locate(np.int64(9)) == (1, "['w']", (3,))
    assert two_leaves.locate(np.uint8(7)) == (1, "['w']", (1,))
    _, _, idx = two_leaves.locate(np.int32(3))
    assert all(type(i) is int for i in idx)


@pytest.mark.parametrize("bad", [10, 11, -1, 10**20])
def test_locate_out_of_range(two_leaves, bad):
    with pytest.raises(IndexError, match="10"):
        two_leaves.locate(bad)


def test_locate_rejects_non_integers(two_leaves):
    with pytest.raises(TypeError):
        two_leaves.locate(1.0)


def test_locate_skips_empty_and_scalar_leaves():
    s = Structure(
        leaves=(
            LeafSpec(0, "[0]", (0,), "float32"),
            LeafSpec(0, "[1]", (), "float32"),
            LeafSpec(0, "[2]", (0, 4), "float32"),
            LeafSpec(0, "[3]", (2,), "float32"),
        )
    )
    assert s.size == 3
    assert s.locate(0) == (0, "[1]", ())
    assert s.locate(1) == (0, "[3]", (0,))
    assert s.locate(2) == (0, "[3]", (1,))


def test_locate_matches_ravel_pytree():
    tree = {"a": jnp.zeros((2, 3)), "b": (jnp.zeros(4), jnp.zeros((2, 2)))}
    flat, _ = jax.flatten_util.ravel_pytree(tree)
    keyed, _ = jax.tree_util.tree_flatten_with_path(tree)
    s = Structure(
        leaves=tuple(
            LeafSpec(0, jax.tree_util.keystr(p), leaf.shape, leaf.dtype.name) for p, leaf in keyed
        ),
        argnums=(0,),
    )
    assert s.size == flat.size
    # Tag every scalar with its flat position and check locate() finds it again.
    tagged = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(tree),
        [
            np.arange(int(o), int(o) + leaf.size).reshape(leaf.shape)
            for o, leaf in zip(s.offsets[:-1], s.leaves, strict=True)
        ],
    )
    lookup = {
        jax.tree_util.keystr(p): np.asarray(v)
        for p, v in jax.tree_util.tree_flatten_with_path(tagged)[0]
    }
    for k in range(s.size):
        argnum, path, idx = s.locate(k)
        assert argnum == 0
        assert lookup[path][idx] == k


def test_flat_structure():
    s = Structure.flat(7)
    assert s.size == 7
    assert s.leaves == (LeafSpec(None, "", (7,), "float32"),)
    assert s.argnums is None and s.treedef is None
    assert s.locate(6) == (None, "", (6,))
    assert Structure.flat(3, dtype=np.float64).leaves[0].dtype == "float64"
    assert Structure.flat(0).size == 0


def test_equality_ignores_treedef(two_leaves):
    td = jax.tree_util.tree_structure({"a": 1})
    other = Structure(two_leaves.leaves, two_leaves.argnums, treedef=td)
    assert other == two_leaves
    assert hash(other) == hash(two_leaves)
    assert Structure(two_leaves.leaves, (0, 2)) != two_leaves


def test_pattern_locate_delegates(two_leaves):
    out = Structure((LeafSpec(None, "['y']", (3,), "float32"),))
    p = SparsityPattern([0, 2], [1, 9], (3, 10), input_structure=two_leaves, output_structure=out)
    assert p.locate_col(9) == (1, "['w']", (3,))
    assert p.locate_row(2) == (None, "['y']", (2,))
    with pytest.raises(IndexError):
        p.locate_col(10)
    with pytest.raises(IndexError):
        p.locate_row(3)
    assert p.T.locate_row(7) == (1, "['w']", (1,))
    assert p.T.locate_col(0) == (None, "['y']", (0,))
