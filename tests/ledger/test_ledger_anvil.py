"""Local anvil nodes: start/stop by PID, state-file persistence, block-time mining, missing binary."""

from __future__ import annotations

import os

import pytest

from ledger_support import ANVIL_PATH, ANVIL_SKIP, TEST_PARAMS, build_net
from poft.ledger import AnvilNode, AnvilNotFound, LedgerClient, Phase, RpcBackend, find_anvil
from poft.ledger import anvil as anvil_module


def needs_anvil(test):
    return pytest.mark.anvil(pytest.mark.skipif(ANVIL_PATH is None, reason=ANVIL_SKIP or "-")(test))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@needs_anvil
def test_start_answers_and_stop_ends_the_process():
    node = AnvilNode.start(chain_id=50001)
    pid = node.pid
    try:
        assert _alive(pid)
        backend = RpcBackend(node.url)
        assert backend.chain_id == 50001
        assert backend.client_version.startswith("anvil")
    finally:
        node.stop()
    assert not node.is_running() and not _alive(pid)
    with AnvilNode.start(chain_id=50002) as other:  # context manager form
        other_pid = other.pid
        assert _alive(other_pid)
    assert not _alive(other_pid)


@needs_anvil
def test_state_file_keeps_a_final_round_across_restarts(tmp_path):
    state = tmp_path / "chain-a.json"
    with AnvilNode.start(chain_id=50003, state_file=state) as node:
        net = build_net(RpcBackend(node.url), TEST_PARAMS)
        r, _ = net.to_final(b"\x5a" * 32)
        ledger = net.deployment.ledger_address
    assert state.exists() and state.stat().st_size > 0
    with AnvilNode.start(chain_id=50003, state_file=state) as node:
        reader = LedgerClient(RpcBackend(node.url), ledger)
        assert reader.phase() == Phase.FINAL
        assert reader.checkpoint(r).model_root == b"\x5a" * 32
        assert reader.global_model().root == b"\x5a" * 32


@needs_anvil
def test_block_time_mode_mines_on_its_own():
    with AnvilNode.start(chain_id=50004, block_time=1) as node:
        backend = RpcBackend(node.url)
        account = backend.funded_accounts(1, wei=10**18)[0]  # waits for the next block
        assert backend.get_balance(account.address) == 10**18


def test_missing_binary_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("POFT_ANVIL", raising=False)
    monkeypatch.setattr(anvil_module, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AnvilNotFound, match="npm ci"):
        find_anvil()
