"""Tickets: numbering, routing, lifecycle rules, messages, events and their flows."""
