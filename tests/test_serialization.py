"""tapegrad.save / tapegrad.load: round trips, safetensors interop, errors, atomic writes."""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import _atomic

SRC = Path(__file__).resolve().parents[1] / "src"


def assert_same(a, b):
    """Deep equality that also checks container types, Tensor vs ndarray and dtypes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.data, b._array)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (np.isnan(a) and np.isnan(b)))
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_round_trip_nested(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "model": {
            "fc.weight": tg.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
            "fc.bias": tg.tensor(rng.standard_normal(4)),
            "steps": tg.tensor(np.array(7, dtype=np.int64)),
            "mask": tg.tensor(rng.random(5) > 0.5),
            "half": tg.tensor(rng.standard_normal(3).astype(np.float16)),
        },
        "param": tg.randn(2, 2, requires_grad=True),
        "arrays": [
            rng.integers(0, 255, (2, 5), dtype=np.uint8),
            np.zeros((0, 3), np.float32),
            np.array(2.5),
            np.arange(24.0).reshape(4, 6)[::2, 1::2],  # not contiguous
            np.asfortranarray(rng.standard_normal((3, 4))),
            np.array([1 + 2j], dtype=np.complex64),
        ],
        "scalars": (np.float32(1.5), np.int16(-3), np.bool_(True)),
        "plain": [
            1,
            -(2**70),
            0.1,
            float("inf"),
            float("nan"),
            "héllo ☃",
            True,
            False,
            None,
            [],
            {},
            (),
        ],
        0: "int key",
        "empty": {"x": []},
    }
    path = tmp_path / "ckpt.safetensors"
    tg.save(obj, path)
    back = tg.load(path)
    assert_same(back, obj)
    assert type(back["scalars"][0]) is np.float32
    assert back["arrays"][3].flags.c_contiguous


def test_round_trip_single_tensor_and_str_path(tmp_path):
    t = tg.arange(6).reshape(2, 3)
    tg.save(t, str(tmp_path / "t.st"))
    assert_same(tg.load(str(tmp_path / "t.st")), t)


def test_colliding_dotted_names_are_kept_apart(tmp_path):
    a, b = tg.ones(2), tg.zeros(2)
    obj = {"a.b": a, "a": {"b": b}}
    tg.save(obj, tmp_path / "c.st")
    assert_same(tg.load(tmp_path / "c.st"), obj)


plain_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
small_arrays = st.builds(
    lambda shape, dt, seed: np.random.default_rng(seed).standard_normal(shape).astype(dt),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
    st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]),
    st.integers(0, 1000),
)
leaves = st.one_of(plain_values, small_arrays, small_arrays.map(tg.tensor))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 9)), children, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None)
@given(trees)
def test_round_trip_random_trees(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("h") / "x.st"
    tg.save(obj, path)
    assert_same(tg.load(path), obj)


# ------------------------------------------------------------------ interop with PyTorch
def test_state_dict_file_is_plain_safetensors_for_torch(tmp_path):
    lin = torch.nn.Linear(5, 3)
    sd = {k: tg.tensor(v.detach().numpy().copy()) for k, v in lin.state_dict().items()}
    sd["extra.running_mean"] = tg.tensor(np.arange(3.0))
    path = tmp_path / "model.safetensors"
    tg.save(sd, path)
    loaded = safetensors.torch.load_file(path)
    assert set(loaded) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(loaded[k].numpy(), v._array)
        assert loaded[k].numpy().dtype == v.dtype
    # a torch module takes it directly
    lin2 = torch.nn.Linear(5, 3)
    lin2.load_state_dict({k: v for k, v in loaded.items() if not k.startswith("extra")})
    x = torch.randn(2, 5)
    torch.testing.assert_close(lin2(x), lin(x))


def test_torch_safetensors_file_loads_as_dict_of_tensors(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    sd["counter"] = torch.tensor([3, 4], dtype=torch.int64)
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(sd, path, metadata={"format": "pt"})
    back = tg.load(path)
    assert set(back) == set(sd)
    for k, v in sd.items():
        assert isinstance(back[k], tg.Tensor)
        assert back[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(back[k]._array, v.numpy())


def test_torch_bfloat16_gives_clear_error(tmp_path):
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": torch.ones(3, dtype=torch.bfloat16)}, path)
    with pytest.raises(ValueError, match=r"bf16\.safetensors.*'w'.*BF16.*float32"):
        tg.load(path)


# ------------------------------------------------------------------ errors
def test_load_missing_file_names_path(tmp_path):
    p = tmp_path / "nope" / "ckpt.safetensors"
    with pytest.raises(FileNotFoundError, match=re_path(p)):
        tg.load(p)


def re_path(p: Path) -> str:
    import re

    return re.escape(str(p))


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", r"0 bytes long"),
        (b"\x01\x02", r"2 bytes long"),
        (b"hello, this is a text file and not a checkpoint", r"header length of \d+ bytes"),
        (b"PK\x03\x04" + b"\0" * 100, r"zip archive"),
        (struct.pack("<Q", 5) + b"{abc}", r"not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", r"not a JSON object"),
    ],
)
def test_load_not_a_safetensors_file(tmp_path, content, what):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=re_path(p) + r".*" + what):
        tg.load(p)


def test_load_inconsistent_safetensors_header(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    p = tmp_path / "short.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)  # 8 of 16 data bytes
    with pytest.raises(ValueError, match=re_path(p) + r".*not a valid safetensors file"):
        tg.load(p)


def test_load_damaged_structure_metadata(tmp_path):
    p = tmp_path / "damaged.safetensors"
    safetensors.numpy.save_file(
        {"a": np.ones(2)}, p, metadata={"tapegrad.format": "1", "tapegrad.structure": "{oops"}
    )
    with pytest.raises(ValueError, match=re_path(p) + r".*tapegrad.structure.*not valid JSON"):
        tg.load(p)
    safetensors.numpy.save_file(
        {"a": np.ones(2)},
        p,
        metadata={"tapegrad.format": "1", "tapegrad.structure": '{"ndarray": "zzz"}'},
    )
    with pytest.raises(ValueError, match=r"refers to a tensor 'zzz'"):
        tg.load(p)


@pytest.mark.parametrize(
    "obj, key, typ",
    [
        ({"a": {"b": [1, 2, {3}]}}, r"'a\.b\.2'", "set"),
        ({"opt": {"lr": 1e-3, "fn": print}}, r"'opt\.fn'", "builtin_function_or_method"),
        ([object()], r"'0'", "object"),
        (object(), "<root>", "object"),
        ({"x": {(1, 2): 3}}, r"'x'", "tuple"),
        ({"c": np.zeros(2, np.complex128)}, r"'c'", "complex128"),
        ({"s": np.array(["a", "b"])}, r"'s'", "<U1"),
        ({"o": np.array([None, 1], dtype=object)}, r"'o'", "object"),
    ],
)
def test_save_unsupported_names_key_path_and_type(tmp_path, obj, key, typ):
    p = tmp_path / "x.st"
    with pytest.raises(TypeError, match=rf"{key}.*{typ}|{typ}.*{key}"):
        tg.save(obj, p)
    assert not p.exists()
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re_path(tmp_path / "no")):
        tg.save({"a": 1}, tmp_path / "no" / "x.st")


# ------------------------------------------------------------------ atomic writes
def test_save_replaces_and_failed_save_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "ckpt.st"
    tg.save({"v": tg.ones(3)}, p)
    tg.save({"v": tg.zeros(3)}, p)  # replaces
    np.testing.assert_array_equal(tg.load(p)["v"]._array, np.zeros(3))

    def half_then_die(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\x10\0\0\0\0\0\0\0{partial")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(safetensors.numpy, "save_file", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"v": tg.full((3,), 5.0)}, p)
    assert os.listdir(tmp_path) == ["ckpt.st"]  # the temporary file was removed
    np.testing.assert_array_equal(tg.load(p)["v"]._array, np.zeros(3))


def test_atomic_helpers(tmp_path):
    p = tmp_path / "f.txt"
    _atomic.atomic_write_bytes(p, b"one")
    with _atomic.atomic_open(p, "w") as f:
        f.write("two")
    assert p.read_text() == "two"
    with pytest.raises(RuntimeError), _atomic.atomic_open(p, "w") as f:
        f.write("three")
        raise RuntimeError("boom")
    assert p.read_text() == "two" and os.listdir(tmp_path) == ["f.txt"]
    # the usual permissions (umask applied), not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~umask)
    with pytest.raises(ValueError, match="mode"):
        _atomic.atomic_open(p, "a").__enter__()


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tapegrad as tg

    path = sys.argv[1]
    step = int(sys.argv[2])
    w = np.empty(6_000_000, np.float32)  # 24 MB: a save takes tens of ms
    while True:
        step += 1
        w.fill(step)
        print(f"start {step}", flush=True)
        tg.save({"step": step, "w": w, "t": tg.full((4,), float(step))}, path)
        print(f"done {step}", flush=True)
    """
)


def _check_checkpoint(path: Path, possible: set[int]) -> int:
    obj = tg.load(path)
    step = obj["step"]
    assert step in possible, (step, possible)
    assert obj["w"].shape == (6_000_000,)
    assert (obj["w"] == step).all()  # the whole array is from one save
    np.testing.assert_array_equal(obj["t"]._array, np.full(4, step, np.float32))
    return step


def test_sigkill_mid_save_leaves_old_or_new_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    tg.save({"step": 0, "w": np.zeros(6_000_000, np.float32), "t": tg.zeros(4)}, path)
    last, interrupted = 0, set()
    for round_ in range(4):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(last)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        done = last
        # let it complete a save or two, then kill it right after a new save starts
        target = 2 + round_ % 2
        started = None
        for line in proc.stdout:
            kind, k = line.split()
            if kind == "done":
                done = int(k)
            elif kind == "start" and int(k) > last + target - 1:
                started = int(k)
                break
        time.sleep(0.002 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # lines the child printed before it died but we had not read yet (a busy machine)
        for line in proc.stdout.read().split("\n"):
            if line:
                kind, k = line.split()
                done = int(k) if kind == "done" else done
                started = int(k) if kind == "start" else started
        proc.stdout.close()
        # the file is the last completed save or, if the rename won the race, the one started
        last = _check_checkpoint(path, {done, started})
        leftovers = {n for n in os.listdir(tmp_path) if n not in ("ckpt.safetensors", "child.py")}
        # everything half-written lives in the writer's temporary folder, never at `path`
        assert all(n.startswith(".ckpt.safetensors" + _atomic.TEMP_MARKER) for n in leftovers), (
            leftovers
        )
        interrupted.update(leftovers)
    assert last >= 4
    # at least one kill landed inside a write (its temporary folder stayed behind)
    assert interrupted
    # the next save removes the dead writers' leftovers
    tg.save({"step": -1}, path)
    assert sorted(os.listdir(tmp_path)) == ["child.py", "ckpt.safetensors"]
    assert tg.load(path) == {"step": -1}
