"""Property-based: the config loader refuses anything TOML-shaped it cannot use with a
ConfigError (one line at the CLI, exit 2), never another exception."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poft.config.experiment import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
BASE = tomllib.loads((ROOT / "examples" / "two-networks.toml").read_text())
SECTIONS = list(BASE) + ["grid", "convex"]
KEYS = sorted({key for table in BASE.values() if isinstance(table, dict) for key in table}
              | {key for net in BASE["networks"] for key in net}
              | {"links", "source", "target", "every", "enabled", "params", "f", "rule"})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["softmax", "krum", "digits", "mlp", "cnn", "sign_flip", "alpha",
                     "beta", "candidate", "init", "merge", "none", "", "0"]))
keys = st.one_of(st.sampled_from(SECTIONS + KEYS), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)

FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def loads_or_config_error(table) -> None:
    try:
        parse_config(table)
    except ConfigError as exc:
        assert str(exc).startswith("config error") or "config" in str(exc)


@FAST
@given(st.dictionaries(keys, values, max_size=6))
def test_random_tables_load_or_raise_config_error(table):
    loads_or_config_error(table)


@st.composite
def mutated_example(draw):
    """A valid config with a few values replaced, removed or added at random places."""
    table = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sorted(table)))
        target = table[section]
        if isinstance(target, list) and target:
            target = target[draw(st.integers(0, len(target) - 1))]
        if not isinstance(target, dict):
            table[section] = draw(values)
            continue
        key = draw(st.one_of(st.sampled_from(sorted(target) or KEYS), st.sampled_from(KEYS)))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(values)
    return table


@FAST
@given(mutated_example())
def test_mutated_examples_load_or_raise_config_error(table):
    loads_or_config_error(table)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.text(max_size=80))
def test_any_file_text_loads_or_raises_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError:
        pass


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(min_value=-2**80, max_value=2**80))
def test_an_accepted_seed_seeds_every_generator(seed):
    """A seed the loader accepts must be usable (torch refuses seeds beyond 64 bits,
    which used to surface as a bug in the middle of a run)."""
    import torch

    from poft.config.population import plan_population
    from poft.drivers.setup import participant_seed

    table = copy.deepcopy(BASE)
    table["experiment"]["seed"] = seed
    try:
        config = parse_config(table)
    except ConfigError:
        return
    plan = plan_population(config, __import__("numpy").arange(20_000) % 10)[-1]
    torch.Generator().manual_seed(participant_seed(config, plan, plan.stakers[-1]))
    torch.Generator().manual_seed(config.experiment.seed * 1000 + plan.network_index)
