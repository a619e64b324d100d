"""On-chain bytes per model: poft's commitment vs the raw-weight embedding of
PoFT's prototype, at 100k, 1M and 10M parameters.

    python -m bench.onchain_bytes

The prototype wrote a model's serialized weights on chain in 800 KiB fragments,
one transaction each. poft writes the model's Merkle root (plus the 32-byte
SHA-256 digest of the blob, which the store keeps under the uri
``sha256:<hex>``) in one ``submit_update`` transaction. The architecture
fingerprint is not sent: it is the global model's, fixed at genesis, and
validators check the blob against it.

Two counts of poft's side, the prototype's being its *transaction payload*
(calldata, what every node keeps forever in its blocks) in both:

* calldata: the input of a real ``submit_update`` for a real commitment of a
  model of that size, mined on the embedded EVM;
* all-in (the goal): that calldata, plus the event it emits (its data and its
  32-byte topics, measured from the receipt), plus the storage words it writes:
  a ``Candidate``'s owner and root (its ``import_id`` is 0 for a worker's update:
  a zero word is not stored) and the ``submitted`` flag. The round's two counters
  (candidates, submissions) are words per round, not per model.

The prototype: the model's serialized weights (poft's canonical bytes, i.e. the
raw float32 values plus a small header), split into 800 KiB fragments, each
fragment's ABI-encoded call ``store_fragment(model_id, index, bytes)`` (4-byte
selector, three 32-byte head words, the length word and the bytes padded to 32)
-- the least such a call can carry (its events and storage are not counted,
which leans towards the prototype).
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


from bench.commitment import make_state  # noqa: E402  (bench/commitment.py)
from bench.figures import Figure, at_least, context, table  # noqa: E402
from poft.commitment import commit  # noqa: E402
from poft.ledger import EmbeddedBackend, LedgerClient, NetworkParams, deploy_network  # noqa: E402
from poft.store import digest_of, location  # noqa: E402

ETH = 10**18
FRAGMENT = 800 * 1024
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
# Non-zero words a worker's submission stores: Candidate.owner, Candidate.root (its
# import_id is 0: not stored) and submitted[round][worker].
STORAGE_WORDS_PER_SUBMISSION = 3


def prototype_payload(blob_len: int) -> int:
    """Calldata of embedding ``blob_len`` bytes as 800 KiB fragment transactions."""
    fragments = math.ceil(blob_len / FRAGMENT)
    total = 0
    for i in range(fragments):
        size = min(FRAGMENT, blob_len - i * FRAGMENT)
        total += 4 + 3 * 32 + 32 + 32 * math.ceil(size / 32)
    return total


def poft_submission(commitment, blob: bytes) -> tuple[int, int, int]:
    """(calldata, event data + topics, storage) bytes of one real submission of a model."""
    backend = EmbeddedBackend(seed=0)
    params = NetworkParams(name="bytes", k_validators=1, n_miners=1, phase_blocks=20,
                           min_stake=ETH, initial_pool=10 * ETH,
                           genesis_fingerprint=commitment.fingerprint)
    deployment = deploy_network(backend, params)
    # Two workers: the first's submission does not also close TRAIN (a PhaseChanged
    # event, once per round, is no part of a model's bytes).
    worker, other, staker = backend.funded_accounts(3)
    client = LedgerClient.for_deployment(backend, deployment, worker)
    client.register(is_worker=True, stake=2 * ETH)
    LedgerClient.for_deployment(backend, deployment, other).register(is_worker=True, stake=2 * ETH)
    LedgerClient.for_deployment(backend, deployment, staker).register(is_worker=False, stake=2 * ETH)
    round_ = client.open_round()
    client.submit_update(round_, commitment.root, location(digest_of(blob)))
    tx_hash = backend.w3.eth.get_block("latest")["transactions"][-1]
    sent = backend.w3.eth.get_transaction(tx_hash)
    receipt = backend.w3.eth.get_transaction_receipt(tx_hash)
    logs = sum(len(log["data"]) + 32 * len(log["topics"]) for log in receipt["logs"])
    return len(sent["input"]), logs, 32 * STORAGE_WORDS_PER_SUBMISSION


def measure(sizes: dict[str, int]) -> list[dict]:
    rows = []
    for label, params in sizes.items():
        commitment, blob = commit(make_state(params))
        blob_len = len(blob)
        calldata, logs, storage = poft_submission(commitment, blob)
        rows.append({"label": label, "params": params, "blob": blob_len,
                     "prototype": prototype_payload(blob_len), "fragments": math.ceil(blob_len / FRAGMENT),
                     "poft": calldata, "poft_logs": logs, "poft_storage": storage,
                     "poft_all_in": calldata + logs + storage})
    return rows


def figures(quick: bool = False) -> list[Figure]:
    sizes = {"100k": SIZES["100k"], "1M": SIZES["1M"]} if quick else SIZES
    out = []
    for row in measure(sizes):
        ratio = row["prototype"] / row["poft"]
        note = (f"{row['fragments']} fragments, {row['prototype']:,} B vs poft's "
                f"{row['poft']:,} B of calldata")
        if row["label"] == "1M":
            out.append(at_least("onchain_bytes_ratio_1M", ratio, 1e4, "x", note))
            out.append(at_least("onchain_bytes_ratio_1M_all_in", row["prototype"] / row["poft_all_in"],
                                1e4, "x", f"poft's calldata {row['poft']:,} + event "
                                          f"{row['poft_logs']:,} + storage {row['poft_storage']:,} "
                                          f"= {row['poft_all_in']:,} B"))
        else:
            out.append(context(f"onchain_bytes_ratio_{row['label']}", ratio, "x", note))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k and 1M only")
    args = parser.parse_args(argv)
    print(table(figures(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
