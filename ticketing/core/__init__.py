"""Enums, field types, errors and the ORM base shared by every domain; no I/O."""
