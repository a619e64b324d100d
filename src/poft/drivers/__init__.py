"""Who runs the protocol's roles: `inprocess` (one process), `node` (one process per
participant on real nodes), `chain` (node mode's local chains and deployment file) and
`simulation` (the same learning without a ledger). `setup`, `participants` and
`exchange` hold what they all build the same way."""
