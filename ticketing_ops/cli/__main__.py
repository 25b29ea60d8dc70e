"""`python -m ticketing_ops.cli`, the same as the `ticketing` console script."""

from ticketing_ops.cli import app

app()
