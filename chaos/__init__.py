"""Chaos runs against the embedded stack: load while killing the worker, PostgreSQL and Temporal.

`python -m chaos.run --n 500 --seed 1`; the code lives in `chaos.run` (`run_chaos`, `ChaosConfig`).
"""
