"""poft: accountable, Byzantine-robust federated learning across blockchain networks.

Layers (see DESIGN.md): learning core (`poft.learning`), aggregation
(`poft.aggregation`), attacks (`poft.attacks`), commitment (`poft.commitment`),
store (`poft.store`), ledger (`poft.ledger`), protocol roles (`poft.protocol`),
drivers (`poft.drivers`) and experiments/CLI (`poft.experiment`, `poft.cli`).
"""

__version__ = "0.1.0"
