"""poft.learning -- the learning core: data, partitions, models, training, evaluation.

One concept per module:

* :mod:`.datasets` -- ``ArrayDataset`` and the loaders (``fashion_mnist``,
  ``digits``, ``convex``) behind ``load_dataset``;
* :mod:`.partition` -- IID, Dirichlet and label-skew splits of sample indices;
* :mod:`.models` -- ``logreg``, ``mlp``, ``cnn`` via ``build_model``;
* :mod:`.params` -- state dicts <-> flat vectors (sorted-key order), checks;
* :mod:`.training` -- ``local_train`` (SGD + momentum) and ``evaluate``;
* :mod:`.batched_eval` -- losses of many candidate models in one vmap pass.

The most used names are re-exported here.
"""

from .batched_eval import batched_accuracies, batched_losses
from .datasets import ArrayDataset, DatasetNotFoundError, load_dataset
from .models import build_model
from .params import check_compatible, flatten, unflatten
from .partition import dirichlet, iid, label_skew, split_indices
from .training import evaluate, local_train, make_generator

__all__ = [
    "ArrayDataset",
    "DatasetNotFoundError",
    "load_dataset",
    "iid",
    "dirichlet",
    "label_skew",
    "split_indices",
    "build_model",
    "flatten",
    "unflatten",
    "check_compatible",
    "local_train",
    "evaluate",
    "make_generator",
    "batched_losses",
    "batched_accuracies",
]
