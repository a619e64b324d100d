"""Node mode: one participant per OS process reacting to chain state (`poft node`), and
`poft run --backend anvil`, which starts, supervises and collects them."""
