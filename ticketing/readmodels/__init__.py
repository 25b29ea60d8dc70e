"""Read models that compose several domains: what the API, the CLI, the desk and the portal
render, read once here so no door assembles them itself."""
