"""Compile the Vyper contracts with the PyPI `vyper` package and cache the artifacts.

Artifacts are cached by a hash of every contract source (the contracts import a
shared module), the compiler version and the settings, under
``$POFT_CACHE_DIR/contracts`` or ``<repo>/.poft-cache/contracts`` when running
from a checkout (else ``~/.cache/poft/contracts``). Writes go to a temporary
file renamed into place, so concurrent processes never read a partial artifact.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
EVM_VERSION = "cancun"  # understood by py-evm, anvil, geth and Besu alike


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI (JSON list) and creation bytecode."""

    name: str
    abi: list
    bytecode: bytes


def cache_dir() -> Path:
    """Where compiled artifacts are kept."""
    env = os.environ.get("POFT_CACHE_DIR")
    if env:
        return Path(env) / "contracts"
    repo = CONTRACTS_DIR.parents[3]  # src/poft/ledger/contracts -> repo root
    if (repo / "pyproject.toml").exists():
        return repo / ".poft-cache" / "contracts"
    return Path.home() / ".cache" / "poft" / "contracts"


def _source_key(name: str) -> str:
    # The installed compiler's version from its package metadata: `import vyper` loads
    # the whole compiler (0.16 s), which a run whose artifacts are cached never needs.
    digest = hashlib.sha256()
    digest.update(f"vyper={_vyper_version()};evm={EVM_VERSION};main={name}\n".encode())
    for path in sorted(CONTRACTS_DIR.glob("*.vy")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _vyper_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vyper")
    except PackageNotFoundError:
        import vyper  # not installed as a distribution (a source checkout on the path)

        return vyper.__version__


def _compile(name: str) -> Artifact:
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    path = CONTRACTS_DIR / f"{name}.vy"
    if not path.exists():
        raise FileNotFoundError(f"no contract named {name!r} in {CONTRACTS_DIR}")
    out = vyper.compile_code(
        path.read_text(),
        contract_path=path.name,
        input_bundle=FilesystemInputBundle([CONTRACTS_DIR]),
        output_formats=["abi", "bytecode"],
        settings=Settings(evm_version=EVM_VERSION),
    )
    return Artifact(name, out["abi"], bytes.fromhex(out["bytecode"].removeprefix("0x")))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=None)
def load_artifact(name: str) -> Artifact:
    """The compiled contract `name` ("FederatedLedger" or "ModelBridge"), from cache if fresh."""
    cached = cache_dir() / f"{name}-{_source_key(name)}.json"
    try:
        data = json.loads(cached.read_text())
        return Artifact(name, data["abi"], bytes.fromhex(data["bytecode"]))
    except (OSError, ValueError, KeyError):
        pass
    artifact = _compile(name)
    try:
        _write_atomically(
            cached, json.dumps({"abi": artifact.abi, "bytecode": artifact.bytecode.hex()})
        )
    except OSError:
        pass  # a read-only cache only costs a recompile next time
    return artifact
