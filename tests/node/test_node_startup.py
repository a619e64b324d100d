"""A node that cannot work exits at once, with status 2 and a message saying why.

Wrong key (bad password, unknown account, wrong roles), wrong deployment file
(missing, other network, stale addresses), unreachable RPC, dev keys on a chain
that is not a local one.
"""

from __future__ import annotations

import json
import time

import pytest

from node_support import ANVIL, ANVIL_SKIP, PASSWORD, Cluster, config_toml, poft_run
from poft.drivers.chain.keys import write_keystore
from poft.ledger import Account
from poft.ledger.anvil import free_port

pytestmark = pytest.mark.anvil

NETWORK = {"name": "solo", "workers": 1, "stakers": 3, "validators": 2, "miners": 1}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if ANVIL is None:
        pytest.skip(ANVIL_SKIP)
    c = Cluster(tmp_path_factory.mktemp("startup"), config_toml([NETWORK], rounds=1,
                                                                 phase_blocks=20))
    try:
        yield c
    finally:
        c.close()


def start(cluster, *args: str, deployment=None):
    """Run `poft node` to its (quick) exit; returns (status, stderr, seconds)."""
    argv = ["node", "--deployment", str(deployment or cluster.deployment), "--network", "solo",
            *args]
    started = time.monotonic()
    done = poft_run(*argv, timeout=60)
    return done.returncode, done.stderr, time.monotonic() - started


def staker_key(cluster) -> str:
    return str(cluster.folder / "keys" / "solo" / "staker-0.json")


def edited_deployment(cluster, tmp_path, **changes):
    data = json.loads(cluster.deployment.read_text())
    data["store"] = str(cluster.folder / "blobs")
    data["config"] = str(cluster.config)
    data["networks"]["solo"].update(changes)
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(data))
    return path


def test_wrong_password(cluster, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    code, err, seconds = start(cluster, "--key", staker_key(cluster), "--password-file",
                               str(wrong))
    assert code == 2 and "wrong password" in err and seconds < 30


def test_a_key_that_is_no_participant(cluster, tmp_path):
    stranger = tmp_path / "stranger.json"
    write_keystore(stranger, Account.from_key(b"\x42" * 32), PASSWORD, iterations=16384)
    code, err, _ = start(cluster, "--key", str(stranger), "--password-file",
                         str(cluster.password_file))
    assert code == 2 and "is not a participant of network 'solo'" in err


def test_roles_that_do_not_fit_the_key(cluster):
    code, err, _ = start(cluster, "--key", staker_key(cluster), "--password-file",
                         str(cluster.password_file), "--roles", "worker")
    assert code == 2 and "is a staker, not a worker" in err


def test_missing_deployment_file(cluster, tmp_path):
    code, err, _ = start(cluster, "--dev-key", "0", deployment=tmp_path / "nope.json")
    assert code == 2 and "does not exist" in err and "poft chain up" in err


def test_deployment_without_that_network(cluster):
    done = poft_run("node", "--deployment", str(cluster.deployment), "--network", "gamma",
                    "--dev-key", "0")
    assert done.returncode == 2 and "network 'gamma' is not in deployment file" in done.stderr


def test_deployment_of_another_chain(cluster, tmp_path):
    stale = edited_deployment(cluster, tmp_path, ledger_address="0x" + "11" * 20)
    code, err, _ = start(cluster, "--key", staker_key(cluster), "--password-file",
                         str(cluster.password_file), deployment=stale)
    assert code == 2 and "no FederatedLedger contract" in err


def test_unreachable_rpc(cluster, tmp_path):
    dead = edited_deployment(cluster, tmp_path, rpc_url=f"http://127.0.0.1:{free_port()}")
    code, err, seconds = start(cluster, "--key", staker_key(cluster), "--password-file",
                               str(cluster.password_file), deployment=dead)
    assert code == 2 and "cannot reach network 'solo'" in err and seconds < 30


def test_dev_keys_only_on_local_chains(cluster, tmp_path):
    remote = edited_deployment(cluster, tmp_path, anvil=None)
    code, err, _ = start(cluster, "--dev-key", "0", deployment=remote)
    assert code == 2 and "--dev-key is only for local chains" in err


def test_dev_key_warns_loudly(cluster, tmp_path):
    dead = edited_deployment(cluster, tmp_path, rpc_url=f"http://127.0.0.1:{free_port()}")
    code, err, _ = start(cluster, "--dev-key", "3", deployment=dead)
    assert "PUBLIC development key" in err and code == 2
