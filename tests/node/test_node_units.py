"""Node-mode building blocks without chains: keys, deployment files, waits, logs."""

from __future__ import annotations

import io
import json
import time

import pytest

from poft.drivers.chain.deployment import DeploymentError, DeploymentFile
from poft.drivers.chain.keys import KeyLoadError, dev_key, load_keystore, read_password, write_keystore
from poft.drivers.node.identity import NodeSetupError, parse_roles
from poft.drivers.node.log import EventLog, read_events
from poft.drivers.node.waits import Backoff, BoundedWaits
from poft.ledger import Account


def test_keystore_round_trip_and_wrong_password(tmp_path):
    account = Account.from_key(b"\x07" * 32)
    path = tmp_path / "k.json"
    write_keystore(path, account, "secret", iterations=16384)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keystore(path, "secret").address == account.address
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_keystore(path, "guess")


def test_password_from_file_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("POFT_KEY_PASSWORD", raising=False)
    with pytest.raises(KeyLoadError, match="POFT_KEY_PASSWORD"):
        read_password(None)
    monkeypatch.setenv("POFT_KEY_PASSWORD", "from-env")
    assert read_password(None) == "from-env"
    (tmp_path / "pw").write_text("from-file\nignored\n")
    assert read_password(tmp_path / "pw") == "from-file"


def test_dev_keys_match_the_in_process_accounts_and_refuse_remote_chains():
    from poft.ledger import derive_accounts

    expected = derive_accounts(5, 4, label="poft:alpha")[2]
    assert dev_key({"seed": 5}, "alpha", 2, 4, local_chain=True).address == expected.address
    with pytest.raises(KeyLoadError, match="only for local chains"):
        dev_key({"seed": 5}, "alpha", 2, 4, local_chain=False)
    with pytest.raises(KeyLoadError, match="out of range"):
        dev_key({"seed": 5}, "alpha", 9, 4, local_chain=True)


def test_deployment_file_errors_name_the_problem(tmp_path):
    with pytest.raises(DeploymentError, match="does not exist"):
        DeploymentFile.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DeploymentError, match="not JSON"):
        DeploymentFile.load(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text(json.dumps({"networks": {"a": {"backend": "embedded"}}}))
    dep = DeploymentFile.load(tmp_path / "empty.json")
    with pytest.raises(DeploymentError, match="'b' is not in deployment file"):
        dep.entry("b")
    with pytest.raises(DeploymentError, match="no rpc_url"):
        dep.rpc_url("a")


def test_roles_are_checked():
    assert parse_roles("worker, relayer") == {"worker", "relayer"}
    with pytest.raises(NodeSetupError, match="unknown role 'minor'"):
        parse_roles("validator,minor")


def test_backoff_doubles_to_its_cap_and_resets():
    backoff = Backoff(0.05, 0.3)
    assert [backoff.next() for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    backoff.reset()
    assert backoff.next() == 0.05


def test_bounded_waits_start_once():
    waits = BoundedWaits()
    assert not waits.started("x") and waits.started("x")
    assert not waits.over("y", 0.2)
    time.sleep(0.25)
    assert waits.over("y", 0.2)


def test_event_log_lines_are_json(tmp_path):
    stream = io.StringIO()
    EventLog("alpha/worker-0", stream).emit("submitted", round=2, root=b"\x01\x02")
    record = json.loads(stream.getvalue())
    assert record["node"] == "alpha/worker-0" and record["event"] == "submitted"
    assert record["root"] == "0x0102" and record["round"] == 2
    (tmp_path / "log").write_text(stream.getvalue() + "Traceback (not json)\n")
    assert [e["event"] for e in read_events(tmp_path / "log")] == ["submitted"]


def test_miner_with_nothing_admissible_does_not_propose_and_the_node_goes_on():
    """All candidates non-finite: the node logs `no_proposal` once per attempt and lets
    the AGGREGATE deadline pass (the chain then fails the round); it does not crash."""
    from types import SimpleNamespace

    from poft.drivers.node.duties import Duties
    from poft.protocol.aggregate import NoAdmissibleCandidate

    class Miner:
        calls = 0

        def propose(self, r):
            Miner.calls += 1
            raise NoAdmissibleCandidate("no admissible candidate")

    emitted = []
    duties = Duties.__new__(Duties)
    duties.me, duties.done = "0xme", set()
    duties.roles = SimpleNamespace(miner=Miner())
    duties.reader = SimpleNamespace(proposal=lambda r: None, call=lambda name, r: 0)
    duties.events = SimpleNamespace(emit=lambda event, **f: emitted.append((event, f)))
    view = SimpleNamespace(round=3, current_miner="0xme")
    assert duties.on_aggregate(view) is False
    assert duties.on_aggregate(view) is False       # not retried every poll
    assert Miner.calls == 1
    assert [e for e, _ in emitted] == ["no_proposal"] and emitted[0][1]["level"] == "warning"


def test_supervisor_restarts_a_crashed_child_a_bounded_number_of_times(tmp_path):
    import sys

    from poft.drivers.node.supervisor import RunFailed, Supervisor

    flag = tmp_path / "crashed-once"
    once = [sys.executable, "-c", f"import pathlib, sys; p = pathlib.Path({str(flag)!r}); "
            "sys.exit(0) if p.exists() else (p.touch(), sys.exit(5))"]
    always = [sys.executable, "-c", "import sys; sys.exit(7)"]
    with Supervisor(tmp_path / "logs") as sup:
        nodes = [sup.start("node/once", once), sup.start("node/always", always)]
        for child in nodes:
            child.process.wait(60)
        sup.restart_crashed(nodes, max_restarts=1)
        assert [c.restarts for c in nodes] == [1, 1]
        for child in nodes:
            child.process.wait(60)
        assert nodes[0].exited() == 0
        with pytest.raises(RunFailed, match="node/always exited with status 7 after 1 restart"):
            sup.restart_crashed(nodes, max_restarts=1)
    notes = [json.loads(line) for line in
             (tmp_path / "logs" / "supervisor.log").read_text().splitlines()]
    assert [(n["event"], n["node"], n["status"]) for n in notes] == [
        ("restarted", "node/once", 5), ("restarted", "node/always", 7)]
