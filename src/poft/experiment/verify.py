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

import json
from dataclasses import dataclass, field
from pathlib import Path

from poft.commitment import CommitmentError, commit_bytes, load_canonical
from poft.errors import PoftError
from poft.ledger import Deployment, LedgerClient, LedgerError, weights_hash
from poft.ledger.eip712 import checkpoint_digest, recover
from poft.protocol.aggregate import AggregationSpec, aggregate_round, matches
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, collect_round_inputs
from poft.store import StoreError, open_store, parse_location


class VerificationFailed(PoftError):
    """One link of the lineage does not hold; the message says which and why."""


@dataclass
class VerifyResult:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    reason: str = ""

    def say(self, text: str, depth: int = 0) -> None:
        self.lines.append("  " * depth + text)

    def render(self) -> str:
        verdict = "VERIFIED" if self.ok else f"FAILED: {self.reason}"
        return "\n".join(self.lines + [verdict])


class LineageVerifier:
    def __init__(self, deployment_file: str | Path, recompute: bool):
        self.path = Path(deployment_file)
        info = json.loads(self.path.read_text())
        base = self.path.parent
        self.store = open_store(_resolve(base, info["store"]))
        self.recompute = recompute
        self.networks: dict[str, tuple[LedgerClient, dict]] = {}
        for name, entry in info["networks"].items():
            backend = open_backend(entry, base)
            client = LedgerClient.for_deployment(backend, deployment_of(entry))
            self.networks[name] = (client, entry)
        self.result = VerifyResult()
        self.checked: set[tuple[str, int]] = set()

    def verify_file(self, model_file: str | Path) -> VerifyResult:
        try:
            blob = Path(model_file).read_bytes()
            root = commit_bytes(blob).root
            self.result.say(f"model {model_file}: root 0x{root.hex()}")
            name, round_id = self.find_finalizing_round(root)
            self.verify_round(name, round_id, depth=0)
        except (VerificationFailed, CommitmentError, StoreError, OSError) as exc:
            self.result.ok, self.result.reason = False, str(exc)
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
            self.recompute_round(client, entry, round_id, cp, depth + 1)
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

    def recompute_round(self, client, entry, round_id, cp, depth) -> None:
        spec = AggregationSpec(**entry["aggregation"])
        parent_uri = self.parent_uri(client, entry, cp.parent_root, round_id)
        template = load_canonical(self.store.get(parse_location(parent_uri)))
        codec = ModelCodec(template)
        fingerprint = client.global_model().fingerprint
        parent = codec.fetch(self.store, cp.parent_root, parent_uri, fingerprint)
        final = codec.fetch(self.store, cp.model_root, cp.uri, fingerprint)
        inputs = collect_round_inputs(client, self.store, codec, round_id, parent, fingerprint,
                                      CandidateCache())
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


def open_backend(entry: dict, base: Path):
    from poft.ledger import EmbeddedBackend, RpcBackend

    if entry["backend"] == "embedded":
        return EmbeddedBackend.replay(_resolve(base, entry["journal"]))
    return RpcBackend(entry["rpc_url"])


def deployment_of(entry: dict) -> Deployment:
    """The `Deployment` part of a deployment.json network entry (which holds more)."""
    fields = Deployment.__dataclass_fields__
    return Deployment.from_json({k: v for k, v in entry.items() if k in fields})


def verify_model(model_file, deployment_file, *, recompute: bool = False) -> VerifyResult:
    try:
        verifier = LineageVerifier(deployment_file, recompute)
    except (OSError, KeyError, ValueError, LedgerError) as exc:
        return VerifyResult(ok=False, reason=f"cannot use deployment {deployment_file}: {exc}")
    return verifier.verify_file(model_file)


def _resolve(base: Path, path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else base / p)

