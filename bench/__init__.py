"""Benchmarks: `make bench` runs `bench.run`."""
