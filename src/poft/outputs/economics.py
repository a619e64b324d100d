"""What a round paid and cost, by participant class, read from the chain.

Rewards and slashing come from the ledger's events (`Rewarded`, `Slashed`,
`MinerSlashed`), never from the driver's own bookkeeping, so both drivers
report the same numbers for the same chain. Participants fall into four
classes: honest workers, Byzantine workers, validators (stakers reporting
scores) and miners (stakers proposing aggregates). Stakers are paid only as
validators (the contract pays no miner reward); a slash that a `MinerSlashed`
event names is a miner's, any other slash of a staker a validator's (absent
reports). Gas is grouped by the role that sends each call.
"""

from __future__ import annotations

WEI_PER_ETHER = 10**18
CLASSES = ("honest_workers", "byzantine_workers", "validators", "miners")

# The role that sends each transaction kind (the contract method, or "deploy ...").
ROLE_OF_CALL = {
    "submit_update": "workers",
    "report_losses": "validators", "attest": "validators", "reject": "validators",
    "sign_checkpoint": "validators",
    "propose": "miners", "settle": "miners",
    "open_round": "anyone", "advance": "anyone",
    "submit_import": "relayer", "import_checkpoint": "relayer",
    "update_validator_set": "relayer",
}
ROLES = ("workers", "validators", "miners", "anyone", "relayer", "setup")


def role_of_call(kind: str) -> str:
    """The role sending transaction `kind`; deployment and registration count as set-up."""
    return ROLE_OF_CALL.get(kind, "setup")


def gas_by_role(gas: dict[str, int]) -> dict[str, int]:
    """Sum a {call kind: gas} dict by role."""
    out: dict[str, int] = {}
    for kind, used in gas.items():
        role = role_of_call(kind)
        out[role] = out.get(role, 0) + int(used)
    return out


def class_of(address: str, workers: set[str], byzantine: set[str]) -> str:
    if address in byzantine:
        return "byzantine_workers"
    if address in workers:
        return "honest_workers"
    return "validators"


def round_money(ledger, round_id: int, workers: set[str], byzantine: set[str]
                ) -> tuple[dict[str, float], dict[str, float]]:
    """(rewards, slashed) of one round in ether, by class, from the ledger's events."""
    rewards = dict.fromkeys(CLASSES, 0.0)
    for event in ledger.events("Rewarded", round=round_id):
        rewards[class_of(event["account"], workers, byzantine)] += event["amount"] / WEI_PER_ETHER
    slashed = dict.fromkeys(CLASSES, 0.0)
    as_miner: dict[str, int] = {}
    for event in ledger.events("MinerSlashed", round=round_id):
        as_miner[event["miner"]] = as_miner.get(event["miner"], 0) + event["amount"]
        slashed["miners"] += event["amount"] / WEI_PER_ETHER
    for event in ledger.events("Slashed", round=round_id):
        amount = event["amount"]
        taken = min(amount, as_miner.get(event["account"], 0))   # counted as the miner's
        as_miner[event["account"]] = as_miner.get(event["account"], 0) - taken
        if amount - taken:
            slashed[class_of(event["account"], workers, byzantine)] += (amount - taken) / WEI_PER_ETHER
    return rewards, slashed
