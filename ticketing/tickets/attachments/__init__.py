"""Files attached to tickets and their messages (mail and web), behind a storage port."""
