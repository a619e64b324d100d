"""Layering: the commitment core never imports the ledger; the store never imports torch."""

import subprocess
import sys

CHECK = "import sys, {mod}; bad = [m for m in {forbidden!r} if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"


def run_check(mod, forbidden):
    out = subprocess.run([sys.executable, "-c", CHECK.format(mod=mod, forbidden=forbidden)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{mod} imported {out.stdout.strip()} {out.stderr[-2000:]}"


def test_commitment_does_not_import_the_ledger():
    run_check("poft.commitment", ["web3", "poft.ledger", "eth_tester", "vyper"])


def test_store_does_not_import_torch_or_the_ledger():
    run_check("poft.store", ["torch", "numpy", "safetensors", "web3", "poft.ledger"])
