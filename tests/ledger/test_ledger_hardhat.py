"""Local hardhat nodes: start/stop by PID, chain id and balances from the generated config,
mixed mining, reverted transactions mined (not rejected), no state file, missing package."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ledger_support import HARDHAT_PATH, HARDHAT_SKIP, TEST_PARAMS, build_net
from poft.ledger import HardhatNode, HardhatNotFound, RpcBackend, find_hardhat
from poft.ledger import hardhat as hardhat_module


def needs_hardhat(test):
    return pytest.mark.hardhat(pytest.mark.skipif(HARDHAT_PATH is None, reason=HARDHAT_SKIP or "-")(test))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@needs_hardhat
def test_start_answers_and_stop_ends_the_process_and_removes_its_config():
    with HardhatNode.start(chain_id=50101) as node:
        pid, folder = node.pid, Path(node.config_dir)
        assert _alive(pid) and (folder / "hardhat.config.js").is_file()
        backend = RpcBackend(node.url)
        assert backend.chain_id == 50101
        assert backend.client_version.startswith("HardhatNetwork/2.")
        # anvil's first dev account is hardhat's too (same mnemonic), with the asked balance
        assert backend.get_balance(backend.operator.address) == 1_000_000 * 10**18
    assert not node.is_running() and not _alive(pid)
    assert not folder.exists()


@needs_hardhat
def test_reverted_transactions_are_mined_with_their_reason_and_mine_works():
    with HardhatNode.start(chain_id=50102) as node:
        backend = RpcBackend(node.url)
        net = build_net(backend, TEST_PARAMS)
        r, _ = net.to_final(b"\x5a" * 32)
        before = backend.block_number
        with net.reverts("previous round is not settled"):   # mined, status 0, reason replayed
            net.reader.open_round()
        assert backend.block_number == before + 1
        backend.mine(5)                                       # hardhat_mine (no anvil_mine)
        assert backend.block_number == before + 6


@needs_hardhat
def test_mixed_mining_mines_transactions_at_once_and_blocks_on_its_own():
    with HardhatNode.start(chain_id=50103, block_time=1, automine=True) as node:
        backend = RpcBackend(node.url, receipt_timeout=5)
        account = backend.funded_accounts(1, wei=10**18)[0]  # automine: no wait for a tick
        assert backend.get_balance(account.address) == 10**18
        start = backend.block_number
        until = time.monotonic() + 15
        while backend.block_number < start + 2 and time.monotonic() < until:
            time.sleep(0.2)
        assert backend.block_number >= start + 2, "no interval blocks"


def test_generated_config_sets_chain_id_mining_and_failures():
    text = hardhat_module.hardhat_config(33001, automine=True, block_time=1.5, balance_eth=2)
    assert '"chainId": 33001' in text and '"interval": 1500' in text and '"auto": true' in text
    assert '"throwOnTransactionFailures": false' in text
    assert '"accountsBalance": "2000000000000000000"' in text


def test_missing_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("POFT_HARDHAT", raising=False)
    monkeypatch.setattr(hardhat_module, "REPO_ROOT", tmp_path)
    with pytest.raises(HardhatNotFound, match="npm ci"):
        find_hardhat()
