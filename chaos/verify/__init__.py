"""The verdict once the load is over: one module per group of checks, run by `verifier`."""
