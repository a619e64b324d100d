"""poft.ledger: Vyper contracts (FederatedLedger, ModelBridge), a typed client, two backends.

Backends: `EmbeddedBackend(seed)` (in-process py-evm, deterministic) and
`RpcBackend(url)` (any JSON-RPC node; `AnvilNode` and `HardhatNode` start local ones).
This package never imports torch.
"""

from .accounts import Account, derive_accounts
from .anvil import AnvilNode, LocalNode, find_anvil
from .backends import LedgerBackend
from .bridge_client import BridgeClient
from .client import LedgerClient
from .contract import TxResult
from .deploy import deploy_network
from .eip712 import Domain
from .embedded import EmbeddedBackend
from .errors import (
    AnvilNotFound,
    ContractRevert,
    FeeTooLow,
    HardhatNotFound,
    LedgerError,
    LocalNodeNotFound,
    NodeError,
    TransactionRejected,
    TransactionTimeout,
)
from .fixed import LOSS_NONFINITE, LOSS_SCALE, WEIGHT_SCALE, losses_to_fixed, weights_hash, weights_to_fixed
from .gas import GasReport
from .hardhat import HardhatNode, find_hardhat, local_node_class
from .relay import MemberStakes, relay_checkpoint, trust_network
from .rpc import RpcBackend
from .types import (
    Candidate,
    Checkpoint,
    Committee,
    Deployment,
    GlobalModel,
    ImportRecord,
    NetworkParams,
    Phase,
    Proposal,
    RemoteNetwork,
    RoundState,
    Signature,
)

__all__ = [
    "Account", "AnvilNode", "AnvilNotFound", "BridgeClient", "Candidate", "Checkpoint", "Committee",
    "ContractRevert", "Deployment", "FeeTooLow", "Domain", "EmbeddedBackend", "GasReport", "GlobalModel",
    "HardhatNode", "HardhatNotFound", "LocalNode", "LocalNodeNotFound", "MemberStakes",
    "ImportRecord", "LOSS_NONFINITE", "LOSS_SCALE", "LedgerBackend", "LedgerClient", "LedgerError",
    "NetworkParams", "NodeError", "Phase", "Proposal", "RemoteNetwork", "RoundState", "RpcBackend",
    "Signature", "TransactionRejected", "TransactionTimeout", "TxResult", "WEIGHT_SCALE", "deploy_network", "derive_accounts",
    "find_anvil", "find_hardhat", "local_node_class", "losses_to_fixed", "relay_checkpoint", "trust_network", "weights_hash",
    "weights_to_fixed",
]
