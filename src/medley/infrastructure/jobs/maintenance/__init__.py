"""Leader-only periodic services."""
