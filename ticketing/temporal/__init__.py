"""Temporal adapter pieces shared by every client the project builds (data converter, codec)."""
