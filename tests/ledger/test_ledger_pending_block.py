"""The embedded EVM with automine=False: transactions wait in one pending block.

Reads see the pending block, each transaction's gas is its own (not the block's
running total), `seal()` mines it as one block, and the journal replays it.
"""

from poft.ledger import EmbeddedBackend
from poft.ledger.accounts import derive_accounts


def test_pending_block_holds_several_transactions(tmp_path):
    chain = EmbeddedBackend(seed=3, automine=False)
    accounts = derive_accounts(3, 3)
    start = chain.block_number
    receipts = [chain.send_transaction(chain.operator, a.address, value=10**18, gas=21_000)
                for a in accounts]
    assert [r.gas_used for r in receipts] == [21_000] * 3      # each its own, not cumulative
    assert {r.block_number for r in receipts} == {start + 1}    # one (pending) block
    assert chain.block_number == start                          # not mined yet
    assert all(chain.get_balance(a.address) == 10**18 for a in accounts)
    chain.seal()
    assert chain.block_number == start + 1
    chain.seal()                                                # nothing pending: no block
    assert chain.block_number == start + 1
    journal = tmp_path / "chain.journal"
    chain.save_journal(journal)
    again = EmbeddedBackend.replay(journal)
    assert again.block_hash(again.block_number) == chain.block_hash(chain.block_number)


def test_automine_mines_every_transaction():
    chain = EmbeddedBackend(seed=3)
    start = chain.block_number
    for a in derive_accounts(3, 2):
        chain.fund(a.address, 1)
    assert chain.block_number == start + 2


def _pyevm_block_by_block(journal_path):
    """The same journal on py-evm's own `MiningChain.apply_transaction` (state root and
    tries rebuilt after every transaction): the reference the pending block must equal."""
    import json

    from poft.ledger.embedded import _pinned_pyevm_class

    record = json.loads(journal_path.read_text())
    evm = _pinned_pyevm_class()(record["seed"], record["genesis_timestamp"])
    decode = evm.chain.get_transaction_builder().decode
    for kind, value in record["entries"]:
        if kind == "mine":
            evm.mine_blocks(int(value))
            continue
        evm.chain.apply_transaction(decode(bytes.fromhex(value)))
        if kind == "tx":
            evm.mine_blocks(1)
    return evm.chain.get_canonical_head().hash


def test_pending_block_is_the_block_pyevm_builds(tmp_path):
    """Contract calls in pending blocks (reads in between): the same blocks, hash for
    hash, as py-evm's per-transaction mining chain; reads on the pending block give the
    gas estimate a sealed block would (nothing warm left over from the last transaction)."""
    from poft.ledger import LedgerClient, NetworkParams, deploy_network

    eth = 10**18
    chain = EmbeddedBackend(seed=5, automine=False)
    params = NetworkParams(name="pending", k_validators=2, n_miners=1, phase_blocks=50,
                           min_stake=eth, initial_pool=10 * eth, genesis_fingerprint=b"\xf1" * 32)
    deployment = deploy_network(chain, params)
    accounts = chain.funded_accounts(4)
    chain.seal()
    clients = [LedgerClient.for_deployment(chain, deployment, a) for a in accounts]
    for client in clients:
        client.register(is_worker=True, stake=2 * eth)
    chain.seal()
    r = clients[0].open_round()
    clients[0].submit_update(r, b"\x01" * 32, blob_uri(0))
    fn = clients[1].contract.interface.function("submit_update")
    data = fn.encode_call([r, b"\x02" * 32, bytes([1]) * 32])
    pending_estimate = chain.estimate_gas(deployment.ledger_address, data, accounts[1].address)
    chain.seal()
    assert chain.estimate_gas(deployment.ledger_address, data, accounts[1].address) == pending_estimate
    for i, client in enumerate(clients[1:], start=1):
        client.submit_update(r, bytes([i + 1]) * 32, blob_uri(i))
    chain.mine(3)
    journal = tmp_path / "chain.journal"
    chain.save_journal(journal)
    assert _pyevm_block_by_block(journal) == chain.block_hash(chain.block_number)
    again = EmbeddedBackend.replay(journal)
    assert again.block_hash(again.block_number) == chain.block_hash(chain.block_number)



def blob_uri(i: int) -> str:
    """A well-formed blob location (the chain keeps its 32-byte digest)."""
    return "sha256:" + bytes([i]).hex() * 32


def test_reads_are_cached_until_the_state_changes():
    chain = EmbeddedBackend(seed=3, automine=False)
    target = derive_accounts(3, 1)[0].address
    assert chain.get_balance(target) == 0
    chain.send_transaction(chain.operator, target, value=5, gas=21_000)
    assert chain.get_balance(target) == 5
    # a cached eth_call is dropped by the next transaction
    chain.call(target, b"")
    chain.send_transaction(chain.operator, target, value=5, gas=21_000)
    assert chain._reads == {}
    chain.seal()
    assert chain.get_balance(target) == 10
