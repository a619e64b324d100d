"""Chain-free parts of the ledger: fixed point, accounts and signing, gas report, compile cache."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from poft.ledger import compile as compile_module
from poft.ledger.accounts import Account, derive_accounts, recover_signer
from poft.ledger.errors import decode_revert_data
from poft.ledger.fixed import (
    LOSS_NONFINITE,
    LOSS_SCALE,
    WEIGHT_SCALE,
    as_fixed_weights,
    fixed_to_loss,
    loss_to_fixed,
    weights_hash,
    weights_to_fixed,
)
from poft.ledger.gas import GasReport


def test_losses_fixed_point_and_sentinel():
    assert loss_to_fixed(0.5) == LOSS_SCALE // 2
    assert loss_to_fixed(-1.25) == -1_250_000_000
    assert loss_to_fixed(math.nan) == LOSS_NONFINITE == loss_to_fixed(-math.inf)
    assert fixed_to_loss(LOSS_NONFINITE) == math.inf
    assert fixed_to_loss(loss_to_fixed(2.123456789)) == pytest.approx(2.123456789)


def test_weights_never_exceed_the_scale():
    fixed = weights_to_fixed([1 / 3] * 3)
    assert sum(fixed) <= WEIGHT_SCALE and min(fixed) > 0
    over = weights_to_fixed([0.6, 0.4000000001])
    assert sum(over) == WEIGHT_SCALE
    assert weights_to_fixed([math.nan, -1.0, 1.0]) == [0, 0, WEIGHT_SCALE]
    assert as_fixed_weights([WEIGHT_SCALE // 2, WEIGHT_SCALE // 2]) == [WEIGHT_SCALE // 2] * 2
    with pytest.raises(ValueError, match="sum to <="):
        as_fixed_weights([WEIGHT_SCALE, 1])
    assert weights_hash([1, 2]) != weights_hash([2, 1])


def test_accounts_are_deterministic_and_sign_like_eth_account():
    from eth_account import Account as EthAccount

    a, b = derive_accounts(5, 2)
    assert derive_accounts(5, 2) == [a, b] and a != b
    assert derive_accounts(5, 1, start=1) == [b]
    assert EthAccount.from_key(a.private_key).address == a.address
    raw, tx_hash = a.sign_transaction(chain_id=7, nonce=3, to=b.address, data=b"\x01\x02", gas=50_000,
                                      max_fee=10**10, priority_fee=10**9, value=5)
    reference = EthAccount.sign_transaction(
        {"type": 2, "chainId": 7, "nonce": 3, "to": b.address, "data": b"\x01\x02", "gas": 50_000,
         "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "value": 5}, a.private_key)
    assert raw == bytes(reference.raw_transaction) and tx_hash == bytes(reference.hash)
    digest = b"\x33" * 32
    assert recover_signer(digest, a.sign_digest(digest)) == a.address
    with pytest.raises(ValueError):
        Account.from_key(b"\0" * 32)


def test_gas_report_table():
    report = GasReport()
    report.record("submit_update", 100)
    report.record("submit_update", 300)
    report.record("open_round", 50)
    rows = {r.kind: r for r in report.rows()}
    assert rows["submit_update"].mean == 200 and rows["submit_update"].max == 300
    assert report.total() == 450 and report.transactions() == 3
    assert "submit_update" in report.table()
    assert report.to_dict()["open_round"]["calls"] == 1


def test_revert_data_decoding():
    from eth_abi import encode

    assert decode_revert_data(bytes.fromhex("08c379a0") + encode(["string"], ["nope"])) == "nope"
    assert "panic 0x11" in decode_revert_data(bytes.fromhex("4e487b71") + (17).to_bytes(32, "big"))
    assert "without a reason" in decode_revert_data(b"")


def test_compile_cache_is_keyed_by_source_and_reused(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="no contract named"):
        compile_module._compile("Nope")
    monkeypatch.setenv("POFT_CACHE_DIR", str(tmp_path))
    compile_module.load_artifact.cache_clear()
    try:
        artifact = compile_module.load_artifact("ModelBridge")
        cached = list((tmp_path / "contracts").glob("ModelBridge-*.json"))
        assert len(cached) == 1 and artifact.bytecode and artifact.abi
        compile_module.load_artifact.cache_clear()
        monkeypatch.setattr(compile_module, "_compile", lambda name: pytest.fail("cache not used"))
        assert compile_module.load_artifact("ModelBridge") == artifact
    finally:
        compile_module.load_artifact.cache_clear()


def test_ledger_never_imports_torch():
    code = "import sys, poft.ledger, poft.ledger.client, poft.ledger.relay; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
