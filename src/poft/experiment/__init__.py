"""Experiments on top of the drivers: `poft run` (`run`), the robustness grid
(`robustness*`), the convex study (`convex`) and `poft verify` (`verify`)."""
