"""commit / commit_bytes / open_model: binding, opening, and each refusal."""

import pytest
import torch

from poft.commitment import (
    Architecture,
    ArchitectureMismatch,
    CommitmentError,
    CommitmentMismatch,
    CorruptModel,
    ModelCommitment,
    NonFiniteParameters,
    architecture_fingerprint,
    canonical_bytes,
    commit,
    commit_bytes,
    describe_architecture,
    merkle_root,
    num_params,
    open_model,
)


def cnn_state(seed=0, width=4):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, width, 3), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(width * 6 * 6, 3),
    )
    model.train()
    model(torch.randn(4, 1, 8, 8))
    return model.state_dict()


def test_commit_returns_commitment_and_bytes():
    state = cnn_state()
    commitment, blob = commit(state)
    assert blob == canonical_bytes(state)
    assert commitment == commit_bytes(blob)
    assert commitment.root == merkle_root(blob)
    assert commitment.fingerprint == architecture_fingerprint(state)
    # buffers (running stats, num_batches_tracked) are committed and counted
    assert commitment.num_params == num_params(state) == sum(t.numel() for t in state.values())
    assert "1.num_batches_tracked" in describe_architecture(state)
    assert commitment.root_hex == "0x" + commitment.root.hex()


def test_one_flipped_bit_in_any_parameter_changes_the_root():
    state = cnn_state()
    root = commit(state)[0].root
    gen = torch.Generator().manual_seed(0)
    for name, tensor in state.items():
        for bit in (0, 22, 23, 31) if tensor.dtype == torch.float32 else (0, 63):
            flipped = dict(state)
            t = tensor.clone()
            raw = t.view(torch.int32 if t.dtype == torch.float32 else torch.int64).reshape(-1)
            pos = int(torch.randint(raw.numel(), (1,), generator=gen))
            raw[pos] ^= (1 << bit) if bit < 63 else -(2**63)
            flipped[name] = t
            assert commit(flipped)[0].root != root, (name, bit)


def test_buffers_are_part_of_the_commitment():
    state = cnn_state()
    changed = dict(state, **{"1.num_batches_tracked": state["1.num_batches_tracked"] + 1})
    assert commit(changed)[0].root != commit(state)[0].root
    assert commit(changed)[0].fingerprint == commit(state)[0].fingerprint


def test_open_model_round_trip():
    state = cnn_state()
    commitment, blob = commit(state)
    for root in (commitment.root, commitment.root_hex, commitment.root.hex()):
        opened = open_model(blob, root, commitment.fingerprint)
        assert all(torch.equal(opened[k], state[k]) for k in state)
    opened = open_model(blob, commitment.root, state, require_finite=True)  # template form
    assert sorted(opened) == sorted(state)


def test_substituted_blob_is_refused_before_decoding():
    commitment, _ = commit(cnn_state(seed=0))
    _, other = commit(cnn_state(seed=1))
    with pytest.raises(CommitmentMismatch) as info:
        open_model(other, commitment.root)
    message = str(info.value)
    assert commitment.root.hex() in message and merkle_root(other).hex() in message
    assert "fetch it" in message
    # garbage never reaches the decoder: the root check fails first
    with pytest.raises(CommitmentMismatch):
        open_model(b"garbage", commitment.root)


def test_committed_garbage_is_corrupt_model():
    garbage = b"\x07" * 100
    with pytest.raises(CorruptModel, match="committer published bytes that are not a canonical model"):
        open_model(garbage, merkle_root(garbage))
    with pytest.raises(CorruptModel):
        commit_bytes(garbage)


def test_wrong_architecture_by_fingerprint():
    expected = cnn_state(width=4)
    commitment, blob = commit(cnn_state(width=5))
    with pytest.raises(ArchitectureMismatch) as info:
        open_model(blob, commitment.root, architecture_fingerprint(expected))
    message = str(info.value)
    assert architecture_fingerprint(expected).hex() in message
    assert "0.weight" in message and "[5, 1, 3, 3]" in message  # the blob's model is described


def test_wrong_architecture_by_template_names_the_differences():
    expected = cnn_state(width=4)
    actual = dict(cnn_state(width=5))
    actual.pop("4.bias")
    actual["extra"] = torch.zeros(2)
    commitment, blob = commit(actual)
    with pytest.raises(ArchitectureMismatch) as info:
        open_model(blob, commitment.root, expected)
    diffs = info.value.differences
    assert "missing tensor '4.bias' (expected (3,) F32)" in diffs
    assert "unexpected tensor 'extra' (2,) F32" in diffs
    assert "tensor '0.weight': expected (4, 1, 3, 3) F32, got (5, 1, 3, 3) F32" in diffs
    with pytest.raises(ArchitectureMismatch):
        open_model(blob, commitment.root, Architecture.of_state(expected))


def test_non_finite_refused_only_when_asked():
    state = dict(cnn_state())
    state["4.weight"] = state["4.weight"].clone()
    state["4.weight"][0, 0] = float("inf")
    commitment, blob = commit(state)
    assert torch.isinf(open_model(blob, commitment.root)["4.weight"][0, 0])
    with pytest.raises(NonFiniteParameters, match="'4.weight'"):
        open_model(blob, commitment.root, require_finite=True)


def test_errors_share_one_base():
    for cls in (CorruptModel, CommitmentMismatch, ArchitectureMismatch, NonFiniteParameters):
        assert issubclass(cls, CommitmentError) and issubclass(cls, ValueError)


def test_model_commitment_value_object():
    commitment, _ = commit(cnn_state())
    assert ModelCommitment.from_dict(commitment.to_dict()) == commitment
    assert hash(commitment) == hash(ModelCommitment(commitment.root_hex, commitment.fingerprint, commitment.num_params))
    assert commitment.root_hex in repr(commitment)
    with pytest.raises(ValueError, match="root must be 32 bytes or 64 hex"):
        ModelCommitment(b"short", commitment.fingerprint, 1)
    with pytest.raises(ValueError, match="num_params"):
        ModelCommitment(commitment.root, commitment.fingerprint, -1)
    with pytest.raises(ValueError, match="expected_root"):
        open_model(b"", "0x1234")
