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
