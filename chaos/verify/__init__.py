"""The verdict: what the workflows, the database and the mail server show once the load is over,
one module per group of checks (`verifier.Verifier` runs them in order)."""
