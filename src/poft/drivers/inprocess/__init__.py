"""The in-process driver: every role of every network in one process, one embedded
EVM per network, phases stepped in order."""
