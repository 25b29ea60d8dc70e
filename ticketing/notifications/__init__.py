"""Notices: the outbox, rendering into threaded mail, and delivery."""
