"""poft: accountable, Byzantine-robust federated learning across blockchain networks.

Layers, bottom up (docs/architecture.md): errors (`poft.errors`); learning core
(`poft.learning`), aggregation (`poft.aggregation`), commitment (`poft.commitment`),
store (`poft.store`), ledger (`poft.ledger`); attacks (`poft.attacks`), config
(`poft.config`); protocol roles (`poft.protocol`), run outputs (`poft.outputs`);
drivers (`poft.drivers`); experiments (`poft.experiment`); the CLI (`poft.cli`).
"""

__version__ = "0.1.0"
