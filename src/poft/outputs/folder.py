"""The output folder of `poft run`: refuse to mix two runs in one folder.

A run writes its files (docs/architecture.md, "Output files") into one folder.
Writing a new run over an older one would leave the older run's extra rounds
(round-3..8 of an 8-round run under a 2-round one) that then fail `poft verify`,
so a folder that already holds files is refused unless the user says what to
do: `--resume` (go on with the run in it) or `--overwrite` (delete its run files
first).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from poft.errors import InputError

# What `poft run` writes; `--overwrite` deletes exactly these.
RUN_FILES = ("config.toml", "metrics.jsonl", "summary.json", "report.html", "deployment.json",
             "models", "blobs", "chain", "logs", "keys", "keys.password")


def output_path(text: str) -> Path:
    """argparse type of an `--out` flag: a path, refusing the empty one (which would
    otherwise fall back to the default folder without a word)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name where to write, e.g. --out runs/q1")
    return Path(text)


def prepare_output(out: str | Path, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Check `out` for a new run (or a resumed one) and return it as a Path; with
    `overwrite`, delete the older run's files first. Raises InputError."""
    out = Path(out)
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other: resume goes on with "
                         "the run in the folder, overwrite deletes it")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file, not a folder; name a new or empty "
                         "folder for the run's outputs")
    holds_files = out.is_dir() and any(out.iterdir())
    if resume:
        if not (out / "deployment.json").is_file():
            raise InputError(f"nothing to resume in {str(out)!r}: it holds no run "
                             "(no deployment.json); run without --resume")
        return out
    if holds_files and overwrite:
        for name in RUN_FILES:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
        return out
    if holds_files:
        raise InputError(f"output folder {str(out)!r} already holds files (an earlier run?); "
                         "use --resume to go on with that run, --overwrite to replace it, or "
                         "name another --out")
    return out
