"""Run one `poft` command in this process, then write its peak resident memory.

    python -m bench.child_peak OUT.json POFT-ARGS...      (e.g. ... run CONFIG --out DIR)

Why not the parent's ``wait4``: on Linux a child's ``ru_maxrss`` keeps the
high-water mark of the address space it replaced at exec, which is a copy of
its parent's. So every child of a grown benchmark process (``make bench``
holds Flower, Ray and torch by the time it reaches the scale runs) reported
at least the parent's size: a 10-worker run showed the 1.74 GB of the
benchmark itself. Here the figure is the high-water mark of this process's
own address space since exec (``VmHWM``), and the largest of the children it
waited for (its training pool), written to OUT.json as bytes:
``{"self": ..., "children": ..., "exit": ...}``. The exit status is `poft`'s.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def own_high_water_bytes() -> int:
    """Peak resident memory of this process since exec (``VmHWM``, Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024          # "VmHWM:  123456 kB"
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory is measured on Linux only")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m bench.child_peak OUT.json POFT-ARGS...", file=sys.stderr)
        return 2
    out, args = Path(argv[0]), argv[1:]
    from poft.cli import main as poft_main

    code = 1
    try:
        code = poft_main(args)
    except SystemExit as exc:        # argparse: --help (0) and bad flags (2)
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024   # kB
        out.write_text(json.dumps({"self": own_high_water_bytes(), "children": children,
                                   "exit": code}))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
