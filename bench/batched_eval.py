"""Benchmark: batched evaluation of candidate models vs a per-model loop.

Usage: ``.venv/bin/python -m bench.batched_eval [--candidates N] [--samples S] [--repeat R] [--threads T]``

A validator scores every candidate of a round on its local data. For
N (default 20) small-CNN candidates on the first S (default 2,000) Fashion-MNIST
test images it measures, in the same run, interleaved, the best of R repetitions
after one warm-up:

* ``loop``: for each candidate, ``load_state_dict`` + ``training.evaluate``
  (its default batch size) -- what a validator would do without batching;
* ``first cut``: the same loop with the CNN's stock ``nn.MaxPool2d`` and
  batches of 1,024, as the learning core first had it (for reference: the
  pooling and batch size changes sped every evaluation up, looped or not);
* ``batched``: ``batched_eval.batched_losses`` (vmap over stacked parameters),
  with the candidates stacked once beforehand (as the validator has them);

checks that all give the same losses, and prints the times and the speed-up of
batched vs loop (goal: >= 3x). A second case does the same on validator-sized
data (200 images). Timings are wall clock; on a shared machine run it when idle
(``--threads 1`` is steadier under load).
"""

from __future__ import annotations

import argparse
import os
import time

# Before torch loads OpenMP: sleeping (not spinning) idle threads keep timings
# sane when other processes share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the OpenMP setting)

from bench.figures import Figure, context  # noqa: E402
from poft.learning.batched_eval import batched_losses, pass_shape, stack_states  # noqa: E402
from poft.learning.datasets import ArrayDataset, load_dataset
from poft.learning.models import MaxPool2x2, build_model
from poft.learning.training import EVAL_BATCH_SIZE, evaluate  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--small-samples", type=int, default=200, help="the validator-sized case")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def make_candidates(n: int, input_shape) -> list[dict[str, torch.Tensor]]:
    """n CNNs with different random parameters (one architecture)."""
    states = []
    for i in range(n):
        torch.manual_seed(i)
        states.append(build_model("cnn", input_shape, 10).state_dict())
    return states


def first_cut_cnn(input_shape) -> torch.nn.Module:
    """The CNN with stock ``nn.MaxPool2d`` layers (same parameters, same outputs)."""
    model = build_model("cnn", input_shape, 10)
    for i, layer in enumerate(model):
        if isinstance(layer, MaxPool2x2):
            model[i] = torch.nn.MaxPool2d(2)
    return model


def looped_losses(model, states, data: ArrayDataset, batch_size: int) -> torch.Tensor:
    losses = []
    for state in states:
        model.load_state_dict(state)
        losses.append(evaluate(model, data, batch_size=batch_size)[0])
    return torch.tensor(losses, dtype=torch.float64)


def best_times(contenders: dict, repeat: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Warm each contender up once, then time them interleaved; best (minimum) wall time each."""
    results = {name: fn() for name, fn in contenders.items()}
    times = {name: float("inf") for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():  # interleaved: background load hits all alike
            start = time.perf_counter()
            fn()
            times[name] = min(times[name], time.perf_counter() - start)
    return times, results


def run_case(title: str, data: ArrayDataset, states, repeat: int, show: bool = True) -> float:
    model = build_model("cnn", data.input_shape, 10)
    stock = first_cut_cnn(data.input_shape)
    stacked = stack_states(states, model)
    candidates, samples = pass_shape(model, data, len(states))
    contenders = {
        f"loop (evaluate, batch {EVAL_BATCH_SIZE})": lambda: looped_losses(model, states, data, EVAL_BATCH_SIZE),
        "first cut (nn.MaxPool2d, batch 1024)": lambda: looped_losses(stock, states, data, 1024),
        f"batched (vmap, {candidates} cand. x {samples} samples/pass)": lambda: batched_losses(model, stacked, data, strategy="vmap"),
    }
    times, results = best_times(contenders, repeat)
    values = list(results.values())
    gap = max(float((v - values[0]).abs().max()) for v in values[1:])
    loop_time, batched_time = list(times.values())[0], list(times.values())[-1]
    if gap > 1e-4:
        raise AssertionError(f"{title}: batched and looped losses differ by {gap:.1e}")
    ratio = loop_time / batched_time
    if show:
        print(f"\n{title}: {len(states)} CNN candidates x {len(data)} images "
              f"(max |loss difference| {gap:.1e})")
        for name, seconds in times.items():
            print(f"  {name:<48} {seconds * 1000:9.1f} ms")
        print(f"  speed-up batched vs loop: {ratio:.2f}x "
              f"(vs the first-cut loop: {list(times.values())[1] / batched_time:.2f}x)")
    return ratio


def figures(quick: bool = False) -> list[Figure]:
    torch.set_num_threads(2)
    test = load_dataset("fashion_mnist", "test")
    states = make_candidates(10 if quick else 20, test.input_shape)
    samples = 500 if quick else 2000
    ratio = run_case("bench case", test.subset(range(samples)), states, 2 if quick else 5,
                     show=False)
    small = run_case("validator-sized", test.subset(range(200)), states, 2 if quick else 5,
                     show=False)
    # Context, no goal: the 3x goal was dropped (scoring is not where a round's time goes).
    return [context("batched_eval_speedup", ratio, "x",
                    f"vmap over {len(states)} CNN candidates vs a loop, {samples} images"),
            context("batched_eval_speedup_200", small, "x", "the same on 200 images")]


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s) of {os.cpu_count()} CPUs, "
          f"best of {args.repeat} after a warm-up")
    test = load_dataset("fashion_mnist", "test")
    states = make_candidates(args.candidates, test.input_shape)
    ratio = run_case("bench case", test.subset(range(args.samples)), states, args.repeat)
    small_ratio = run_case("validator-sized data", test.subset(range(args.small_samples)), states, args.repeat)
    verdict = "meets" if ratio >= 3 else "misses"
    print(f"\nspeed-up {ratio:.2f}x on {args.samples} images ({verdict} the 3x goal), "
          f"{small_ratio:.2f}x on {args.small_samples} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
