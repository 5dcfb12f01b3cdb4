"""Business rules. The only layer that commits and enqueues."""
