"""Calling a language model from a job: an OpenAI-compatible chat client that turns the
API's answers into job control. The API's limits are kept cluster-wide by the engine,
not here: the job runs under a named limit (`medley.ai.llm`) whose start rate is the
requests per minute and whose token budget is the tokens per minute (see `jobs.py`).

* A job reserves its estimated tokens when it is claimed (`estimate_tokens`), and
  reports the answer's `usage.total_tokens` after (`ctx.report_usage`), which replaces
  the reservation, so the budget counts what the API counted.
* HTTP 429 raises `Snooze(Retry-After, limit_backoff=True)`: the job gives its slot back
  without spending an attempt, and no job of its limit starts anywhere until then.
* 5xx answers, connection errors and the per-request timeout raise `LlmUnavailableError`:
  a failed attempt, retried with the job's backoff.
* Other 4xx answers raise `LlmRequestError`: the request itself is wrong, so the job
  lists it in `discard_on` and fails at once instead of retrying.
* Cancellation (a user's, or the job's timeout) cancels the awaiting task, which aborts
  the HTTP request in flight.

httpx is imported when a client is built, so that the rest of the AI layer (and the
demo) works without it.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from medley.application.errors import MedleyError
from medley.infrastructure.jobs.control import Snooze

if TYPE_CHECKING:
    import httpx

CHARS_PER_TOKEN = 4
"""Prompt tokens are estimated from characters before the call (the usual 4:1 for
English); the reported usage corrects the estimate afterwards."""


def estimate_tokens(messages_chars: int, max_tokens: int) -> int:
    """What a call may cost at most, before it is made: the prompt's estimate plus the
    completion's ceiling. Reserved from the limit's token budget when the job starts."""
    return messages_chars // CHARS_PER_TOKEN + max_tokens


class LlmRequestError(MedleyError):
    """The language-model API rejected the request (a 4xx other than 429): not retryable."""


class LlmUnavailableError(MedleyError):
    """The language-model API failed or did not answer in time: retry later."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmConfig:
    """An OpenAI-compatible endpoint and the limits to keep to."""

    base_url: str
    """Up to and including the version, e.g. `http://127.0.0.1:8000/v1`."""
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 60.0
    """Per request: connect, send and read together."""
    default_retry_after_seconds: float = 20.0
    """Snooze after a 429 that carries no usable Retry-After."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {self.base_url!r}")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    """What the API counted against its tokens-per-minute limit (`usage.total_tokens`)."""


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110); None if unusable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class LlmClient:
    """One per process; the limits are the engine's (see the module docstring)."""

    def __init__(self, config: LlmConfig, *, transport: httpx.AsyncBaseTransport | None = None):
        import httpx

        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(config.timeout_seconds),
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, model: str | None = None
    ) -> Completion:
        """One chat completion. Raises `Snooze`, `LlmUnavailableError` or `LlmRequestError`
        as the module docstring describes."""
        body = {"model": model or self.config.model, "messages": messages, "max_tokens": max_tokens}
        response = await self._post(body)
        if response.status_code == 429:
            delay = retry_after_seconds(response.headers.get("retry-after"))
            delay = self.config.default_retry_after_seconds if delay is None else delay
            raise Snooze(
                delay, f"rate limited by the API (429): retrying in {delay:g}s", limit_backoff=True
            )
        if response.status_code >= 500:
            raise LlmUnavailableError(f"the API answered {response.status_code}")
        if response.status_code >= 400:
            raise LlmRequestError(f"the API refused the request ({response.status_code}): "
                                  f"{response.text[:200]}")  # fmt: skip
        return _completion(response.json())

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        import httpx

        try:
            return await self._http.post("chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise LlmUnavailableError(
                f"no answer within {self.config.timeout_seconds:g}s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise LlmUnavailableError(f"cannot reach the API: {exc}") from exc


def _completion(payload: dict[str, Any]) -> Completion:
    try:
        text = payload["choices"][0]["message"]["content"]
        usage = payload.get("usage") or {}
        prompt = int(usage.get("prompt_tokens", 0))
        completion = int(usage.get("completion_tokens", 0))
        return Completion(
            text=str(text),
            model=str(payload.get("model", "")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=int(usage.get("total_tokens", prompt + completion)),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise LlmUnavailableError(f"unexpected answer from the API: {exc!r}") from exc
