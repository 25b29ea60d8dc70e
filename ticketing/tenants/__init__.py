"""Partners, tenants and their customers."""
