"""Implementations of the application services."""
