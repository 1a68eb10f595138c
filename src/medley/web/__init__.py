"""The composition root: the FastAPI app (REST API, live event stream, dashboard at
/hangfire) built on the engine. `create_app(settings)` for `medley serve`;
`mount_medley(host_app, ...)` to add both to an application of your own."""

from __future__ import annotations

from medley.web.app import create_app, mount_medley
from medley.web.auth.principal import Principal, Role

__all__ = ["Principal", "Role", "create_app", "mount_medley"]
