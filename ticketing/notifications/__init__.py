"""Outbox, rendering and delivery of notices."""
