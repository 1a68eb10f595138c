"""The dashboard's pages. Each page has a live part that the browser refreshes in place
(`?part=live` returns just that fragment), so nothing reloads and nothing is counted twice.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from medley.application.errors import BatchNotFoundError, JobNotFoundError
from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import JobSearchParams
from medley.infrastructure.services._mapping import job_info
from medley.web.api.events import prepend, sse_stream
from medley.web.auth.principal import Principal
from medley.web.dashboard import actions
from medley.web.dashboard.auth import DashboardDenied, current_principal, denied_response
from medley.web.dashboard.auth import router as auth_router
from medley.web.dashboard.render import HERE, PREFIX, render
from medley.web.dependencies import HubDep, MonitorDep, ServiceDep
from medley.web.monitoring import STATE_ORDER

router = APIRouter(include_in_schema=False)
Caller = Annotated[Principal, Depends(current_principal)]
PAGE_SIZE = 50
LOG_LINES = 500
"""Log lines shown on a job's page; the rest are a link to the API away."""


def install(app: FastAPI) -> None:
    """Add the dashboard's routes, static files and HTML error answers to `app`."""
    app.include_router(auth_router, prefix=PREFIX, include_in_schema=False)
    app.include_router(router, prefix=PREFIX)
    app.include_router(actions.router, prefix=PREFIX)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="medley-static")

    async def on_denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DashboardDenied)
        return denied_response(request, exc)

    app.add_exception_handler(DashboardDenied, on_denied)


def _part(request: Request, page: str, live: str, principal: Principal, **ctx: Any) -> Response:
    live_only = request.query_params.get("part") == "live"
    return render(request, live if live_only else page, principal, **ctx)


def _not_found(request: Request, principal: Principal, message: str) -> Response:
    return render(
        request, "not_found.html", principal, status_code=404, message=message, nav="jobs"
    )


@router.get("", response_class=HTMLResponse)
async def root(request: Request) -> Response:
    return RedirectResponse(request.url.path + "/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, principal: Caller, monitor: MonitorDep) -> Response:
    data = await monitor.overview()
    peak = max([m.succeeded + m.failed for m in data.throughput] + [1])
    return _part(
        request,
        "overview.html",
        "_overview_live.html",
        principal,
        overview=data,
        states=STATE_ORDER,
        peak=peak,
        nav="overview",
    )


def _query(request: Request, **changes: str | int | None) -> str:
    """This page's query string without paging and fragment keys, plus `changes`."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("before", "part")]
    params += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlencode(params)


def _search(q: str | None) -> dict[str, Any]:
    """One search box: a number is a job id, `tag:x` a tag, anything else a job name."""
    q = (q or "").strip()
    if not q:
        return {}
    if q.isdigit():
        return {"id": int(q)}
    if q.startswith("tag:"):
        return {"tag": q[4:].strip() or None}
    return {"job": q}


@router.get("/jobs", response_class=HTMLResponse)
async def jobs(
    request: Request,
    principal: Caller,
    service: ServiceDep,
    monitor: MonitorDep,
    state: JobState | None = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    job: Annotated[str | None, Query(max_length=500)] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    found = _search(q)
    if "id" in found:
        if await service.store.job_get(found["id"]) is not None:
            return RedirectResponse(f"{request.url.path}/{found['id']}", status_code=303)
        found = {"missing": found["id"]}
    job = found.get("job", job or None)
    tag = found.get("tag", tag or None)
    rows = (
        []
        if "missing" in found
        else await service.store.job_search(
            JobSearchParams(
                state=state,
                queue=queue or None,
                job=job,
                tag=tag,
                before_id=before,
                limit=PAGE_SIZE,
            )
        )
    )
    counts = await monitor.counts()
    queues = [v.name for v in await monitor.queues()]
    nav = (
        {JobState.FAILED: "failed", JobState.SCHEDULED: "scheduled"}.get(state, "jobs")
        if state
        else "jobs"
    )
    return _part(
        request,
        "jobs.html",
        "_jobs_live.html",
        principal,
        items=[job_info(r) for r in rows],
        state=state,
        queue=queue or "",
        job=job or "",
        tag=tag or "",
        q=q or "",
        missing=found.get("missing"),
        counts=counts,
        states=STATE_ORDER,
        queues=queues,
        before=before,
        nav=nav,
        live_query=_query(request, before=before, part="live"),
        newest_query=_query(request),
        older_query=_query(request, before=rows[-1].id) if len(rows) == PAGE_SIZE else None,
    )


@router.get("/failed", response_class=HTMLResponse)
async def failed(request: Request) -> Response:
    return RedirectResponse(f"{request.url.path.rsplit('/', 1)[0]}/jobs?state=failed", 303)


@router.get("/scheduled", response_class=HTMLResponse)
async def scheduled(request: Request) -> Response:
    return RedirectResponse(f"{request.url.path.rsplit('/', 1)[0]}/jobs?state=scheduled", 303)


@router.get("/jobs/{job_id:int}", response_class=HTMLResponse)
async def job_detail(
    request: Request, job_id: int, principal: Caller, service: ServiceDep
) -> Response:
    try:
        info = await service.get(job_id)
    except JobNotFoundError:
        return _not_found(request, principal, f"No job has id {job_id}.")
    attempts = [h for h in info.history if h.error is not None]
    logs = await service.job_logs(job_id, limit=LOG_LINES)
    return _part(
        request,
        "job.html",
        "_job_live.html",
        principal,
        job=info,
        attempts=attempts,
        logs=logs,
        nav="jobs",
    )


@router.get("/batches/{batch_id:int}", response_class=HTMLResponse)
async def batch_detail(
    request: Request, batch_id: int, principal: Caller, service: ServiceDep
) -> Response:
    try:
        batch = await service.get_batch(batch_id)
    except BatchNotFoundError:
        return _not_found(request, principal, f"No batch has id {batch_id}.")
    return _part(request, "batch.html", "_batch_live.html", principal, batch=batch, nav="jobs")


@router.get("/jobs/{job_id:int}/events")
async def job_events(request: Request, job_id: int, _: Caller, hub: HubDep) -> Response:
    """The job's SSE stream for the detail page, authorized by the dashboard session."""
    stream = sse_stream(hub, job_id, request.headers.get("last-event-id"))
    try:
        first = await anext(stream)
    except JobNotFoundError:
        return Response(status_code=404)

    return StreamingResponse(
        prepend(first, stream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/queues", response_class=HTMLResponse)
async def queues(request: Request, principal: Caller, monitor: MonitorDep) -> Response:
    return _part(
        request,
        "queues.html",
        "_queues_live.html",
        principal,
        queues=await monitor.queues(),
        nav="queues",
    )


@router.get("/servers", response_class=HTMLResponse)
async def servers(request: Request, principal: Caller, monitor: MonitorDep) -> Response:
    return _part(
        request,
        "servers.html",
        "_servers_live.html",
        principal,
        servers=await monitor.servers(),
        lease=monitor.lease_seconds,
        nav="servers",
    )


@router.get("/recurring", response_class=HTMLResponse)
async def recurring(request: Request, principal: Caller, service: ServiceDep) -> Response:
    return render(
        request,
        "recurring.html",
        principal,
        items=await service.recurring_list(),
        nav="recurring",
    )


@router.get("/limits", response_class=HTMLResponse)
async def limits(request: Request, principal: Caller, service: ServiceDep) -> Response:
    """Named concurrency limits: slots in use against capacity, cluster-wide."""
    return render(request, "limits.html", principal, items=await service.limit_list(), nav="limits")
