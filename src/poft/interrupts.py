"""Ctrl-C that reaches the run however Python and its libraries handle it.

Python runs its SIGINT handler at the next bytecode, wherever that is, and two places
lose the KeyboardInterrupt it raises:

* a finaliser (``__del__``, a weakref callback): CPython reports it as "Exception
  ignored" and goes on. pycryptodome frees a hash object in ``__del__`` on every
  keccak of the embedded EVM, so about one Ctrl-C in a hundred during a round was
  lost; :func:`redeliver_interrupts` interrupts the main thread again;
* an extension module's initialisation (numpy's, while scikit-learn imports it):
  the interrupt comes out as an ImportError that a library catches, or as a
  RecursionError. :func:`note_interrupt` remembers that Ctrl-C came, and a long
  command calls :func:`raise_if_interrupted` between its steps (`poft run`: after
  the set-up and every round; the robustness grid: after every cell).

The command line (:func:`poft.cli.entry`) installs both; a library user's own
handlers stay untouched.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading

INTERRUPTED = threading.Event()      # set by Ctrl-C once `install` ran


def note_interrupt(signum, frame) -> None:
    """SIGINT handler: Python's own (raise KeyboardInterrupt), remembering that it ran."""
    INTERRUPTED.set()
    signal.default_int_handler(signum, frame)


def redeliver_interrupts(unraisable, _default=sys.unraisablehook) -> None:
    """`sys.unraisablehook` that turns a Ctrl-C lost in a finaliser into a pending one,
    raised from another thread a moment later: raised here, the handler would run at
    this hook's next bytecode and the interrupt would be lost again."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        again = threading.Timer(0.01, _thread.interrupt_main)
        again.daemon = True           # never keeps a finishing process alive
        again.start()
        return
    _default(unraisable)


def install() -> None:
    """Both, for this process (not when SIGINT is ignored, as in a background job)."""
    sys.unraisablehook = redeliver_interrupts
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, note_interrupt)


def raise_if_interrupted() -> None:
    """KeyboardInterrupt if Ctrl-C came and something swallowed it."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


__all__ = ["INTERRUPTED", "install", "note_interrupt", "raise_if_interrupted",
           "redeliver_interrupts"]
