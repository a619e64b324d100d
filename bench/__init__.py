"""poft benchmarks: `python -m bench.run_all` (all), or `python -m bench.NAME` (one)."""
