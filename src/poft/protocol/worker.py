"""The worker role: fetch the global model by its root, train locally, submit.

An honest worker (`Worker`) trains on its own data; a worker whose data was
poisoned (label flipping, backdoor) is the same role on different data. A
colluding Byzantine worker (`ByzantineWorker`) instead crafts its update from
the honest updates already submitted this round (the omniscient setting of
ALIE/IPM) with one of `poft.attacks`' update attacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from poft.attacks import CONTEXT, UPDATE_ATTACKS, finite_rows
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten, unflatten
from poft.learning.training import local_train
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache
from poft.protocol.timing import NULL_TIMER, PhaseTimer


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0


@dataclass(frozen=True)
class Trainer:
    """What one worker trains with: a model (its architecture: the parameters are
    overwritten from the start vector), its data and its training settings. It holds
    no ledger or store, so a process pool can be given it once (`poft.drivers.executor`)."""

    model: nn.Module
    data: ArrayDataset
    settings: TrainingSettings


def train_vector(trainer: Trainer, start: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
    """Local training from the flat vector `start`; the trained model as a flat vector.
    The batch order is drawn from `generator`, which is advanced."""
    model, s = trainer.model, trainer.settings
    model.load_state_dict(unflatten(start, model.state_dict()))
    local_train(model, trainer.data, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                momentum=s.momentum, weight_decay=s.weight_decay, generator=generator)
    return flatten(model.state_dict())


class Worker:
    """Honest local training on the worker's own data."""

    def __init__(self, ledger, store, codec: ModelCodec, model: nn.Module,
                 data: ArrayDataset, settings: TrainingSettings, seed: int,
                 timer: PhaseTimer = NULL_TIMER):
        self.ledger, self.store, self.codec = ledger, store, codec
        self.model, self.data, self.settings = model, data, settings
        self.generator = torch.Generator().manual_seed(seed)
        self.timer = timer
        # (root, uri, mix) of an imported cross-chain model: the next round starts from
        # (1 - mix) * global + mix * imported (import policies `init`: mix = 1, PoFT's
        # transfer learning; `merge`: mix = 1/2); used once.
        self.start_from: tuple[bytes, str, float] | None = None

    @property
    def address(self) -> str:
        return self.ledger.account.address

    def global_model(self, head=None) -> tuple[torch.Tensor, object]:
        """The global model's vector and its on-chain head (``head``: already read)."""
        head = self.ledger.global_model() if head is None else head
        return self.codec.fetch(self.store, head.root, head.uri, head.fingerprint), head

    def start_model(self, head=None) -> torch.Tensor:
        """Where local training starts: the global model, possibly blended with an import."""
        start, head = self.global_model(head)
        if self.start_from is not None:
            root, uri, mix = self.start_from
            self.start_from = None
            imported = self.codec.fetch(self.store, root, uri, head.fingerprint)
            start = torch.lerp(start, imported, mix)
        return start

    def local_update(self, start: torch.Tensor) -> torch.Tensor:
        """The model after local training from `start`, as a flat vector."""
        with self.timer.phase("train"):
            return train_vector(self.trainer, start, self.generator)

    @property
    def trainer(self) -> Trainer:
        return Trainer(self.model, self.data, self.settings)

    @property
    def crafts(self) -> bool:
        """Whether its update is crafted from the round's honest updates (so it acts
        after them) rather than trained on its own."""
        return False

    def submit(self, round_id: int, vec: torch.Tensor) -> bytes:
        published = self.codec.publish(self.store, vec)
        root = published.commitment.root
        self.ledger.submit_update(round_id, root, published.uri)
        return root

    def act(self, round_id: int, head=None) -> bytes:
        """Train and submit; ``head`` is the round's global-model head if the caller
        already read it (the in-process driver reads it once for all its workers)."""
        return self.submit(round_id, self.local_update(self.start_model(head)))


class ByzantineWorker(Worker):
    """Submits θ + attack(honest deltas of this round).

    `colluders` are the addresses of all Byzantine workers of the network; their
    own submissions are excluded from what the attack sees as honest.
    """

    def __init__(self, *args, attack: str, attack_params: dict, colluders: set[str],
                 **kwargs):
        super().__init__(*args, **kwargs)
        if attack not in UPDATE_ATTACKS:
            raise ValueError(f"{attack!r} is not an update attack; choose one of "
                             f"{', '.join(sorted(UPDATE_ATTACKS))}")
        self.attack = UPDATE_ATTACKS[attack]
        self.attack_name, self.attack_params = attack, dict(attack_params)
        self.colluders = colluders
        self.cache = CandidateCache()

    @property
    def crafts(self) -> bool:
        return True

    def act(self, round_id: int, head=None) -> bytes:
        # Deltas are taken from where the honest workers started (the global model, or
        # its blend with a cross-chain import), so the attack mirrors what they did.
        head = self.ledger.global_model() if head is None else head
        theta = self.start_model(head)
        honest = self.honest_deltas(round_id, theta, head.fingerprint)
        if not bool(torch.isfinite(honest).all()):
            # Its own training diverged and nothing finite to imitate: send that update.
            return self.submit(round_id, (theta.to(torch.float64) + honest[0]).to(torch.float32))
        params = dict(self.attack_params)
        if self.attack_name == "scaling":
            own = self.local_update(theta)
            if not bool(torch.isfinite(own).all()):
                return self.submit(round_id, own)   # its own training diverged
            params["own_delta"] = own - theta
        if "generator" in CONTEXT.get(self.attack_name, {}):      # its own random draws
            params.setdefault("generator", self.generator)
        if self.attack_name == "alie" and "z" not in params:
            params.update(n=len(honest) + len(self.colluders), f=len(self.colluders))
        malicious = self.attack(honest, **params)
        return self.submit(round_id, (theta.to(torch.float64) + malicious).to(torch.float32))

    def honest_deltas(self, round_id: int, theta: torch.Tensor,
                      fingerprint: bytes) -> torch.Tensor:
        honest = [c for c in self.ledger.candidates(round_id)
                  if c.owner not in self.colluders and not c.is_import]
        rows = [self.cache.load(self.codec, self.store, c.root, c.uri, fingerprint)
                for c in honest]
        rows = [r for r in rows if r is not None]
        if rows:
            kept = finite_rows(torch.stack(rows).to(torch.float64) - theta.to(torch.float64))
            if kept is not None:
                return kept
        # Nothing (finite) to imitate yet: behave like an honest worker would look.
        return (self.local_update(theta) - theta).unsqueeze(0).to(torch.float64)
