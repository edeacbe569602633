"""Benchmarks: `make bench` runs them all, `make bench NAME=x` runs bench/x.py.

Each prints `BENCH <name> <value> <unit>` lines and stops by itself within minutes.
"""
