"""`poft verify`: accountable inference — where did this model come from?

Given a model file and a run's deployment.json, recompute the model's Merkle
root, find the round that finalized it on one of the networks, and walk its
lineage: parent model, the candidates that went into it (worker updates and
imported cross-chain checkpoints, with their rewards), the committee, and the
validators' EIP-712 attestations (each signature recovered and checked, their
stake ≥ 2/3 of the committee's). Imported candidates are followed back to
their source network and round. With `--recompute`, every round of the
lineage is re-executed from the stored blobs (`aggregate_round`) and compared
with the finalized model and its weights hash.

Nothing here trusts the run's own records: only the chain (for the embedded
backend, its journal replayed on a fresh EVM, which must reproduce the recorded
block hashes) and the content-addressed store.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from poft.commitment import CommitmentError, commit_bytes, load_canonical
from poft.errors import InputError, PoftError
from poft.ledger import Deployment, LedgerClient, LedgerError, weights_hash
from poft.ledger.eip712 import checkpoint_digest, recover
from poft.protocol.aggregate import AggregationSpec, aggregate_round, matches
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, collect_round_inputs
from poft.protocol.worker_history import WorkerHistory
from poft.store import StoreError, open_store, parse_location


class VerificationFailed(PoftError):
    """One link of the lineage does not hold; the message says which and why."""


DEPLOYMENT_HINT = ("it should be the deployment.json that `poft run` wrote into its output "
                   "folder (keys 'store' and 'networks'; per network 'backend', the contract "
                   "addresses, 'journal' or 'rpc_url', 'genesis_uri', 'aggregation')")


@dataclass
class VerifyResult:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    reason: str = ""
    model: str = ""
    finalized_by: str = ""          # "alpha round 8"
    rounds: int = 0                 # rounds of the lineage checked
    recomputed: bool = False

    def say(self, text: str, depth: int = 0) -> None:
        self.lines.append("  " * depth + text)

    def render(self) -> str:
        """The verdict and a short summary first, the lineage's details after."""
        if self.ok:
            head = [f"VERIFIED: {self.model} is the model finalized by {self.finalized_by}",
                    f"  lineage: {self.rounds} round(s) checked on chain (roots, committee "
                    "attestations, candidates and rewards, cross-chain imports)"]
            if self.recomputed:
                head.append("  aggregation: re-executed for every round from the stored "
                            "blobs; it matches the finalized models and weights")
            else:
                head.append("  aggregation: NOT re-executed (the finalized models were not "
                            "recomputed from their inputs); add --recompute to check that")
        else:
            head = [f"FAILED: {self.reason}"]
        if self.lines:
            head += ["", "details:"] + ["  " + line for line in self.lines]
        return "\n".join(head)


class LineageVerifier:
    def __init__(self, deployment_file: str | Path, recompute: bool):
        self.path = Path(deployment_file)
        info = read_deployment(self.path)
        base = self.path.parent
        self.store = open_store(_resolve(base, need(info, "store", self.path)))
        self.recompute = recompute
        self.networks: dict[str, tuple[LedgerClient, dict]] = {}
        networks = need(info, "networks", self.path)
        if not isinstance(networks, dict) or not networks:
            raise InputError(f"deployment file {str(self.path)!r}: 'networks' names no "
                             f"network; {DEPLOYMENT_HINT}")
        for name, entry in networks.items():
            where = f" (network {name!r})"
            required = [f.name for f in dataclasses.fields(Deployment)
                        if f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING]
            for key in required + (["genesis_uri", "aggregation"] if recompute else []):
                need(entry, key, self.path, where)
            backend = open_backend(entry, base, self.path, where)
            try:           # a field of the wrong shape (an address, the rule's spec)
                client = LedgerClient.for_deployment(backend, deployment_of(entry))
                if recompute:
                    AggregationSpec(**entry["aggregation"])
            except (TypeError, ValueError) as exc:
                raise InputError(f"deployment file {str(self.path)!r}{where} is malformed "
                                 f"({' '.join(str(exc).split())}); {DEPLOYMENT_HINT}") from None
            self.networks[name] = (client, entry)
        self.result = VerifyResult(recomputed=recompute)
        self.checked: set[tuple[str, int]] = set()
        # The workers' histories per network, for rounds recomputed tip first.
        self.histories: dict[str, WorkerHistory] = {}

    def verify_file(self, model_file: str | Path) -> VerifyResult:
        blob = read_model(model_file)
        self.result.model = str(model_file)
        try:
            root = commit_bytes(blob).root
        except CommitmentError as exc:
            raise InputError(f"{str(model_file)!r} is not a safetensors model written by "
                             f"`poft run` ({exc})") from None
        try:
            self.result.say(f"model {model_file}: root 0x{root.hex()}")
            name, round_id = self.find_finalizing_round(root)
            self.result.finalized_by = f"{name} round {round_id}"
            self.verify_round(name, round_id, depth=0)
        except (VerificationFailed, CommitmentError, StoreError, OSError) as exc:
            self.result.ok, self.result.reason = False, str(exc)
        self.result.rounds = len(self.checked)
        return self.result

    def find_finalizing_round(self, root: bytes) -> tuple[str, int]:
        for name, (client, _) in self.networks.items():
            for event in client.events("RoundFinalized"):
                if event["model_root"] == root:
                    return name, event["round"]
        raise VerificationFailed(
            f"no round of networks {', '.join(self.networks)} finalized root 0x{root.hex()}: "
            "the model was changed, or it comes from another run")

    def verify_round(self, name: str, round_id: int, depth: int) -> None:
        if (name, round_id) in self.checked:
            return
        self.checked.add((name, round_id))
        client, entry = self.networks[name]
        cp = client.checkpoint(round_id)
        if cp is None:
            raise VerificationFailed(f"{name} round {round_id} is not final on chain")
        say = self.result.say
        say(f"{name} round {round_id}: model 0x{cp.model_root.hex()[:16]}… "
            f"parent 0x{cp.parent_root.hex()[:16]}… miner {cp.miner}", depth)
        self.check_attestations(client, round_id, cp, depth + 1)
        rewards = {e["account"]: e["amount"] for e in client.events("Rewarded", round=round_id)}
        for cand in client.candidates(round_id):
            paid = rewards.get(cand.owner, 0) / 1e18
            kind = f"import #{cand.import_id}" if cand.is_import else f"worker {cand.owner}"
            say(f"candidate {cand.index}: {kind} 0x{cand.root.hex()[:16]}… reward {paid:.4f}",
                depth + 1)
            if cand.is_import:
                self.verify_import(client, cand, depth + 2)
        if self.recompute:
            self.recompute_round(name, round_id, cp, depth + 1)
        parent_round = self.round_of_parent(client, cp.parent_root, round_id)
        if parent_round is None:
            say("parent: the network's genesis model", depth + 1)
        else:
            self.verify_round(name, parent_round, depth)

    def check_attestations(self, client, round_id, cp, depth) -> None:
        committee = client.committee(round_id)
        stakes = dict(zip(committee.validators, committee.stakes))
        digest = checkpoint_digest(client.domain, round_id, cp.model_root, cp.parent_root, cp.uri)
        signed = 0
        for att in client.attestations(round_id):
            if recover(digest, att.signature) != att.signer or att.signer not in stakes:
                raise VerificationFailed(f"round {round_id}: attestation of {att.signer} "
                                         "does not recover to a committee validator")
            signed += stakes[att.signer]
        if 3 * signed < 2 * committee.total_stake:
            raise VerificationFailed(f"round {round_id}: attesting stake {signed} is below "
                                     f"2/3 of the committee's {committee.total_stake}")
        self.result.say(f"attested by {len(client.attestations(round_id))} validators, "
                        f"{signed / committee.total_stake:.0%} of committee stake", depth)

    def verify_import(self, client, cand, depth) -> None:
        from poft.ledger import BridgeClient

        bridge = BridgeClient(client.backend, client.call("bridge"))
        record = bridge.import_record(cand.import_id)
        source = next((n for n, (c, _) in self.networks.items()
                       if c.network_id == record.network_id), None)
        self.result.say(f"imported from network 0x{record.network_id.hex()[:12]}… "
                        f"({source or 'not in this deployment'}) round {record.round}, signed by "
                        f"{record.signer_stake / record.total_stake:.0%} of its stake", depth)
        if source is None:
            return
        src_client, _ = self.networks[source]
        src_cp = src_client.checkpoint(record.round)
        if src_cp is None or src_cp.model_root != record.model_root:
            raise VerificationFailed(
                f"import #{cand.import_id}: network {source} round {record.round} did not "
                f"finalize 0x{record.model_root.hex()}")
        self.verify_round(source, record.round, depth)

    def round_of_parent(self, client, parent_root: bytes, before: int) -> int | None:
        for event in client.events("RoundFinalized"):
            if event["model_root"] == parent_root and event["round"] < before:
                return event["round"]
        return None

    def parent_uri(self, client, entry, parent_root: bytes, round_id: int) -> str:
        """Where the parent's bytes are (a locator only: the bytes are checked by root)."""
        parent_round = self.round_of_parent(client, parent_root, round_id)
        if parent_round is not None:
            return client.checkpoint(parent_round).uri
        return entry["genesis_uri"]

    def history_of(self, name: str, spec: AggregationSpec) -> WorkerHistory | None:
        """The network's workers' histories, kept across the rounds this run recomputes."""
        if not spec.uses_history:
            return None
        if name not in self.histories:
            genesis_uri = self.networks[name][1]["genesis_uri"]
            self.histories[name] = WorkerHistory(genesis_uri, keep_rounds=True)
        return self.histories[name]

    def recompute_round(self, name: str, round_id, cp, depth) -> None:
        client, entry = self.networks[name]
        spec = AggregationSpec(**entry["aggregation"])
        parent_uri = self.parent_uri(client, entry, cp.parent_root, round_id)
        template = load_canonical(self.store.get(parse_location(parent_uri)))
        codec = ModelCodec(template)
        fingerprint = client.global_model().fingerprint
        parent = codec.fetch(self.store, cp.parent_root, parent_uri, fingerprint)
        final = codec.fetch(self.store, cp.model_root, cp.uri, fingerprint)
        inputs = collect_round_inputs(client, self.store, codec, round_id, parent, fingerprint,
                                      CandidateCache(), with_previous_step=spec.momentum > 0,
                                      history=self.history_of(name, spec))
        expected = aggregate_round(inputs, spec)
        if not matches(final, expected.model, spec.tolerance):
            gap = float((final - expected.model).abs().max())
            raise VerificationFailed(f"round {round_id}: recomputed aggregate differs from the "
                                     f"finalized model (max |Δ| = {gap:.3g})")
        if weights_hash(expected.fixed_weights) != cp.weights_hash:
            raise VerificationFailed(f"round {round_id}: recomputed weights do not match the "
                                     "finalized weights hash")
        self.result.say(f"recomputed from {len(inputs.candidates)} stored candidates: matches "
                        f"(weights {', '.join(f'{w:.3f}' for w in expected.weights.tolist())})",
                        depth)


def read_deployment(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"deployment file {str(path)!r} does not exist; {DEPLOYMENT_HINT}")
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"deployment file {str(path)!r} is not readable JSON ({exc}); "
                         f"{DEPLOYMENT_HINT}") from None
    if not isinstance(info, dict):
        raise InputError(f"deployment file {str(path)!r} is not a JSON object; "
                         f"{DEPLOYMENT_HINT}")
    return info


def need(table, key: str, path: Path, where: str = ""):
    """`table[key]`, or an InputError that names the missing key and the file's shape."""
    if not isinstance(table, dict) or key not in table:
        raise InputError(f"deployment file {str(path)!r}{where} has no {key!r} entry; "
                         f"{DEPLOYMENT_HINT}")
    return table[key]


def read_model(model_file: str | Path) -> bytes:
    path = Path(model_file)
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist (or is not a file); "
                         "name a .safetensors model written by `poft run` (models/<network>/"
                         "round-<r>.safetensors)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"model file {str(path)!r} cannot be read ({exc})") from None


def open_backend(entry: dict, base: Path, path: Path = Path("deployment.json"),
                 where: str = ""):
    from poft.ledger import EmbeddedBackend, RpcBackend

    backend = need(entry, "backend", path, where)
    if backend not in ("embedded", "rpc"):
        raise InputError(f"deployment file {str(path)!r}{where}: backend {backend!r} is "
                         f"neither 'embedded' nor 'rpc'; {DEPLOYMENT_HINT}")
    if backend == "embedded":
        journal = Path(_resolve(base, need(entry, "journal", path, where)))
        if not journal.is_file():
            raise InputError(f"chain journal {str(journal)!r} named by deployment file "
                             f"{str(path)!r} does not exist; the run's chain/ folder must sit "
                             "next to its deployment.json")
        return EmbeddedBackend.replay(journal)
    return RpcBackend(need(entry, "rpc_url", path, where))


def deployment_of(entry: dict) -> Deployment:
    """The `Deployment` part of a deployment.json network entry (which holds more)."""
    fields = Deployment.__dataclass_fields__
    return Deployment.from_json({k: v for k, v in entry.items() if k in fields})


def verify_model(model_file, deployment_file, *, recompute: bool = False) -> VerifyResult:
    """The verdict on `model_file`'s lineage. Bad input (a missing or non-model file, a
    missing or malformed deployment file) raises InputError; a lineage that does not
    hold (or a chain journal that does not reproduce its head) is a failed result."""
    read_model(model_file)          # a missing model is bad input, before opening chains
    try:
        verifier = LineageVerifier(deployment_file, recompute)
    except LedgerError as exc:
        return VerifyResult(ok=False, model=str(model_file),
                            reason=f"cannot use deployment {deployment_file}: {exc}")
    return verifier.verify_file(model_file)


def _resolve(base: Path, path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else base / p)
