"""The HTTP API: FastAPI app factory, routers, problem+json errors and API-key auth."""
