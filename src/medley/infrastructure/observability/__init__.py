"""Observability: log context (job and request fields on every record), per-job log
capture, Prometheus metrics, health checks and performance statistics.

Everything here is internal; the public pieces are re-exported by `medley`.
"""
