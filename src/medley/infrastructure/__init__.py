"""Adapters: everything that does I/O."""
