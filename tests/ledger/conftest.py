"""Fixtures of the ledger tests: every contract test runs on the embedded EVM, anvil and hardhat.

`chains` (module scope, parametrized) makes fresh chains of one kind; `net`
is a deployed network with registered participants, rolled back to a snapshot
after each test, so tests share one deployment per module and backend.
Helpers live in ledger_support.py.
"""

from __future__ import annotations

import pytest

from ledger_support import BACKEND_PARAMS, NODE_SKIPS, ChainFactory, Net, build_net  # noqa: E402


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def chains(request):
    if NODE_SKIPS.get(request.param):
        pytest.skip(NODE_SKIPS[request.param])
    factory = ChainFactory(request.param)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def base_net(chains) -> Net:
    return build_net(chains.new(seed=11))


@pytest.fixture
def net(base_net):
    """The module's network, rolled back after the test."""
    snapshot = base_net.backend.snapshot()
    yield base_net
    base_net.backend.revert(snapshot)
