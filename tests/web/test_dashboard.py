"""The dashboard over HTTP (a real server): authentication, CSRF, roles, escaping,
security headers, every page, search, actions. The browser tests drive the same pages
in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.services.background_job_service import JobService
from medley.web import Principal, Role, create_app, mount_medley
from tests.web.conftest import web_settings
from tests.web.served import Served, ServerThread

pytestmark = pytest.mark.e2e

PAGES = [
    "/",
    "/jobs",
    "/jobs?state=failed",
    "/jobs?state=scheduled",
    "/queues",
    "/servers",
    "/recurring",
    "/limits",
    "/?part=live",
    "/queues?part=live",
    "/servers?part=live",
    "/jobs?state=failed&part=live",
]
XSS = "<script>window.__pwned = 1</script>"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def enqueue(served: Served, job: str, *args: object, **extra: object) -> int:
    body = {"job": job, "args": list(args), **extra}
    response = httpx.post(f"{served.url}/api/jobs", json=body, headers=served.headers())
    assert response.status_code == 201, response.text
    job_id: int = response.json()["id"]
    return job_id


def wait_state(served: Served, job_id: int, state: str) -> None:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # polls a condition with a deadline
        got = httpx.get(f"{served.url}/api/jobs/{job_id}", headers=served.headers()).json()
        if got["state"] == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never became {state}")


def login(served: Served, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=served.url, follow_redirects=False, timeout=10)
    form = client.get("/hangfire/login")
    response = client.post(
        "/hangfire/login",
        data={
            "username": name,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": "/hangfire/jobs",
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/hangfire/jobs"
    return client


@pytest.fixture
def with_users(served: Served) -> Served:
    served.add_user("ada", "correct horse", Role.ADMIN)
    served.add_user("vic", "viewer pass", Role.VIEWER)
    return served


def test_without_users_the_dashboard_serves_loopback_and_says_how_to_add_one(
    served: Served,
) -> None:
    response = httpx.get(f"{served.url}/hangfire/")

    assert response.status_code == 200
    assert "medley users add NAME --role admin" in response.text
    assert "Overview" in response.text


def test_every_page_renders(served: Served) -> None:
    job_id = enqueue(served, "web.add", 1, 2)
    wait_state(served, job_id, "succeeded")
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        for page in [*PAGES, f"/jobs/{job_id}", f"/jobs/{job_id}?part=live"]:
            response = client.get(page)
            assert response.status_code == 200, page
            assert response.headers["content-type"].startswith("text/html")
        assert client.get("/jobs/987654321").status_code == 404


def test_pages_send_security_headers(served: Served) -> None:
    response = httpx.get(f"{served.url}/hangfire/")

    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_job_arguments_are_escaped(served: Served) -> None:
    job_id = enqueue(
        served,
        "web.echo",
        XSS,
        "<img src=x onerror=alert(1)>",
        kwargs={"note": XSS},
        tags=["<b>t</b>"],
    )
    wait_state(served, job_id, "succeeded")

    html = httpx.get(f"{served.url}/hangfire/jobs/{job_id}").text
    listing = httpx.get(f"{served.url}/hangfire/jobs").text

    for page in (html, listing):
        assert "<script>window" not in page
        assert "<img src=x" not in page
        assert "<b>t</b>" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html


def test_with_users_the_dashboard_asks_to_sign_in(with_users: Served) -> None:
    response = httpx.get(f"{with_users.url}/hangfire/queues")

    assert response.status_code == 303
    assert response.headers["location"] == "/hangfire/login?next=%2Fhangfire%2Fqueues"


def test_a_wrong_password_is_refused(with_users: Served) -> None:
    with httpx.Client(base_url=with_users.url) as client:
        token = csrf_of(client.get("/hangfire/login").text)
        response = client.post(
            "/hangfire/login", data={"username": "ada", "password": "wrong", "csrf_token": token}
        )
        unknown = client.post(
            "/hangfire/login", data={"username": "nobody", "password": "wrong", "csrf_token": token}
        )

    assert response.status_code == 401
    assert unknown.status_code == 401
    assert "Wrong user name or password" in response.text


def test_a_login_without_its_csrf_token_is_refused(with_users: Served) -> None:
    response = httpx.post(
        f"{with_users.url}/hangfire/login", data={"username": "ada", "password": "correct horse"}
    )

    assert response.status_code == 403


def test_a_signed_in_admin_sees_pages_and_acts_with_the_csrf_token(with_users: Served) -> None:
    job_id = enqueue(with_users, "web.add", 1, 2, delay_seconds=3600)
    client = login(with_users, "ada", "correct horse")

    page = client.get(f"/hangfire/jobs/{job_id}")
    forged = client.post(f"/hangfire/jobs/{job_id}/cancel", data={"csrf_token": "forged"})
    cancelled = client.post(
        f"/hangfire/jobs/{job_id}/cancel", data={"csrf_token": csrf_of(page.text)}
    )

    assert page.status_code == 200
    assert "ada" in page.text
    assert forged.status_code == 403
    assert cancelled.status_code == 303
    wait_state(with_users, job_id, "cancelled")
    client.close()


def test_a_viewer_sees_no_action_buttons_and_is_refused_on_post(with_users: Served) -> None:
    job_id = enqueue(with_users, "web.fail", "x")
    wait_state(with_users, job_id, "failed")
    client = login(with_users, "vic", "viewer pass")

    page = client.get(f"/hangfire/jobs/{job_id}")
    failed = client.get("/hangfire/jobs?state=failed")
    queues = client.get("/hangfire/queues")
    refused = client.post(f"/hangfire/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})

    assert page.status_code == 200
    for html in (page.text, failed.text, queues.text):
        assert f"/jobs/{job_id}/retry" not in html
        assert "Retry all matching" not in html
        assert "/pause" not in html
    assert refused.status_code == 403
    assert "viewer" in refused.text
    wait_state(with_users, job_id, "failed")
    client.close()


def test_logout_ends_the_session(with_users: Served) -> None:
    client = login(with_users, "ada", "correct horse")
    page = client.get("/hangfire/")

    out = client.post("/hangfire/logout", data={"csrf_token": csrf_of(page.text)})

    assert out.status_code == 303
    assert client.get("/hangfire/").status_code == 303
    client.close()


def test_login_never_redirects_off_the_dashboard(with_users: Served) -> None:
    with httpx.Client(base_url=with_users.url) as client:
        token = csrf_of(client.get("/hangfire/login").text)
        response = client.post(
            "/hangfire/login",
            data={
                "username": "ada",
                "password": "correct horse",
                "csrf_token": token,
                "next": "https://evil.example/",
            },
        )

    assert response.headers["location"] == "/hangfire/"


def test_search_finds_by_id_tag_and_job_name(served: Served) -> None:
    job_id = enqueue(served, "web.add", 1, 2, tags=["doc-42"], delay_seconds=600)
    other = enqueue(served, "web.echo", "x", delay_seconds=600)
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        by_id = client.get("/jobs", params={"q": str(job_id)})
        by_tag = client.get("/jobs", params={"q": "tag:doc-42"}).text
        by_name = client.get("/jobs", params={"q": "web.echo"}).text
        missing = client.get("/jobs", params={"q": "987654321"}).text

    assert by_id.status_code == 303
    assert by_id.headers["location"].endswith(f"/hangfire/jobs/{job_id}")
    assert f"#{job_id}" in by_tag
    assert f"#{other}" not in by_tag
    assert f"#{other}" in by_name
    assert f"#{job_id}" not in by_name
    assert "No job has id 987654321" in missing


def test_failed_jobs_are_retried_all_matching_from_the_dead_letter_page(served: Served) -> None:
    ids = [enqueue(served, "web.fail", f"e{i}") for i in range(3)]
    for job_id in ids:
        wait_state(served, job_id, "failed")
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        page = client.get("/jobs", params={"state": "failed"})
        assert "Retry all matching" in page.text
        response = client.post(
            "/jobs/all/retry",
            data={"csrf_token": csrf_of(page.text), "state": "failed", "error_type": "ValueError"},
        )

    assert response.status_code == 303
    assert "n=3" in response.headers["location"]
    for job_id in ids:
        wait_state(served, job_id, "failed")  # retried once more, failed again


def test_selected_failed_jobs_are_deleted(served: Served) -> None:
    ids = [enqueue(served, "web.fail", f"d{i}") for i in range(2)]
    for job_id in ids:
        wait_state(served, job_id, "failed")
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        page = client.get("/jobs", params={"state": "failed"})
        response = client.post(
            "/jobs/bulk/delete",
            data={
                "csrf_token": csrf_of(page.text),
                "ids": [str(i) for i in ids],
                "state": "failed",
            },
        )

    assert response.status_code == 303
    for job_id in ids:
        got = httpx.get(f"{served.url}/api/jobs/{job_id}", headers=served.headers())
        assert got.status_code == 404


def test_queues_are_paused_and_resumed_from_the_dashboard(served: Served) -> None:
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        page = client.get("/queues")
        paused = client.post("/queues/default/pause", data={"csrf_token": csrf_of(page.text)})
        after = client.get("/queues").text
        client.post("/queues/default/resume", data={"csrf_token": csrf_of(page.text)})
        resumed = client.get("/queues").text

    assert paused.status_code == 303
    assert ">paused<" in after
    assert ">paused<" not in resumed


# --- the dashboard without users, seen from another machine; host integration --------


@pytest.fixture
def sqlite_app_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dash.db'}"


async def test_without_users_a_remote_client_is_refused_with_the_hint(sqlite_app_url: str) -> None:
    app = create_app(web_settings(sqlite_app_url, with_worker=False))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://medley.example") as client,
    ):
        response = await client.get("/hangfire/")

    assert response.status_code == 403
    assert "medley users add NAME --role admin" in response.text


def test_a_host_authorize_callable_replaces_the_login(sqlite_app_url: str) -> None:
    def authorize(request: Request) -> Principal | None:
        if request.headers.get("x-host-user") == "boss":
            return Principal("boss", Role.VIEWER, via="host")
        return None

    thread = ServerThread(
        create_app(web_settings(sqlite_app_url, with_worker=False), authorize=authorize)
    )
    url = thread.start()
    try:
        allowed = httpx.get(f"{url}/hangfire/", headers={"x-host-user": "boss"})
        refused = httpx.get(f"{url}/hangfire/")
    finally:
        thread.stop()

    assert allowed.status_code == 200
    assert "boss" in allowed.text
    assert refused.status_code == 403


@pytest.fixture
def host_app(sqlite_app_url: str) -> Iterator[str]:
    host = FastAPI()

    @host.get("/")
    async def home() -> dict[str, str]:
        return {"app": "host"}

    mount_medley(host, web_settings(sqlite_app_url, with_worker=False))
    thread = ServerThread(host)
    url = thread.start()
    try:
        yield url
    finally:
        thread.stop()


def test_a_host_app_mounts_the_api_and_dashboard_in_one_call(host_app: str) -> None:
    home = httpx.get(f"{host_app}/")
    dashboard = httpx.get(f"{host_app}/medley/hangfire/")
    api = httpx.get(f"{host_app}/medley/api/stats")

    assert home.json() == {"app": "host"}
    assert dashboard.status_code == 200
    assert 'href="/medley/hangfire/jobs"' in dashboard.text
    assert 'src="/medley/hangfire/static/dashboard.js"' in dashboard.text
    assert httpx.get(f"{host_app}/medley/hangfire/static/dashboard.js").status_code == 200
    assert api.status_code == 401


def test_the_limits_page_shows_usage_against_capacity(served: Served) -> None:
    async def define(store: JobStore) -> None:
        service = JobService(store, owns_store=False)
        await service.limit_set("llm <api>", 3)

    served.run(define)
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        page = client.get("/limits")

    assert page.status_code == 200
    assert "llm &lt;api&gt;" in page.text
    assert 'max="3" value="0"' in page.text
    assert "runtime" in page.text


def test_the_limits_page_shows_rates_and_token_budgets(served: Served) -> None:
    async def define(store: JobStore) -> None:
        service = JobService(store, owns_store=False)
        await service.limit_set("api", rate=60, tokens=40_000, period=60)

    served.run(define)
    with httpx.Client(base_url=f"{served.url}/hangfire") as client:
        page = client.get("/limits")

    assert page.status_code == 200
    [row] = [r for r in page.text.split("<tr>") if '<th scope="row">api</th>' in r]
    assert "0 / 60 per 60.0s" in row
    assert "0 / 40000 per 60.0s" in row
    assert "<meter" not in row, "no capacity bar for a limit without max_running"
