"""Benchmark: commitment throughput vs raw SHA-256.

Usage: ``.venv/bin/python -m bench.commitment [--params N] [--repeat R] [--chunk-size B]``

For a model of ~N float32 parameters (default 10 M, ~40 MB) it measures, in
the same run and as the best of R repetitions:

* ``canonical_bytes(state)``: serialization, timed on its own;
* ``merkle_root(blob)``: the commitment of bytes already made;
* ``hashlib.sha256(blob)``: one raw hash over the same bytes (the ceiling);

and prints MB/s of each and the ratio Merkle / raw (goal: >= 0.7).
"""

from __future__ import annotations

import argparse
import hashlib
import time

import torch

from bench.figures import Figure, at_least, context  # noqa: E402
from poft.commitment import DEFAULT_CHUNK_SIZE, canonical_bytes, commit_bytes, merkle_root


def make_state(num_params: int) -> dict[str, torch.Tensor]:
    """An MLP-like state dict of about ``num_params`` float32 values (+ a BatchNorm buffer)."""
    gen = torch.Generator().manual_seed(0)
    width = 1024
    state, total, layer = {}, 0, 0
    while total < num_params:
        rows = min(width, max(1, (num_params - total) // width))
        state[f"layer{layer}.weight"] = torch.randn(rows, width, generator=gen)
        state[f"layer{layer}.bias"] = torch.randn(rows, generator=gen)
        total += rows * width + rows
        layer += 1
    state["bn.num_batches_tracked"] = torch.tensor(7)
    return state


def best_of(repeat: int, fn, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(params: int, repeat: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict:
    """Best-of-``repeat`` seconds of serialisation, raw SHA-256, Merkle root and commit."""
    state = make_state(params)
    t_canon = best_of(repeat, canonical_bytes, state)
    blob = canonical_bytes(state)
    # Interleave the two measurements so that CPU frequency drift hits both alike.
    t_raw, t_merkle = float("inf"), float("inf")
    for _ in range(repeat):
        t_raw = min(t_raw, best_of(1, lambda: hashlib.sha256(blob).digest()))
        t_merkle = min(t_merkle, best_of(1, merkle_root, blob, chunk_size))
    t_commit = best_of(repeat, commit_bytes, blob)
    return {"params": sum(t.numel() for t in state.values()), "bytes": len(blob),
            "canonical_s": t_canon, "raw_s": t_raw, "merkle_s": t_merkle, "commit_s": t_commit}


def figures(quick: bool = False) -> list[Figure]:
    r = measure(1_000_000 if quick else 10_000_000, 3 if quick else 7)
    mb = r["bytes"] / 1e6
    return [at_least("commitment_vs_sha256", r["raw_s"] / r["merkle_s"], 0.7, "x",
                     f"Merkle root {mb / r['merkle_s']:.0f} MB/s vs hashlib.sha256 "
                     f"{mb / r['raw_s']:.0f} MB/s on {r['params'] / 1e6:.0f}M params"),
            context("commitment_serialise_mb_s", mb / r["canonical_s"], "MB/s",
                    "canonical safetensors bytes of a state dict")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()

    r = measure(args.params, args.repeat, args.chunk_size)
    n, mb = r["params"], r["bytes"] / 1e6
    t_canon, t_raw, t_merkle, t_commit = r["canonical_s"], r["raw_s"], r["merkle_s"], r["commit_s"]
    print(f"model: {n:,} parameters, {r['bytes']:,} canonical bytes; chunk size {args.chunk_size:,} B; best of {args.repeat}")
    print(f"canonical_bytes(state):     {t_canon * 1e3:8.1f} ms  {mb / t_canon:8.0f} MB/s")
    print(f"hashlib.sha256(blob) (raw): {t_raw * 1e3:8.1f} ms  {mb / t_raw:8.0f} MB/s")
    print(f"merkle_root(blob):          {t_merkle * 1e3:8.1f} ms  {mb / t_merkle:8.0f} MB/s")
    print(f"commit_bytes(blob):         {t_commit * 1e3:8.1f} ms  {mb / t_commit:8.0f} MB/s")
    ratio = t_raw / t_merkle
    print(f"ratio merkle/raw throughput: {ratio:.3f}  (goal >= 0.7: {'ok' if ratio >= 0.7 else 'MISSED'})")


if __name__ == "__main__":
    main()
