"""What a run writes, for both drivers: the per-round record of metrics.jsonl
(`metrics`), summary.json (`summary`) and report.html (`report`)."""
