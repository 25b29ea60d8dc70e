"""Outages: one parent ticket for a network fault, the customers it affects by their tags."""
