"""Typed client of one network's FederatedLedger; hides web3 and the ABI.

    backend = EmbeddedBackend(seed=0)
    deployment = deploy_network(backend, NetworkParams(name="a"))
    alice = LedgerClient.for_deployment(backend, deployment, account)
    alice.register(is_worker=True, stake=10**18)

Every write is a type-2 transaction signed by the client's account; a revert
raises ContractRevert carrying the contract's reason. Reads go through views,
except the histories that live only in events (candidates, loss reports).
"""

from __future__ import annotations

from typing import Sequence

from .abi import Event
from .accounts import Account
from .backends import LedgerBackend
from .contract import BoundContract, TxResult, interface_of
from .eip712 import Domain, checkpoint_digest
from .errors import LedgerError
from .fixed import as_fixed_weights, fixed_to_loss, losses_to_fixed, weights_hash
from .types import (
    Candidate,
    Checkpoint,
    Committee,
    Deployment,
    GlobalModel,
    Phase,
    Proposal,
    RoundState,
    Signature,
    blob_digest,
    blob_uri,
)

ZERO_ADDRESS = "0x" + "00" * 20


class LedgerClient:
    """One account's handle on a FederatedLedger (account=None: read-only)."""

    def __init__(self, backend: LedgerBackend, address: str, account: Account | None = None,
                 *, from_block: int = 0):
        self.backend = backend
        self.account = account
        self.from_block = from_block  # where event scans start (the deployment block)
        self.contract = BoundContract(backend, address, interface_of("FederatedLedger"), "FederatedLedger")
        self._network_id: bytes | None = None

    @classmethod
    def for_deployment(cls, backend: LedgerBackend, deployment: Deployment,
                       account: Account | None = None) -> "LedgerClient":
        client = cls(backend, deployment.ledger_address, account, from_block=deployment.deploy_block)
        client._network_id = deployment.network_id
        return client

    def as_account(self, account: Account) -> "LedgerClient":
        """The same ledger, acting as `account`."""
        client = LedgerClient(self.backend, self.address, account, from_block=self.from_block)
        client._network_id = self._network_id
        return client

    @property
    def address(self) -> str:
        return self.contract.address

    @property
    def network_id(self) -> bytes:
        if self._network_id is None:
            self._network_id = self.contract.call("network_id")
        return self._network_id

    @property
    def domain(self) -> Domain:
        """The EIP-712 domain checkpoints of this network are signed under."""
        return Domain(self.backend.chain_id, self.address, self.network_id)

    def _send(self, method: str, *args, value: int = 0) -> TxResult:
        if self.account is None:
            raise LedgerError(f"{method} needs an account: this LedgerClient is read-only")
        return self.contract.transact(self.account, method, *args, value=value)

    # === participants and money ==================================================
    def register(self, is_worker: bool = True, stake: int = 0) -> TxResult:
        """Join the network with `stake` wei; stake >= min_stake makes the account committee-eligible."""
        return self._send("register", is_worker, value=stake)

    def add_stake(self, wei: int) -> TxResult:
        return self._send("add_stake", value=wei)

    def fund(self, wei: int) -> TxResult:
        """Add `wei` to the reward pool."""
        return self._send("fund", value=wei)

    def withdraw(self) -> int:
        """Pay out this account's claimable rewards; returns the amount."""
        return self._send("withdraw").event("Withdrawn")["amount"]

    def set_bridge(self, bridge: str) -> TxResult:
        return self._send("set_bridge", bridge)

    # === round ===================================================================
    def open_round(self) -> int:
        """Open the next round (samples the committee); returns its number."""
        return self._send("open_round").event("RoundOpened")["round"]

    def submit_update(self, round: int, params_root: bytes, uri: str) -> int:
        """Submit a worker update whose blob is at ``uri`` ("sha256:<64 hex>": only the
        32-byte digest goes on chain); returns its candidate index. Its architecture
        must be the global model's: the chain does not check it, validators do when
        they open the blob."""
        return self._send("submit_update", round, params_root,
                          blob_digest(uri)).event("UpdateSubmitted")["index"]

    def submit_import(self, round: int, import_id: int) -> int:
        """Add a bridge import as a candidate; returns its candidate index."""
        return self._send("submit_import", round, import_id).event("ImportCandidate")["index"]

    def report_losses(self, round: int, losses: Sequence[float]) -> TxResult:
        """Report one loss per candidate (floats; NaN/Inf are sent as the non-finite sentinel)."""
        return self.report_fixed_losses(round, losses_to_fixed(losses))

    def report_fixed_losses(self, round: int, fixed_losses: Sequence[int]) -> TxResult:
        return self._send("report_losses", round, list(fixed_losses))

    def propose(self, round: int, model_root: bytes, uri: str, weights: Sequence[float | int]) -> TxResult:
        """Propose the aggregate; `weights` are fractions (floats) or fixed point (ints).

        settle() later needs the same weights: pass the same sequence."""
        return self._send("propose", round, model_root, uri, weights_hash(as_fixed_weights(weights)))

    def propose_with_hash(self, round: int, model_root: bytes, uri: str, weights_hash_: bytes) -> TxResult:
        return self._send("propose", round, model_root, uri, weights_hash_)

    def checkpoint_signature(self, round: int, model_root: bytes, parent_root: bytes, uri: str | bytes) -> bytes:
        """This account's EIP-712 Checkpoint signature (nothing is sent)."""
        if self.account is None:
            raise LedgerError("signing needs an account: this LedgerClient is read-only")
        return self.account.sign_digest(checkpoint_digest(self.domain, round, model_root, parent_root, uri))

    def attest(self, round: int, model_root: bytes | None = None, uri: str | None = None) -> TxResult:
        """Attest the round's proposal: signs Checkpoint(round, root, current global root, uri).

        Pass the root you recomputed as `model_root`; it must equal the proposal's, and `uri`
        (by default the proposal's) must be the proposal's."""
        if model_root is None or uri is None:
            proposal = self.proposal(round)
            if proposal is None:
                raise LedgerError(f"round {round} has no proposal to attest")
            model_root = proposal.model_root if model_root is None else model_root
            uri = proposal.uri if uri is None else uri
        signature = self.checkpoint_signature(round, model_root, self.global_model().root, uri)
        return self.attest_with_signature(round, signature)

    def attest_with_signature(self, round: int, signature: bytes) -> TxResult:
        return self._send("attest", round, signature)

    def reject(self, round: int) -> TxResult:
        return self._send("reject", round)

    def advance(self) -> TxResult:
        """Move a phase whose deadline has passed."""
        return self._send("advance")

    def settle(self, round: int, weights: Sequence[float | int]) -> TxResult:
        """Pay the final round with the weights behind the proposal's weights_hash."""
        return self._send("settle", round, as_fixed_weights(weights))

    def sign_checkpoint(self, round: int, checkpoint: Checkpoint | None = None) -> TxResult:
        """Publish this staker's signature of a final checkpoint (for other networks' bridges).
        `checkpoint`: the round's final checkpoint, when the caller has read it (a final
        checkpoint never changes; passing it saves a read per signer)."""
        cp = checkpoint or self.checkpoint(round)
        if cp is None:
            raise LedgerError(f"round {round} is not final: nothing to sign")
        return self._send("sign_checkpoint", round,
                          self.checkpoint_signature(round, cp.model_root, cp.parent_root, cp.uri))

    def sign_checkpoint_with_signature(self, round: int, signature: bytes) -> TxResult:
        return self._send("sign_checkpoint", round, signature)

    # === reads =====================================================================
    def call(self, view: str, *args):
        """Any view of the contract by name (e.g. "reward_pool")."""
        return self.contract.call(view, *args)

    def phase(self) -> Phase:
        return Phase(self.contract.call("phase"))

    def current_round(self) -> int:
        return self.contract.call("current_round")

    def deadline(self) -> int:
        return self.contract.call("deadline")

    def round_state(self) -> RoundState:
        miner = self.contract.call("current_miner")
        return RoundState(self.current_round(), self.phase(), self.deadline(),
                          self.backend.block_number, None if miner == ZERO_ADDRESS else miner)

    def committee(self, round: int) -> Committee:
        validators, stakes, miners = self.contract.call("committee", round)
        return Committee(validators, stakes, miners)

    def sample_committee(self, seed: bytes) -> Committee:
        """The committee open_round would draw from `seed` with today's stakes."""
        validators, stakes, miners = self.contract.call("sample_committee", seed)
        return Committee(validators, stakes, miners)

    def candidates(self, round: int) -> list[Candidate]:
        """The round's candidates in submission order (from events)."""
        found = [
            Candidate(e["index"], e["worker"], e["params_root"], blob_uri(e["blob"]), False)
            for e in self.events("UpdateSubmitted", round=round)
        ]
        imports = self.events("ImportCandidate", round=round)
        if imports:
            bridge = self.contract.call("bridge")
            found += [
                Candidate(e["index"], bridge, e["model_root"], e["uri"], True, e["import_id"])
                for e in imports
            ]
        return sorted(found, key=lambda c: c.index)

    def reports(self, round: int) -> dict[str, list[float]]:
        """validator -> reported losses (floats; the non-finite sentinel as math.inf)."""
        return {v: [fixed_to_loss(x) for x in xs] for v, xs in self.reports_fixed(round).items()}

    def reports_fixed(self, round: int) -> dict[str, list[int]]:
        return {e["validator"]: e["losses"] for e in self.events("LossesReported", round=round)}

    def proposal(self, round: int) -> Proposal | None:
        """The current (or final) attempt's proposal; None when that miner has not proposed."""
        attempt, (miner, root, uri, wh) = self.contract.call("proposal", round)
        if miner == ZERO_ADDRESS:
            return None
        return Proposal(round, attempt, miner, root, uri, wh)

    def attestations(self, round: int) -> list[Signature]:
        signers, sigs = self.contract.call("attestations", round)
        return [Signature(s, sig) for s, sig in zip(signers, sigs)]

    def checkpoint(self, round: int) -> Checkpoint | None:
        root, parent, wh, miner, uri, final = self.contract.call("checkpoint", round)
        return Checkpoint(round, root, parent, wh, miner, uri) if final else None

    def checkpoint_signatures(self, round: int, include_attestations: bool = True,
                              known_final: bool = False) -> list[Signature]:
        """Signatures of the final checkpoint: sign_checkpoint ones, plus the final attestations
        (the same EIP-712 message); one per signer. `known_final`: the caller has read the
        round's checkpoint as final (saves reading it again)."""
        signers, sigs = self.contract.call("checkpoint_signatures", round)
        found = {s: Signature(s, sig) for s, sig in zip(signers, sigs)}
        if include_attestations and (known_final or self.checkpoint(round) is not None):
            for a in self.attestations(round):
                found.setdefault(a.signer, a)
        return list(found.values())

    def global_model(self) -> GlobalModel:
        return GlobalModel(*self.contract.call("global_model"))

    def stake(self, address: str | None = None) -> int:
        return self.contract.call("stake_of", address or self._own_address())

    def claimable(self, address: str | None = None) -> int:
        return self.contract.call("claimable", address or self._own_address())

    def reward_pool(self) -> int:
        return self.contract.call("reward_pool")

    def total_stake(self) -> int:
        return self.contract.call("total_stake")

    def accounted_balance(self) -> int:
        """total_stake + total_claimable + reward_pool as the contract books it."""
        return self.contract.call("accounted_balance")

    def contract_balance(self) -> int:
        return self.backend.get_balance(self.address)

    def balance_conserved(self) -> bool:
        """True when the contract holds exactly what it books (no value created or lost)."""
        return self.contract_balance() == self.accounted_balance()

    def participants(self) -> list[str]:
        return [self.contract.call("participants", i) for i in range(self.contract.call("participant_count"))]

    def stakers(self, min_stake: int | None = None) -> list[tuple[str, int]]:
        """(address, stake) of participants with stake >= min_stake (default: the contract's)."""
        floor = self.contract.call("min_stake") if min_stake is None else min_stake
        stakes = ((p, self.stake(p)) for p in self.participants())
        return [(p, s) for p, s in stakes if s >= floor and s > 0]

    def events(self, name: str, from_block: int | None = None, to_block: int | None = None,
               **indexed) -> list[Event]:
        """Decoded events called `name`, optionally filtered by indexed args (round=..., worker=...)."""
        start = self.from_block if from_block is None else from_block
        return self.contract.events(name, start, to_block, **indexed)

    def _own_address(self) -> str:
        if self.account is None:
            raise LedgerError("pass an address: this LedgerClient has no account")
        return self.account.address

__all__ = ["LedgerClient"]
