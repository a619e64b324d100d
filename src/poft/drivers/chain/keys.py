"""A participant's key: an encrypted eth-account keystore, or a public dev key.

* Keystores are the standard encrypted JSON of `eth_account.Account.encrypt`
  (scrypt, Web3 Secret Storage v3). The password comes from the
  `POFT_KEY_PASSWORD` environment variable or from a password file; it never
  appears on the command line, where other users could read it.
* Dev keys are derived from the experiment seed exactly as the in-process
  driver derives them (`derive_accounts(seed, n, label="poft:<network>")`), so
  anyone can compute them: they are accepted only on local chains that
  `poft chain up` started, and using one prints a loud warning.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from poft.errors import InputError
from poft.ledger import Account, derive_accounts

PASSWORD_ENV = "POFT_KEY_PASSWORD"
DEV_KEY_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: --dev-key uses a PUBLIC development key derived from the          !!
!! experiment seed. Anyone can compute it and spend from it. Use it only on   !!
!! local test chains; on any real network use --key with an encrypted keystore !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


class KeyLoadError(InputError):
    """A key could not be loaded; the message says why and what to do."""


def read_password(password_file: str | os.PathLike | None) -> str:
    """The keystore password: from `password_file` (first line) or $POFT_KEY_PASSWORD."""
    if password_file is not None:
        try:
            text = Path(password_file).read_text()
        except OSError as exc:
            raise KeyLoadError(f"cannot read password file {password_file}: {exc.strerror}") from None
        return text.splitlines()[0] if text else ""
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise KeyLoadError(f"no keystore password: set {PASSWORD_ENV} or pass --password-file")
    return password


def load_keystore(path: str | os.PathLike, password: str) -> Account:
    """Decrypt an eth-account keystore file into an `Account`."""
    from eth_account import Account as EthAccount

    path = Path(path)
    try:
        keystore = json.loads(path.read_text())
    except OSError as exc:
        raise KeyLoadError(f"cannot read keystore {path}: {exc.strerror}") from None
    except ValueError:
        raise KeyLoadError(f"{path} is not a keystore (not JSON); pass the encrypted key file "
                        "that `poft chain up` (or any Ethereum wallet) wrote") from None
    try:
        private_key = EthAccount.decrypt(keystore, password)
    except ValueError as exc:  # eth_keyfile: "MAC mismatch" = wrong password
        reason = "wrong password" if "MAC" in str(exc) else str(exc)
        raise KeyLoadError(f"cannot decrypt keystore {path}: {reason}; check {PASSWORD_ENV} or "
                        "--password-file") from None
    except (KeyError, TypeError) as exc:
        raise KeyLoadError(f"{path} is not a valid keystore (missing {exc})") from None
    return Account.from_key(bytes(private_key))


def write_keystore(path: str | os.PathLike, account: Account, password: str,
                   iterations: int | None = None) -> None:
    """Encrypt `account`'s key into `path` (mode 0600). `iterations` is scrypt's n."""
    from eth_account import Account as EthAccount

    options = {"iterations": iterations} if iterations else {}
    keystore = EthAccount.encrypt(account.private_key, password, **options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)


def dev_accounts(seed: int, network: str, count: int) -> list[Account]:
    """The public development accounts of a network (the in-process driver's)."""
    return derive_accounts(seed, count, label=f"poft:{network}")


def dev_key(dev_keys: dict | None, network: str, index: int, count: int,
            local_chain: bool) -> Account:
    """Dev account `index` of `network`; refused unless the chain is a local dev chain."""
    if not local_chain or not dev_keys:
        raise KeyLoadError(f"--dev-key is only for local chains started by `poft chain up`; "
                        f"network {network!r} is not one: use --key KEYSTORE")
    if not 0 <= index < count:
        raise KeyLoadError(f"--dev-key {index} is out of range: network {network!r} has "
                        f"{count} participants (0..{count - 1})")
    sys.stderr.write(DEV_KEY_WARNING)
    return dev_accounts(int(dev_keys["seed"]), network, count)[index]
