"""What both drivers share of the cross-chain exchange (PoFT).

The exchange's cost is reported in four timed parts, and an import policy says
where a target network's workers start their local training after an import.
"""

PARTS = ("sign", "relay", "verify", "fetch")

# Where the target's workers start after an import: (1 - mix) * global + mix * imported.
# The policy "candidate" is absent: its workers start from their own global model.
IMPORT_MIX = {"init": 1.0, "merge": 0.5}
