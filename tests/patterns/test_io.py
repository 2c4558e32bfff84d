import collections
import dataclasses
import json
import os
import pickle

import jax
import numpy as np
import pytest

from sparsediff.patterns import LeafSpec, SparsityPattern, Structure, load_pattern, save_pattern
from sparsediff.patterns.io import FORMAT_VERSION, MARKER_KEY


@pytest.fixture
def rich():
    treedef = jax.tree_util.tree_structure({"a": 1, "b": (2, 3)})
    inp = Structure(
        leaves=(
            LeafSpec(argnum=0, path="['a']", shape=(2, 3), dtype="float32"),
            LeafSpec(argnum=0, path="['b'][0]", shape=(), dtype="float64"),
            LeafSpec(argnum=1, path="", shape=(4,), dtype="float16"),
        ),
        argnums=(0, 1),
        treedef=treedef,
    )
    out = Structure(leaves=(LeafSpec(None, "", (3, 2), "float32"),))
    rng = np.random.default_rng(0)
    dense = rng.random((6, 11)) < 0.3
    return SparsityPattern.from_dense(dense, input_structure=inp, output_structure=out)


def test_round_trip_everything(tmp_path, rich):
    written = rich.save(tmp_path / "pat.npz")
    assert written == os.fspath(tmp_path / "pat.npz")
    back = SparsityPattern.load(written)
    assert back == rich
    assert back.shape == rich.shape
    np.testing.assert_array_equal(back.rows, rich.rows)
    np.testing.assert_array_equal(back.cols, rich.cols)
    assert back.rows.dtype == rich.rows.dtype
    assert back.input_structure == rich.input_structure
    assert back.output_structure == rich.output_structure
    assert back.input_structure.argnums == (0, 1)
    assert [leaf.dtype for leaf in back.input_structure.leaves] == ["float32", "float64", "float16"]
    assert back.input_structure.treedef == rich.input_structure.treedef
    assert back.output_structure.treedef is None
    assert back.locate_col(6) == (0, "['b'][0]", ())


def test_suffix_added(tmp_path, rich):
    written = save_pattern(rich, tmp_path / "noext")
    assert written.endswith("noext.npz") and os.path.exists(written)
    assert load_pattern(written) == rich
    assert load_pattern(tmp_path / "noext") == rich  # suffix also tried on load


def test_round_trip_empty_and_int64(tmp_path):
    for p in (
        SparsityPattern([], [], (0, 0)),
        SparsityPattern([], [], (3, 0)),
        SparsityPattern([1, 0], [2**31 + 1, 5], (2, 2**31 + 2)),
    ):
        back = load_pattern(save_pattern(p, tmp_path / "p"))
        assert back == p and back.rows.dtype == p.rows.dtype


def test_file_readable_without_pickle(tmp_path, rich):
    path = rich.save(tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as f:
        assert str(f[MARKER_KEY]) == "SparsityPattern"
        assert int(f["version"]) == FORMAT_VERSION
        spec = json.loads(str(f["structures"]))
        assert spec["input"]["argnums"] == [0, 1]
        assert f["input_treedef"].dtype == np.uint8


def test_unpicklable_treedef_is_omitted(tmp_path):
    class Local:  # a local class cannot be pickled
        pass

    inp = Structure((LeafSpec(0, "", (2,), "float32"),), treedef=Local())
    p = SparsityPattern([0], [1], (1, 2), input_structure=inp)
    back = load_pattern(p.save(tmp_path / "p"))
    assert back == p and back.input_structure == inp
    assert back.input_structure.treedef is None


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _valid_arrays(pattern):
    return {
        MARKER_KEY: np.array("SparsityPattern"),
        "version": np.array(FORMAT_VERSION),
        "shape": np.array(pattern.shape),
        "rows": np.asarray(pattern.rows),
        "cols": np.asarray(pattern.cols),
        "structures": np.array(
            json.dumps(
                {
                    "input": {
                        "argnums": None,
                        "leaves": [
                            {"argnum": None, "path": "", "shape": [pattern.n], "dtype": "float32"}
                        ],
                    },
                    "output": {
                        "argnums": None,
                        "leaves": [
                            {"argnum": None, "path": "", "shape": [pattern.m], "dtype": "float32"}
                        ],
                    },
                }
            )
        ),
    }


def test_hand_written_valid_file_loads(tmp_path):
    p = SparsityPattern([0, 2], [1, 0], (3, 2))
    assert load_pattern(_write_npz(tmp_path / "ok.npz", **_valid_arrays(p))) == p


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_pattern(tmp_path / "nope.npz")


def test_truncated_file(tmp_path, rich):
    path = rich.save(tmp_path / "p.npz")
    blob = open(path, "rb").read()
    for cut in (len(blob) // 2, len(blob) - 10, 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.npz"):
            load_pattern(bad)


def test_random_bytes(tmp_path):
    bad = tmp_path / "random.npz"
    bad.write_bytes(np.random.default_rng(1).bytes(500))
    with pytest.raises(ValueError, match="random.npz"):
        load_pattern(bad)


def test_pickle_file_is_not_executed(tmp_path):
    bad = tmp_path / "evil.npz"
    bad.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValueError, match="evil.npz"):
        load_pattern(bad)


def test_plain_npy_file(tmp_path):
    bad = tmp_path / "arr.npy"
    np.save(bad, np.arange(3))
    with pytest.raises(ValueError, match="arr.npy.*single"):
        load_pattern(bad)


def test_foreign_npz(tmp_path):
    bad = _write_npz(tmp_path / "foreign.npz", a=np.arange(3), b=np.ones(2))
    with pytest.raises(ValueError, match="foreign.npz.*not a sparsediff file"):
        load_pattern(bad)


def test_wrong_marker(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    arrays[MARKER_KEY] = np.array("ColoringResult")
    bad = _write_npz(tmp_path / "marker.npz", **arrays)
    with pytest.raises(ValueError, match="marker.npz.*'ColoringResult'"):
        load_pattern(bad)
    arrays[MARKER_KEY] = np.array([1, 2])
    bad = _write_npz(tmp_path / "marker2.npz", **arrays)
    with pytest.raises(ValueError, match="marker2.npz"):
        load_pattern(bad)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, 99])
def test_unsupported_version(tmp_path, version):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    arrays["version"] = np.array(version)
    bad = _write_npz(tmp_path / "ver.npz", **arrays)
    with pytest.raises(ValueError, match=f"ver.npz.*unsupported format version {version}"):
        load_pattern(bad)


def test_missing_version(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    del arrays["version"]
    with pytest.raises(ValueError, match="version"):
        load_pattern(_write_npz(tmp_path / "nover.npz", **arrays))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"rows": np.array([0, 1, 2])}, "rows has 3 entries but cols has 2"),
        ({"rows": np.array([0, 7])}, "row index 7"),
        ({"cols": np.array([0, -1])}, "column index -1"),
        ({"shape": np.array([3, 2, 1])}, "shape"),
        ({"rows": np.array([0.0, 1.0])}, "integer"),
        ({"structures": np.array("{not json")}, "structures"),
        ({"structures": np.array(1)}, "structures"),
        (
            {"structures": np.array(json.dumps({"input": {"argnums": None, "leaves": []}}))},
            "structures",
        ),
    ],
)
def test_inconsistent_content(tmp_path, change, match):
    arrays = _valid_arrays(SparsityPattern([0, 2], [1, 0], (3, 2)))
    arrays.update(change)
    bad = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=f"bad.npz.*{match}"):
        load_pattern(bad)


def test_missing_entry(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    del arrays["cols"]
    with pytest.raises(ValueError, match="missing entries.*cols"):
        load_pattern(_write_npz(tmp_path / "miss.npz", **arrays))


def test_structure_size_mismatch(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (3, 2)))
    arrays["shape"] = np.array([3, 5])
    with pytest.raises(ValueError, match="input_structure has size 2"):
        load_pattern(_write_npz(tmp_path / "size.npz", **arrays))


def test_bad_leaf_specs(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    spec = json.loads(str(arrays["structures"]))
    spec["input"]["leaves"][0]["shape"] = [-1]
    arrays["structures"] = np.array(json.dumps(spec))
    with pytest.raises(ValueError, match="leaf shape"):
        load_pattern(_write_npz(tmp_path / "leaf.npz", **arrays))


def test_unsorted_file_is_normalised(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0, 2], [1, 0], (3, 2)))
    arrays["rows"], arrays["cols"] = np.array([2, 0, 2]), np.array([0, 1, 0])
    back = load_pattern(_write_npz(tmp_path / "unsorted.npz", **arrays))
    assert back == SparsityPattern([0, 2], [1, 0], (3, 2))


def test_malicious_treedef_is_not_executed(tmp_path, rich):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + os.fspath(tmp_path / "pwned"),))

    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    arrays["input_treedef"] = np.frombuffer(pickle.dumps(Evil()), dtype=np.uint8)
    back = load_pattern(_write_npz(tmp_path / "evil.npz", **arrays))
    assert back.input_structure.treedef is None
    assert not (tmp_path / "pwned").exists()


def test_garbage_treedef_loads_as_none(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    arrays["output_treedef"] = np.arange(20, dtype=np.uint8)
    back = load_pattern(_write_npz(tmp_path / "junk.npz", **arrays))
    assert back.output_structure.treedef is None


Pair = collections.namedtuple("Pair", ["left", "right"])


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Params:
    w: jax.Array
    b: jax.Array


def test_treedef_with_custom_nodes_round_trips(tmp_path):
    tree = {
        "p": Params(w=1.0, b=2.0),
        "q": Pair(1, 2),
        "o": collections.OrderedDict(z=1, a=2),
        "d": collections.defaultdict(list, {"k": 1}),
    }
    treedef = jax.tree_util.tree_structure(tree)
    inp = Structure((LeafSpec(0, "", (6,), "float32"),), treedef=treedef)
    p = SparsityPattern([0], [5], (1, 6), input_structure=inp)
    back = load_pattern(p.save(tmp_path / "custom"))
    assert back.input_structure.treedef == treedef


# ---------------------------------------------------------------------- one clear error per case
def test_missing_file_message_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_pattern(tmp_path / "nope.npz")
    message = str(info.value)
    assert message == f"cannot load {str(tmp_path / 'nope.npz')!r} as a sparsediff sparsity " + (
        "pattern: no such file"
    )


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a directory, not a file") as info:
        SparsityPattern.load(tmp_path)
    assert "\n" not in str(info.value) and repr(str(tmp_path)) in str(info.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"row,col\n0,1\n", "it is a text file, not a .npz archive"),
        (b"", "the file is empty, not a .npz archive"),
        (pickle.dumps([1, 2]), "it is a Python pickle, not a .npz archive"),
        (bytes(range(200, 256)) * 4, "not a .npz archive (unrecognised binary content)"),
        (b"PK\x03\x04" + bytes(100), "corrupt or truncated .npz archive"),
    ],
)
def test_not_an_npz_never_advises_pickle(tmp_path, content, problem):
    bad = tmp_path / "thing.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_pattern(bad)
    message = str(info.value)
    assert problem in message and repr(str(bad)) in message
    assert "allow_pickle" not in message and "\n" not in message


def test_npz_with_an_object_array_is_not_unpickled(tmp_path):
    bad = tmp_path / "objects.npz"
    np.savez(bad, **{MARKER_KEY: np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickled Python objects, which are never loaded") as info:
        load_pattern(bad)
    assert "allow_pickle" not in str(info.value)


def test_plain_npy_message(tmp_path):
    bad = tmp_path / "arr.npy"
    np.save(bad, np.arange(3))
    with pytest.raises(ValueError) as info:
        load_pattern(bad)
    assert str(info.value).endswith("it is a single .npy array, not a .npz archive")


def test_saved_coloring_given_to_load_pattern(tmp_path):
    from sparsediff import color, save_coloring

    path = save_coloring(color(SparsityPattern([0, 1], [0, 1], (2, 2))), tmp_path / "c")
    with pytest.raises(ValueError, match="holds a saved coloring .*load it with") as info:
        load_pattern(path)
    assert "sparsediff.load_coloring" in str(info.value)


def test_newer_version_says_so(tmp_path):
    arrays = _valid_arrays(SparsityPattern([0], [0], (1, 1)))
    arrays["version"] = np.array(FORMAT_VERSION + 1)
    bad = _write_npz(tmp_path / "new.npz", **arrays)
    with pytest.raises(ValueError, match="written by a newer sparsediff"):
        load_pattern(bad)
