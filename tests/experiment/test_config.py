"""Configs are validated on load: each error names the key, the value and what is allowed."""

import tomllib
from pathlib import Path

import pytest

from poft.config.experiment import ConfigError, dump_config, load_config, parse_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def net(**overrides):
    return {"name": "alpha", **overrides}


def test_examples_load():
    from poft.experiment.convex import load_convex_config
    from poft.experiment.robustness import load_robustness_config

    for path in sorted(EXAMPLES.glob("*.toml")):
        text = path.read_text()
        if "[grid]" in text:
            config, _ = load_robustness_config(path)
        elif "[convex]" in text:
            config, _ = load_convex_config(path)
        else:
            config = load_config(path)
        assert config.networks, path


def test_resolved_config_round_trips_through_toml():
    config = parse_config({"networks": [net(attack="sign_flip", byzantine_fraction=0.2,
                                            attack_params={"scale": 2.0})],
                           "crosschain": {"enabled": False}})
    assert parse_config(tomllib.loads(dump_config(config))) == config


@pytest.mark.parametrize("table, key, fragment", [
    ({"networks": [net(wokers=3)]}, "networks[0].wokers", "allowed keys are"),
    ({"networks": [net(partition="zipf")]}, "networks[0].partition", "'iid', 'dirichlet'"),
    ({"networks": [net(workers=0)]}, "networks[0].workers", "must be >= 1"),
    ({"networks": [net(workers="ten")]}, "networks[0].workers", "expected an integer"),
    ({"networks": [net(stakers=3)]}, "networks[0].stakers", "cannot fill a committee"),
    ({"networks": [net(byzantine_fraction=0.2)]}, "networks[0].attack", "needs an attack"),
    ({"networks": [net(attack="sign_flip")]}, "networks[0].byzantine_fraction",
     "no Byzantine worker"),
    ({"networks": [net(attack="gaussian", byzantine_fraction=0.04)]},   # 0.4 of 10 workers
     "networks[0].byzantine_fraction", "at least 0.1"),
    ({"networks": []}, "networks", "at least one"),
    ({"networks": [net(), net()]}, "networks", "used twice"),
    ({"networks": [net()], "training": {"lr": "fast"}}, "training.lr", "expected a number"),
    ({"networks": [net()], "aggregation": {"rule": "avg"}}, "aggregation.rule", "'softmax'"),
    ({"networks": [net()], "data": {"network_partition": "label_skew"}},
     "networks[0].classes", "needs each network's classes"),
    ({"networks": [net()], "crosschain": {"enabled": True, "links": [
        {"source": "alpha", "target": "beta"}]}}, "crosschain.links[0].target", "not a network"),
    ({"networks": [net()], "experiment": {"rounds": 0}}, "experiment.rounds", ">= 1"),
    ({}, "networks", "required key is missing"),
    ({"networks": [net()], "aggregation": {"params": {"momentum": 1.5}}},
     "aggregation.params.momentum", "must be < 1"),
    ({"networks": [net()], "aggregation": {"params": {"tempurature": 2.0}}},
     "aggregation.params.tempurature", "it takes temperature"),
    ({"networks": [net()], "aggregation": {"params": {"gate": 1}}},
     "aggregation.params.gate", "true or false"),
    ({"networks": [net()], "aggregation": {"params": {"cap": 0.5}}},
     "aggregation.params.cap", "must be >= 1"),
    ({"networks": [net()], "aggregation": {"params": {"duplicate_power": 0.5}}},
     "aggregation.params.duplicate_power", "must be >= 1"),
    ({"networks": [net()], "aggregation": {"params": {"history_mads": 0}}},
     "aggregation.params.history_mads", "must be > 0"),
    ({"networks": [net()], "aggregation": {"params": {"history_neighbours": 1.5}}},
     "aggregation.params.history_neighbours", "must be an integer"),
    ({"networks": [net()], "aggregation": {"params": {"cap_radius": "yes"}}},
     "aggregation.params.cap_radius", "true or false"),
    ({"networks": [net()], "aggregation": {"params": {"discount_admissible": 0}}},
     "aggregation.params.discount_admissible", "true or false"),
    # names used in file names cannot leave the output folder
    ({"networks": [net(name="../../escaped")]}, "networks[0].name", "used in file names"),
    ({"networks": [net(name="a/b")]}, "networks[0].name", "letters, digits"),
    ({"networks": [net()], "experiment": {"name": ""}}, "experiment.name", "used in file names"),
    # numbers that would only fail inside the first round
    ({"networks": [net()], "training": {"lr": 0.0}}, "training.lr", "must be > 0"),
    ({"networks": [net()], "training": {"lr": float("nan")}}, "training.lr", "finite number"),
    ({"networks": [net()], "training": {"lr": float("inf")}}, "training.lr", "finite number"),
    ({"networks": [net(attack="scaling", byzantine_fraction=0.2,
                       attack_params={"bogus": 1})]},
     "networks[0].attack_params", "scaling has no parameter 'bogus'; it takes factor"),
    ({"networks": [net(attack="backdoor", byzantine_fraction=0.2,
                       attack_params={"target": 0, "sise": 3})]},
     "networks[0].attack_params", "it takes target, fraction, size, value"),
    ({"networks": [net()], "aggregation": {"rule": "mean", "params": {"zzz": 10}}},
     "aggregation.params.zzz", "mean has no parameter 'zzz'; it takes f"),
    ({"networks": [net(workers=3)], "aggregation": {"rule": "krum", "params": {"f": 1}}},
     "aggregation.params.f", "krum with the 3 workers of network 'alpha' allows f <= 0"),
    ({"networks": [net(), net(name="beta", rule="mean")], "aggregation": {"params": {"zz": 1}}},
     "aggregation.params.zz", "no rule in use takes it (mean takes f; robust_softmax takes"),
])
def test_bad_config_names_key_value_and_allowed(table, key, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(table)
    message = str(err.value)
    assert f"'{key}'" in message and fragment in message


def test_a_baseline_parameter_is_not_robust_softmaxs_business():
    # one network on robust_softmax, one on Krum: Krum's f shares the params table
    config = parse_config({"networks": [net(), net(name="beta", rule="krum")],
                           "aggregation": {"params": {"f": 1, "momentum": 0.2}}})
    assert config.aggregation.params == {"f": 1, "momentum": 0.2}


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder; give a config file"):
        load_config(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x96\x00garbage")
    with pytest.raises(ConfigError, match="not a TOML text file: byte 0 is not UTF-8"):
        load_config(binary)
    with_bom = tmp_path / "bom.toml"                # as some Windows editors save
    with_bom.write_bytes(b"\xef\xbb\xbf[[networks]]\nname = 'alpha'\n")
    assert load_config(with_bom).networks[0].name == "alpha"
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_overrides_replace_seed_and_rounds_only():
    config = parse_config({"networks": [net()], "experiment": {"seed": 1, "rounds": 4}})
    changed = config.with_overrides(seed=7, rounds=None)
    assert (changed.experiment.seed, changed.experiment.rounds) == (7, 4)
    assert changed.networks == config.networks


@pytest.mark.parametrize("override, message", [
    ({"rounds": 0}, "--rounds 0 (overrides experiment.rounds): 0 (int) is too small"),
    ({"seed": -1}, "--seed -1 (overrides experiment.seed)"),
    ({"parallel_workers": 999}, "--parallel 999 (overrides experiment.parallel_workers)"),
    ({"cluster": "nowhere"}, "--cluster nowhere (overrides experiment.cluster)"),
])
def test_bad_override_names_its_flag(override, message):
    config = parse_config({"networks": [net()]})
    with pytest.raises(ConfigError) as caught:
        config.with_overrides(**override)
    assert message in str(caught.value)
