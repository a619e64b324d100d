"""Canonical bytes: determinism, interoperability with safetensors, bad input."""

import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.torch as st
import torch
from safetensors import safe_open

from poft.commitment import (
    CommitmentError,
    CorruptModel,
    NonFiniteParameters,
    canonical_bytes,
    canonicalize,
    check_finite,
    load_canonical,
    merkle_root,
    read_layout,
)

# Built the same way here and in a child process (see test_same_root_in_another_process).
MODEL_SRC = textwrap.dedent(
    """
    import torch
    def make_state(reverse=False):
        torch.manual_seed(1234)
        m = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.Flatten(), torch.nn.Linear(4 * 26 * 26, 10))
        m.train()
        m(torch.randn(8, 1, 28, 28))  # updates BatchNorm running stats
        s = m.state_dict()
        items = list(s.items())
        return dict(reversed(items) if reverse else items)
    """
)
namespace: dict = {}
exec(MODEL_SRC, namespace)
make_state = namespace["make_state"]


def test_same_bytes_for_same_parameters_in_this_process():
    a, b = make_state(), make_state(reverse=True)
    assert list(a) != list(b)  # different insertion order...
    assert canonical_bytes(a) == canonical_bytes(b)  # ...same bytes


def test_same_root_in_another_process():
    child = MODEL_SRC + textwrap.dedent(
        """
        from poft.commitment import canonical_bytes, merkle_root
        blob = canonical_bytes(make_state(reverse=True))
        print(merkle_root(blob).hex(), len(blob))
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    blob = canonical_bytes(make_state())
    assert out.stdout.split() == [merkle_root(blob).hex(), str(len(blob))]


def test_format_is_pinned_by_a_golden_hash():
    # If this fails, the canonical format changed: every committed root changes with it.
    state = {
        "w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "b": torch.tensor([0.5, -1.0]),
        "n": torch.tensor(7),
        "mask": torch.tensor([True, False, True]),
    }
    blob = canonical_bytes(state)
    hlen = struct.unpack("<Q", blob[:8])[0]
    assert blob[8 : 8 + hlen] == (
        b'{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},'
        b'"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},'
        b'"w":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]},'
        b'"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[40,43]}} '  # padded to 8
    )
    assert hashlib.sha256(blob).hexdigest() == GOLDEN_SHA256


GOLDEN_SHA256 = "c10c5cd9b9b90a89225a7a7ab27b6c3514526263f2d8a10ab65af87de4fe8dad"


def test_dtypes_are_fixed_and_views_do_not_matter():
    base = torch.randn(3, 5)
    a = {"x": base, "i": torch.tensor([1, 2], dtype=torch.int32), "h": base.double()}
    b = {"x": base.t().contiguous().t(), "i": torch.tensor([1, 2]), "h": base.clone()}
    assert not b["x"].is_contiguous()
    assert canonical_bytes(a) == canonical_bytes(b)
    # requires_grad, float16 source and numpy input are all accepted
    c = {"x": torch.nn.Parameter(base.clone()), "i": np.array([1, 2], dtype=np.uint8), "h": base.clone()}
    assert canonical_bytes(c) == canonical_bytes(a)
    loaded = load_canonical(canonical_bytes(a))
    assert loaded["i"].dtype == torch.int64 and loaded["h"].dtype == torch.float32


def test_noncontiguous_tensor_serializes_its_values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    view = base.t()  # non-contiguous
    assert torch.equal(load_canonical(canonical_bytes({"v": view}))["v"], view)


def test_round_trip_keeps_values_and_buffers():
    state = make_state()
    state["flags"] = torch.tensor([True, False])
    state["empty"] = torch.zeros(0, 3)
    state["scalar"] = torch.tensor(3.5)
    loaded = load_canonical(canonical_bytes(state))
    assert list(loaded) == sorted(state)
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name
    assert loaded["1.num_batches_tracked"].dtype == torch.int64
    loaded["4.bias"] += 1  # decoded tensors are ordinary writable tensors


def test_stock_safetensors_reads_and_writes_the_same_bytes(tmp_path):
    state = make_state()
    state["flags"] = torch.tensor([True])
    blob = canonical_bytes(state)
    # the library itself writes byte-identical output for the canonicalized dict
    assert st.save(canonicalize(state)) == blob
    # and reads it, from memory and through mmap (alignment preserved)
    path = tmp_path / "m.safetensors"
    path.write_bytes(blob)
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            assert torch.equal(f.get_tensor(name), state[name])


def _mutate_header(blob: bytes, fn) -> bytes:
    hlen = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + hlen])
    text = json.dumps(fn(header), separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob[8 + hlen :]


@pytest.mark.parametrize(
    "cut, message",
    [(0, "truncated safetensors blob: 0 bytes"), (5, "truncated safetensors blob: 5 bytes"),
     (40, "truncated safetensors header: expected"), (-1, "truncated tensor data")],
)
def test_truncated_blob_is_corrupt(cut, message):
    blob = canonical_bytes(make_state())
    with pytest.raises(CorruptModel, match=message):
        load_canonical(blob[:cut])


def test_truncated_header_message_gives_both_sizes():
    blob = canonical_bytes(make_state())
    hlen = struct.unpack("<Q", blob[:8])[0]
    with pytest.raises(CorruptModel, match=f"expected {hlen} bytes, got 32"):
        load_canonical(blob[:40])


@pytest.mark.parametrize("garbage", [b"\x00" * 64, os.urandom(4096), b"hello world, not a model" * 10,
                                     struct.pack("<Q", 8) + b"not json"])
def test_garbage_is_corrupt(garbage):
    with pytest.raises(CorruptModel):
        load_canonical(garbage)


def test_trailing_bytes_are_refused():
    with pytest.raises(CorruptModel, match="trailing"):
        load_canonical(canonical_bytes(make_state()) + b"\x00")


def test_non_canonical_safetensors_are_refused():
    state = {"a": torch.ones(2), "b": torch.zeros(3)}
    with pytest.raises(CorruptModel, match="dtype 'F16'"):
        load_canonical(st.save({"a": torch.ones(2, dtype=torch.float16)}))
    with pytest.raises(CorruptModel, match="__metadata__"):
        load_canonical(st.save(state, metadata={"time": "now"}))
    # a valid safetensors file whose tensors are stored out of canonical order
    blob = canonical_bytes(state)

    def swap(header):
        a, b = header["a"]["data_offsets"], header["b"]["data_offsets"]
        header["b"]["data_offsets"] = [0, b[1] - b[0]]
        header["a"]["data_offsets"] = [b[1] - b[0], b[1] - b[0] + a[1] - a[0]]
        return {"b": header["b"], "a": header["a"]}

    reordered = _mutate_header(blob, swap)
    st.load(reordered)  # safetensors itself accepts it
    with pytest.raises(CorruptModel, match="not canonical"):
        load_canonical(reordered)


def test_inconsistent_offsets_are_refused():
    blob = canonical_bytes({"a": torch.ones(4)})

    def bad(header):
        header["a"]["shape"] = [5]
        return header

    with pytest.raises(CorruptModel, match="needs 20"):
        read_layout(_mutate_header(blob, bad))


def test_unsupported_state_values_are_refused_with_a_reason():
    with pytest.raises(TypeError, match="complex"):
        canonical_bytes({"c": torch.ones(2, dtype=torch.complex64)})
    with pytest.raises(TypeError, match="keys must be str"):
        canonical_bytes({1: torch.ones(2)})
    with pytest.raises(TypeError, match="expected a torch.Tensor"):
        canonical_bytes({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="reserved"):
        canonical_bytes({"__metadata__": torch.ones(1)})


def test_check_finite_names_the_tensor():
    state = make_state()
    check_finite(state)
    state["4.weight"] = state["4.weight"].clone()
    state["4.weight"][0, 0] = float("nan")
    state["0.bias"] = state["0.bias"].clone()
    state["0.bias"][1] = float("inf")
    with pytest.raises(NonFiniteParameters, match="'4.weight' has 1 NaN") as info:
        check_finite(state)
    assert info.value.tensors == ["0.bias", "4.weight"]
    assert isinstance(info.value, CommitmentError) and isinstance(info.value, ValueError)
