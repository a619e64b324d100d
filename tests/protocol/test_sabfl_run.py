"""SABFL on one network, end to end on the embedded EVM with the real contracts.

Small runs on scikit-learn's digits (an MLP, a few workers, 2-3 rounds) through
the same in-process driver and role code as `poft run`.
"""

import dataclasses
import json
import logging

import pytest
import torch

from poft.cli import main as poft
from poft.commitment import commit
from poft.drivers.inprocess.driver import InProcessDriver
from poft.experiment.run import run_experiment
from poft.ledger import Phase
from poft.protocol.worker import ByzantineWorker
from run_support import tiny


def trained_here(config):
    """The config with every worker trained in this process, in turn (no pool): for
    tests that replace a worker's `local_update`."""
    return dataclasses.replace(config, experiment=dataclasses.replace(
        config.experiment, parallel_workers=1))


@pytest.fixture(scope="module")
def attacked_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("attacked")
    config = tiny(byzantine_fraction=0.34, attack="sign_flip")
    summary = run_experiment(config, out, progress=False)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return config, out, summary, records


def test_outputs_follow_design(attacked_run):
    _, out, summary, records = attacked_run
    for name in ("config.toml", "metrics.jsonl", "summary.json", "report.html",
                 "deployment.json", "models/alpha/round-2.safetensors"):
        assert (out / name).is_file(), name
    net = summary["networks"]["alpha"]
    assert net["rounds"] == 2 and len(net["accuracy_by_round"]) == 2
    assert set(summary["timing"]) >= {"total_s", "train_s", "ledger_s", "crosschain_s"}
    assert set(summary["crosschain"]) >= {"imports", "rejected", "overhead_fraction"}
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert len(records) == 2 and all(r["finalized"] for r in records)


def test_sign_flipping_workers_get_near_zero_weight(attacked_run):
    *_, records = attacked_run
    for rec in records:
        byz = [w for w, b in zip(rec["weights"], rec["byzantine"]) if b]
        honest = [w for w, b in zip(rec["weights"], rec["byzantine"]) if not b]
        assert len(byz) == 2 and max(byz) < 1e-3
        assert sum(honest) == pytest.approx(1.0, abs=1e-3)


def test_seeded_run_is_reproducible(attacked_run, tmp_path):
    config, _, summary, _ = attacked_run
    again = run_experiment(config, tmp_path, progress=False)
    assert again["networks"]["alpha"]["accuracy_by_round"] == \
        summary["networks"]["alpha"]["accuracy_by_round"]
    assert again["networks"]["alpha"]["final_root"] == summary["networks"]["alpha"]["final_root"]


def test_verify_passes_on_real_output(attacked_run, capsys):
    _, out, _, _ = attacked_run
    code = poft(["verify", str(out / "models/alpha/round-2.safetensors"),
                 "--deployment", str(out / "deployment.json"), "--recompute"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "alpha round 2" in printed and "alpha round 1" in printed and "VERIFIED" in printed


def test_verify_fails_on_one_changed_weight(attacked_run, tmp_path, capsys):
    _, out, _, _ = attacked_run
    blob = bytearray((out / "models/alpha/round-2.safetensors").read_bytes())
    blob[-5] ^= 0x01                                   # one bit of one float
    changed = tmp_path / "changed.safetensors"
    changed.write_bytes(bytes(blob))
    code = poft(["verify", str(changed), "--deployment", str(out / "deployment.json")])
    assert code == 1
    assert "no round" in capsys.readouterr().out


def test_verify_fails_on_model_from_another_run(attacked_run, tmp_path, capsys):
    config, out, _, _ = attacked_run
    other = run_experiment(config.with_overrides(seed=1, rounds=1), tmp_path, progress=False)
    code = poft(["verify", other["networks"]["alpha"]["final_model"],
                 "--deployment", str(out / "deployment.json")])
    assert code == 1
    assert "another run" in capsys.readouterr().out


def test_verify_fails_on_altered_chain_journal(attacked_run, tmp_path, capsys):
    _, out, _, _ = attacked_run
    deployment = json.loads((out / "deployment.json").read_text())
    journal_path = out / deployment["networks"]["alpha"]["journal"]
    journal = json.loads(journal_path.read_text())
    journal["entries"] = journal["entries"][:-1]       # drop the last transaction
    forged = tmp_path / "alpha.journal"
    forged.write_text(json.dumps(journal))
    deployment["networks"]["alpha"]["journal"] = str(forged)
    deployment["store"] = str(out / deployment["store"])
    forged_deployment = tmp_path / "deployment.json"
    forged_deployment.write_text(json.dumps(deployment))
    code = poft(["verify", str(out / "models/alpha/round-2.safetensors"),
                 "--deployment", str(forged_deployment)])
    assert code == 1
    assert "does not reproduce" in capsys.readouterr().out


def test_malicious_miner_is_slashed_and_backup_finalizes(tmp_path):
    config = tiny(stakers=3, validators=1, miners=2)
    with InProcessDriver(config, tmp_path) as driver:
        net = driver.networks[0]

        def first_miner_cheats(network, round_id):
            miners = network.anyone.committee(round_id).miners
            for address, staker in network.stakers.items():
                staker.miner.malicious = address == miners[0]

        net.before_train.append(first_miner_cheats)
        finals_before = []
        for _ in range(2):
            record = driver.run_round()[0]
            cheat = net.anyone.committee(record.round).miners[0]
            slashed = net.anyone.events("MinerSlashed", round=record.round)
            assert [e["miner"] for e in slashed] == [cheat]
            assert record.finalized and record.miners_tried == [cheat, record.miners_tried[1]]
            assert net.anyone.checkpoint(record.round).miner == record.miners_tried[1]
            assert net.anyone.stake(cheat) < 32 * 10**18
            for r, root in finals_before:               # nothing final changed
                assert net.anyone.checkpoint(r).model_root == root
            finals_before.append((record.round, net.anyone.checkpoint(record.round).model_root))
        assert net.anyone.balance_conserved()
        assert net.anyone.phase() == Phase.IDLE


def test_minority_of_lying_validators_does_not_change_the_model(tmp_path):
    """With the honest validators scoring on the same data, the median ignores one liar
    (1 of 3 equal stakes: below 1/3 of the committee's stake). The paper's softmax: its
    honest validators with the same data report the same losses (robust_softmax's train
    their own reference updates, so their reports differ)."""
    roots = {}
    for lying in (False, True):
        config = tiny(stakers=4, validators=3, miners=1, rule="softmax")
        with InProcessDriver(config, tmp_path / f"lying-{lying}") as driver:
            net = driver.networks[0]
            shared = next(iter(net.stakers.values())).validator.data
            for staker in net.stakers.values():
                staker.validator.data = shared

            def one_validator_lies(network, round_id, lying=lying):
                liar = network.anyone.committee(round_id).validators[0]
                for address, staker in network.stakers.items():
                    staker.validator.lying = lying and address == liar

            net.before_train.append(one_validator_lies)
            records = [driver.run_round()[0] for _ in range(2)]
            assert all(r.finalized for r in records)
            roots[lying] = records[-1].model_root
            reports = net.anyone.reports(records[-1].round)
            assert len(reports) == 3
            distinct = {tuple(losses) for losses in reports.values()}
            assert len(distinct) == (2 if lying else 1)   # the liar's report differs
    assert roots[False] == roots[True]


def test_nan_and_substituted_updates_get_zero_weight(tmp_path):
    config = trained_here(tiny())
    with InProcessDriver(config, tmp_path) as driver:
        net = driver.networks[0]
        nan_worker, victim = net.workers[0], net.workers[1]
        nan_worker.local_update = lambda start: torch.full_like(start, float("nan"))
        original_submit = victim.submit

        def substitute(round_id, vec):
            root = original_submit(round_id, vec)
            cand = [c for c in net.anyone.candidates(round_id) if c.root == root][0]
            path = driver.store.path_for(cand.uri.split(":", 1)[1])
            path.write_bytes(path.read_bytes()[::-1])       # someone swaps the stored bytes
            return root

        victim.submit = substitute
        record = driver.run_round()[0]
    assert record.finalized
    assert record.weights[0] == 0.0 and record.weights[1] == 0.0
    assert sum(record.weights) == pytest.approx(1.0, abs=1e-6)


def test_update_of_another_architecture_gets_zero_weight(tmp_path, caplog):
    """The chain takes an update's root and blob digest, not its architecture: the
    validators and the miner refuse a blob whose fingerprint is not the global
    model's when they open it (a NaN row: weight 0)."""
    config = trained_here(tiny())
    with InProcessDriver(config, tmp_path) as driver:
        net = driver.networks[0]
        odd = net.workers[0]
        global_fingerprint = net.anyone.global_model().fingerprint

        def other_architecture(round_id, vec):
            state = odd.codec.to_state(vec)
            state["extra.weight"] = torch.zeros(3)            # one tensor more
            commitment, blob = commit(state)
            assert commitment.fingerprint != global_fingerprint
            odd.ledger.submit_update(round_id, commitment.root,
                                     driver.store.location(driver.store.put(blob)))
            return commitment.root

        odd.submit = other_architecture
        with caplog.at_level(logging.WARNING, logger="poft.protocol.round_inputs"):
            record = driver.run_round()[0]
        assert len(net.anyone.candidates(record.round)) == len(net.workers)  # on chain
    assert record.finalized
    assert record.weights[0] == 0.0
    assert sum(record.weights) == pytest.approx(1.0, abs=1e-6)
    assert any("architecture mismatch" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("attack", ["sign_flip", "scaling"])
def test_attackers_go_on_when_every_honest_update_diverged(tmp_path, attack):
    """Nothing finite to build an attack on: the colluders send their own
    (diverged) update instead of stopping the round."""
    config = trained_here(tiny(byzantine_fraction=0.34, attack=attack))
    with InProcessDriver(config, tmp_path) as driver:
        net = driver.networks[0]
        for worker in net.workers:
            worker.local_update = lambda start: torch.full_like(start, float("nan"))
        round_id = net.anyone.open_round()
        net.collect_updates(round_id)
        candidates = net.anyone.candidates(round_id)
    assert sum(isinstance(w, ByzantineWorker) for w in net.workers) == 2
    assert len(candidates) == len(net.workers)        # the attackers submitted too


def test_round_without_admissible_candidate_fails_and_the_run_goes_on(tmp_path):
    """Every update non-finite: no miner proposes, the AGGREGATE deadlines pass (each
    backup miner in turn), the round fails on chain and the next round starts from the
    same global model."""
    config = trained_here(tiny())
    with InProcessDriver(config, tmp_path) as driver:
        net = driver.networks[0]
        genesis_root = net.anyone.global_model().root.hex()
        originals = {w: w.local_update for w in net.workers}
        for worker in net.workers:
            worker.local_update = lambda start: torch.full_like(start, float("nan"))
        failed = driver.run_round()[0]
        assert not failed.finalized and failed.model_root == genesis_root
        assert len(failed.miners_tried) == 2                     # the proposer and its backup
        assert net.anyone.phase() == Phase.IDLE and net.anyone.checkpoint(1) is None
        for worker, local_update in originals.items():
            worker.local_update = local_update
        second = driver.run_round()[0]
    assert second.round == 2 and second.finalized and second.model_root != genesis_root


def test_verify_puts_the_verdict_first_and_says_when_it_did_not_recompute(attacked_run, capsys):
    _, out, _, _ = attacked_run
    model = str(out / "models/alpha/round-2.safetensors")
    assert poft(["verify", model, "--deployment", str(out / "deployment.json")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("VERIFIED") and "alpha round 2" in printed[0]
    assert any("NOT re-executed" in line and "--recompute" in line for line in printed[:4])
    assert poft(["verify", model, "--deployment", str(out / "deployment.json"),
                 "--recompute"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("VERIFIED") and "re-executed for every round" in printed[2]


def test_verify_bad_input_is_one_line_exit_2(attacked_run, tmp_path, capsys):
    _, out, _, _ = attacked_run
    deployment = str(out / "deployment.json")
    model = str(out / "models/alpha/round-2.safetensors")

    def verify(model, deployment):
        code = poft(["verify", model, "--deployment", deployment])
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
        return code, captured.err

    code, err = verify(str(tmp_path / "missing.safetensors"), deployment)
    assert code == 2 and "does not exist" in err
    not_a_model = tmp_path / "notes.safetensors"
    not_a_model.write_text("these are not weights, just some text")
    code, err = verify(str(not_a_model), deployment)
    assert code == 2 and "not a safetensors model" in err
    code, err = verify(model, str(tmp_path / "missing.json"))
    assert code == 2 and "does not exist" in err
    info = json.loads((out / "deployment.json").read_text())
    del info["store"]
    broken = tmp_path / "deployment.json"
    broken.write_text(json.dumps(info))
    code, err = verify(model, str(broken))
    assert code == 2 and "no 'store' entry" in err and "deployment.json that `poft run`" in err
    info = json.loads((out / "deployment.json").read_text())
    del info["networks"]["alpha"]["ledger_address"]
    broken.write_text(json.dumps(info))
    code, err = verify(model, str(broken))
    assert code == 2 and "'ledger_address'" in err and "network 'alpha'" in err
    # a field of the wrong shape: named, not "a bug in poft" (beside the run's chain/)
    broken = out / "broken-deployment.json"
    for key, value, fragment in [("ledger_address", "0x1234", "is malformed"),
                                 ("backend", "foo", "backend 'foo' is neither 'embedded' nor 'rpc'")]:
        info = json.loads((out / "deployment.json").read_text())
        info["networks"]["alpha"][key] = value
        broken.write_text(json.dumps(info))
        code, err = verify(model, str(broken))
        assert code == 2 and fragment in err and "network 'alpha'" in err, err
    info = json.loads((out / "deployment.json").read_text())
    info["networks"]["alpha"]["aggregation"] = "x"
    broken.write_text(json.dumps(info))
    code = poft(["verify", model, "--deployment", str(broken), "--recompute"])
    err = capsys.readouterr().err
    assert code == 2 and "is malformed" in err and "'aggregation'" not in err.split("(")[0], err
