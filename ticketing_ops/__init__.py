"""Operator tooling: the `ticketing` CLI, the embedded dev stack and the demo.

A composition root like worker.py: wires settings, clients and servers; no business rules.
"""
