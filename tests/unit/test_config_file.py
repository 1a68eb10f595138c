"""`MEDLEY_CONFIG_FILE`: a deployment's limits, queues and thresholds in one TOML file,
under the environment (a variable set for one run still wins), with one clear error for
a missing or broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from medley.application.errors import ConfigError
from medley.config import CONFIG_FILE_ENV, Settings

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_configures_limits_queues_and_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "medley.toml",
        'database_url = "sqlite:///jobs.db"\n'
        'queues = "ai:4,default:16"\n'
        'limits = "llm=max:3 rate:60/min tokens:40000/min"\n'
        "max_rss_mb = 900\n",
    )
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))

    settings = Settings()

    assert settings.database_url == "sqlite:///jobs.db"
    assert settings.worker_config().concurrency == 20
    [llm] = settings.limit_map().values()
    assert (llm.max_running, llm.rate, llm.tokens, llm.period_seconds) == (3, 60, 40_000, 60)
    assert settings.max_rss_mb == 900


def test_the_environment_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "medley.toml", 'queues = "ai:4"\nmax_rss_mb = 900\n')
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("MEDLEY_QUEUES", "default")

    settings = Settings()

    assert (settings.queues, settings.max_rss_mb) == ("default", 900)


def test_a_missing_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "absent.toml"))

    with pytest.raises(ConfigError, match=r"absent\.toml: no such file"):
        Settings()


def test_a_broken_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(write(tmp_path / "bad.toml", "queues = [\n")))

    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        Settings()
