r"""Scaling (boosting) attack (Bagdasaryan, Veit, Hua, Estrin & Shmatikov 2020,
"How To Backdoor Federated Learning", AISTATS — model replacement;
Bhagoji, Chakraborty, Mittal & Calo 2019, "Analyzing Federated Learning
through an Adversarial Lens" — explicit boosting).

The attacker trains like an honest worker (possibly on poisoned data) and
sends its own delta multiplied by a factor, so that it dominates a mean:

.. math::

    \mathrm{Scaling}_\gamma(\delta_{own}) = \gamma \cdot \delta_{own}

Model replacement chooses ``γ ≈ n / η`` (``n`` workers, server step ``η``, 1
here) to replace the global model by the attacker's.
"""

from __future__ import annotations

import torch

from poft.attacks._checks import DTYPE, as_honest, check_real


def scaling(honest_deltas, *, own_delta, factor: float = 10.0) -> torch.Tensor:
    """``factor × own_delta``, shape ``(d,)`` in the honest dtype.

    ``own_delta`` (context): the attacker's own, honestly computed delta ``(d,)``.
    ``honest_deltas`` only fixes ``d`` and the dtype (this attack is not
    omniscient).
    """
    factor = check_real(factor, name="factor")
    x, dtype = as_honest(honest_deltas)
    if own_delta is None:
        raise ValueError("scaling needs own_delta= (the attacker's own delta, shape (d,))")
    own = torch.as_tensor(own_delta)
    if own.dim() != 1 or own.shape[0] != x.shape[1]:
        raise ValueError(f"own_delta must have shape ({x.shape[1]},); got shape {tuple(own.shape)}")
    own = own.detach().to(device="cpu", dtype=DTYPE)
    if not bool(torch.isfinite(own).all()):
        raise ValueError("own_delta contains NaN or Inf; it must be finite")
    return (factor * own).to(dtype)
