"""The REST API under /api (contract in DESIGN.md; OpenAPI at /openapi.json)."""
