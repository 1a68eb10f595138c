"""The dashboard at /hangfire: server-rendered pages (Jinja2, autoescaped), a small
script for live updates, no build step. Reads through the monitoring model; acts only
through the `JobService`."""
