"""Chaos runs against the embedded stack: load while killing the worker, PostgreSQL and Temporal.

`python -m chaos.run --n 500 --seed 1` (chaos/README.md). `run` parses the arguments and runs the
others in turn: `plan` (settings, seeded requests and faults), `processes` (the stack), `load`,
`faults`, `verify/` (the checks, one module per group) and `report` (JSON and tables).
"""
