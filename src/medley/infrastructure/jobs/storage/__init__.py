"""Job storage: one port, one adapter per backend."""
