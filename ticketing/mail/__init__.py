"""The email channel: mailboxes, received mail and the intake rules (pure decisions)."""
