"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright
through `executable_path`; never `playwright install`). Screenshots land in tmp_path, or
in `MEDLEY_SCREENSHOT_DIR` when set, for people to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from medley.web.auth.principal import Role
from tests.web.jobs import gate
from tests.web.served import Served
from tests.web.test_dashboard import XSS, enqueue, wait_state

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_MS = 15_000


def chromium_path() -> str:
    """Debian's Chromium, installed on first use when missing (the test setup's job)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"cannot install chromium ({' '.join(command)}): {done.stderr[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but no `chromium` is on PATH")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MEDLEY_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


@pytest.fixture(params=["sqlite"])
def backend_name(request: pytest.FixtureRequest) -> str:
    """One backend is enough here: the pages are the same; the API tests cover both."""
    name: str = request.param
    return name


def sign_in(page: Page, served: Served, name: str, password: str) -> None:
    page.goto(f"{served.url}/hangfire/")
    expect(page).to_have_url(f"{served.url}/hangfire/login?next=%2Fhangfire%2F")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_an_admin_signs_in_and_follows_a_job_live(served: Served, page: Page, shots: Path) -> None:
    served.add_user("ada", "correct horse", Role.ADMIN)
    sign_in(page, served, "ada", "correct horse")
    key = f"browser-{uuid.uuid4()}"
    job_id = enqueue(served, "web.gated", key, tags=["demo"])

    try:
        page.goto(f"{served.url}/hangfire/jobs/{job_id}")
        expect(page.locator("[data-field=message]")).to_have_text("halfway", timeout=EXPECT_MS)
        page.evaluate("window.__same_page = true")
        page.screenshot(path=shots / "job-processing.png", full_page=True)
        gate(key).set()
        expect(page.locator("[data-field=state]")).to_have_text("succeeded", timeout=EXPECT_MS)
    finally:
        gate(key).set()
    assert page.evaluate("window.__same_page") is True, "the page reloaded"
    expect(page.locator("#job-progress")).to_have_attribute("value", "1.0")
    expect(page.get_by_role("heading", name="Result")).to_be_visible()
    page.goto(f"{served.url}/hangfire/")
    expect(page.locator(".tile.state-succeeded .n")).to_have_text("1", timeout=EXPECT_MS)
    page.screenshot(path=shots / "overview.png", full_page=True)


def test_script_in_job_arguments_stays_inert(served: Served, page: Page, shots: Path) -> None:
    job_id = enqueue(served, "web.echo", XSS, '<img src=x onerror="window.__pwned=2">')
    wait_state(served, job_id, "succeeded")

    page.goto(f"{served.url}/hangfire/jobs/{job_id}")

    expect(page.get_by_text("window.__pwned = 1").first).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script").count() == 0
    assert page.locator("main img").count() == 0
    page.screenshot(path=shots / "job-xss.png", full_page=True)


def test_a_failed_job_is_retried_from_the_dead_letter_page(
    served: Served, page: Page, shots: Path
) -> None:
    job_id = enqueue(served, "web.fail", "broken pipe")
    wait_state(served, job_id, "failed")

    page.goto(f"{served.url}/hangfire/jobs?state=failed")
    expect(page.get_by_text("broken pipe")).to_be_visible()
    page.screenshot(path=shots / "failed.png", full_page=True)
    page.get_by_label(f"Select job {job_id}").check()
    page.get_by_role("button", name="Retry selected").click()

    expect(page.get_by_role("status")).to_contain_text("Sent back to the queue")
    history = httpx.get(f"{served.url}/api/jobs/{job_id}", headers=served.headers()).json()
    assert "retried_by_user" in [h["reason"] for h in history["history"]]


def test_a_viewer_sees_no_action_buttons(served: Served, page: Page) -> None:
    served.add_user("vic", "viewer pass", Role.VIEWER)
    job_id = enqueue(served, "web.fail", "nope")
    wait_state(served, job_id, "failed")
    sign_in(page, served, "vic", "viewer pass")

    page.goto(f"{served.url}/hangfire/jobs/{job_id}")
    expect(page.get_by_text("ValueError").first).to_be_visible()
    assert page.get_by_role("button", name="Retry").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    page.goto(f"{served.url}/hangfire/queues")
    assert page.get_by_role("button", name="Pause queue default").count() == 0


def test_pages_fit_a_phone(served: Served, browser: Browser, shots: Path) -> None:
    job_id = enqueue(served, "web.add", 1, 2)
    wait_state(served, job_id, "succeeded")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        for name, path in [
            ("phone-overview", "/"),
            ("phone-job", f"/jobs/{job_id}"),
            ("phone-jobs", "/jobs"),
        ]:
            phone.goto(f"{served.url}/hangfire{path}")
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{path} is {overflow}px wider than the phone"
            phone.screenshot(path=shots / f"{name}.png", full_page=True)
    finally:
        context.close()


def test_every_page_renders_with_data(served: Served, page: Page, shots: Path) -> None:
    """Each dashboard page answers 200 with its heading and real rows in it; the
    screenshots are the README's gallery (`MEDLEY_SCREENSHOT_DIR=docs/screenshots`)."""
    done = enqueue(served, "web.add", 1, 2, tags=["invoice"])
    failed = enqueue(served, "web.fail", "upstream answered 503")
    enqueue(served, "web.add", 3, 4, delay_seconds=3600)
    recurring = httpx.put(
        f"{served.url}/api/recurring/nightly-add",
        json={"job": "web.add", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "args": [1, 1]},
        headers=served.headers(),
    )
    assert recurring.status_code == 200, recurring.text
    limit = httpx.put(
        f"{served.url}/api/limits/openai",
        json={"max_running": 8, "rate": 500, "tokens": 40_000, "period_seconds": 60},
        headers=served.headers(),
    )
    assert limit.status_code == 200, limit.text
    wait_state(served, done, "succeeded")
    wait_state(served, failed, "failed")

    for name, path, heading, row in [
        ("overview", "/", "Overview", "succeeded"),
        ("jobs", "/jobs", "Jobs", "web.add"),
        ("job", f"/jobs/{done}", f"Job #{done}", "invoice"),
        ("failed", "/failed", "Failed", "upstream answered 503"),
        ("scheduled", "/scheduled", "Scheduled", "web.add"),
        ("queues", "/queues", "Queues", "default"),
        ("servers", "/servers", "Servers", "default"),
        ("recurring", "/recurring", "Recurring", "nightly-add"),
        ("limits", "/limits", "Limits", "openai"),
    ]:
        response = page.goto(f"{served.url}/hangfire{path}")
        assert response is not None, path
        assert response.status == 200, path
        expect(page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
        expect(page.locator("main").get_by_text(row).first).to_be_visible()
        page.screenshot(path=shots / f"{name}.png", full_page=True)
