"""`medley demo` runs the bundled documents through the AI pipeline to the end on its own
SQLite file: with the model when the ai extra is installed, with the hashed embedding
(and a note saying so) when it is not, and with the dashboard up under `--serve`."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx
import pytest

from medley.demo.jobs import document_paths
from tests.e2e.conftest import MedleyCli
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

DEMO_TIMEOUT = 120.0


def _metric(output: str, name: str) -> int:
    found = re.search(rf"^\W*{re.escape(name)}\W+([\d,]+)\W*$", output, re.MULTILINE)
    assert found, f"no {name!r} in the summary:\n{output}"
    return int(found.group(1).replace(",", ""))


def _without_ai_extra(folder: Path) -> dict[str, str]:
    """PYTHONPATH that makes `import numpy` fail, as on a machine without the ai extra."""
    hidden = folder / "hide-ai-extra" / "numpy"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'numpy'\", name='numpy')\n"
    )
    return {"PYTHONPATH": str(hidden.parent)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _assert_complete_summary(output: str) -> None:
    jobs = _metric(output, "jobs run")
    documents = len(document_paths())
    assert _metric(output, "documents") == documents, output
    assert jobs > documents * 3, output  # extract + embed + finalize per document, + question
    assert _metric(output, "succeeded") == jobs, output
    assert _metric(output, "failed") == 0, output
    assert _metric(output, "failed documents") == 0, output
    assert _metric(output, "retried attempts") >= 1, output
    assert _metric(output, "embeddings") == _metric(output, "fragments") > documents, output
    assert _metric(output, "fragments/hour") > 0, output
    assert "Top 3 fragments" in output, output


async def test_demo_runs_every_job_to_success(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    cli = MedleyCli(f"sqlite:///{database}", tmp_path)

    result = await cli.run("demo", "--database-url", cli.url, timeout=DEMO_TIMEOUT)

    assert result.code == 0, result
    _assert_complete_summary(result.stdout)
    top = result.stdout.split("Top 3 fragments")[1]
    assert top.index("tides.txt") < top.index("│ 2 │"), "the best answer comes from tides.txt"
    assert database.exists()
    assert "Traceback" not in result.stderr


async def test_demo_without_the_ai_extra_falls_back_to_the_hashed_embedding(
    tmp_path: Path,
) -> None:
    cli = MedleyCli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)

    result = await cli.run(
        "demo", "--database-url", cli.url, env=_without_ai_extra(tmp_path), timeout=DEMO_TIMEOUT
    )

    assert result.code == 0, result
    assert "hashed bag-of-words embedding" in " ".join(result.stdout.split()), result
    assert "hashed-bow-256" in result.stdout, result
    _assert_complete_summary(result.stdout)


async def test_demo_serve_keeps_the_dashboard_up_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    cli = MedleyCli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)
    env = {**_without_ai_extra(tmp_path), "MEDLEY_PORT": str(port)}

    demo = await cli.start("demo", "--serve", "--database-url", cli.url, env=env)
    await wait_for(lambda: "Top 3 fragments" in demo.log(), timeout=DEMO_TIMEOUT)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=5, follow_redirects=True
    ) as client:
        dashboard = await client.get("/hangfire/jobs")  # no users: loopback clients may look
    code = await demo.stop(signal.SIGINT, timeout=20)

    assert dashboard.status_code == 200, demo.log()
    assert "medley.ai.embed_fragments" in dashboard.text, dashboard.text[:500]
    assert f"http://127.0.0.1:{port}/hangfire" in demo.log()
    assert code == 0, demo.log()
