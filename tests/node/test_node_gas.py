"""Node mode's per-round gas comes from the chain (blocks and receipts between round
openings); on an embedded chain it must equal what the in-process driver recorded."""

from __future__ import annotations

import torch

from poft.config.experiment import parse_config
from poft.drivers.inprocess.driver import InProcessDriver
from poft.drivers.node.collect import round_gas


class JsonRpcView:
    """The two JSON-RPC calls `round_gas` makes, answered from an embedded chain."""

    def __init__(self, backend):
        self.backend = backend

    @property
    def block_number(self):
        return self.backend.block_number

    def rpc(self, method, *params):
        eth = self.backend.w3.eth
        if method == "eth_getBlockByNumber":
            block = eth.get_block(int(params[0], 16), full_transactions=True)
            return {"transactions": [
                {"hash": "0x" + bytes(tx["hash"]).hex(), "to": tx["to"],
                 "input": "0x" + bytes(tx.get("input", tx.get("data", b""))).hex()}
                for tx in block["transactions"]]}
        if method == "eth_getTransactionReceipt":
            receipt = eth.get_transaction_receipt(params[0])
            return {"status": hex(receipt["status"]), "gasUsed": hex(receipt["gasUsed"])}
        raise AssertionError(method)


def test_round_gas_from_the_chain_matches_the_in_process_records(tmp_path):
    config = parse_config({
        "experiment": {"name": "gas", "rounds": 2, "threads": 1},
        "data": {"dataset": "digits", "validator_samples": 60},
        "model": {"name": "mlp", "hidden": 8},
        "ledger": {"phase_blocks": 20},
        "networks": [{"name": "alpha", "workers": 3, "stakers": 3, "validators": 2,
                      "miners": 1}]})
    with InProcessDriver(config, tmp_path) as driver:
        torch.manual_seed(0)
        records = [driver.run_round()[0] for _ in range(2)]
        net = driver.networks[0]
        reader = net.anyone._target
        gas = round_gas(reader, JsonRpcView(net.backend))
    assert set(gas) == {1, 2}
    for record in records:
        assert record.gas and gas[record.round] == record.gas, (record.round, gas, record.gas)
        assert {"open_round", "submit_update", "report_losses", "propose", "attest",
                "settle"} <= set(gas[record.round])
