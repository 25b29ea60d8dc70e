"""The public Python entry point for embedding the plugin without Temporal."""
