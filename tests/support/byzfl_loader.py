"""Load ByzFL's reference aggregators and attacks for cross-checks.

``byzfl/__init__.py`` imports ``byzfl.fed_framework`` (models and data loading
via torchvision, which is not installed) only to re-export it. The modules we
compare against — ``byzfl.aggregators.aggregators``, ``byzfl.attacks.attacks``
and their helpers ``byzfl.utils.*`` — need only numpy, scipy and torch. So the
``byzfl`` package is created from its real location *without running its
``__init__``*; every submodule is then imported normally from ByzFL's own
files. Nothing is stubbed or patched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest


def _package_dir() -> Path | None:
    spec = importlib.util.find_spec("byzfl")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def load(submodule: str):
    """``byzfl.<submodule>`` (e.g. ``"aggregators.aggregators"``); skips if ByzFL is absent."""
    if "byzfl" not in sys.modules:
        root = _package_dir()
        if root is None:
            pytest.skip("byzfl is not installed (make venv installs byzfl==0.0.11 --no-deps)")
        spec = importlib.util.spec_from_file_location(
            "byzfl", root / "__init__.py", submodule_search_locations=[str(root)]
        )
        package = importlib.util.module_from_spec(spec)
        # Deliberately not spec.loader.exec_module(package): see the docstring.
        sys.modules["byzfl"] = package
    return importlib.import_module(f"byzfl.{submodule}")
