"""Fixtures of the ledger tests: every contract test runs on the embedded EVM and on anvil.

`chains` (module scope, parametrized) makes fresh chains of one kind; `net`
is a deployed network with registered participants, rolled back to a snapshot
after each test, so tests share one deployment per module and backend.
Helpers live in ledger_support.py.
"""

from __future__ import annotations

import pytest

from ledger_support import ANVIL_PATH, ANVIL_SKIP, BACKEND_PARAMS, ChainFactory, Net, build_net  # noqa: E402


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def chains(request):
    if request.param == "anvil" and ANVIL_PATH is None:
        pytest.skip(ANVIL_SKIP)
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
