"""Ports and models: the application layer imports nothing from infrastructure or web."""
