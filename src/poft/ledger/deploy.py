"""Deploy one network: its ModelBridge, then its FederatedLedger linked to it."""

from __future__ import annotations

from .accounts import Account
from .backends import LedgerBackend
from .client import LedgerClient
from .compile import load_artifact
from .contract import interface_of
from .types import Deployment, NetworkParams


def _deploy(backend: LedgerBackend, owner: Account, name: str, args: list) -> tuple[str, int]:
    code = load_artifact(name).bytecode + interface_of(name).encode_constructor(args)
    address, receipt = backend.deploy(owner, code)
    backend.gas_report.record(f"deploy {name}", receipt.gas_used)
    return address, receipt.block_number


def deploy_network(backend: LedgerBackend, params: NetworkParams | None = None,
                   owner: Account | None = None) -> Deployment:
    """Deploy and link both contracts of a network; `owner` defaults to the backend's operator."""
    params = params or NetworkParams()

    owner = owner or backend.operator
    bridge, first_block = _deploy(backend, owner, "ModelBridge", [owner.address])
    ledger, _ = _deploy(backend, owner, "FederatedLedger", [
        params.resolved_network_id, params.k_validators, params.n_miners,
        params.scores_per_candidate, list(params.deadlines),
        params.min_stake, params.slash_bps, params.reward_per_round, params.validator_reward,
        params.genesis_root, params.genesis_fingerprint, params.genesis_uri, owner.address, bridge,
    ])
    if params.initial_pool:
        LedgerClient(backend, ledger, owner).fund(params.initial_pool)
    return Deployment(
        name=params.name, network_id=params.resolved_network_id, chain_id=backend.chain_id,
        ledger_address=ledger, bridge_address=bridge, owner=owner.address,
        deploy_block=first_block, backend=backend.kind, rpc_url=getattr(backend, "url", None),
    )
