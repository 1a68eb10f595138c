"""Calling a language model from a job: an OpenAI-compatible chat client that keeps to
the API's limits and turns its answers into job control.

* Before each request the client reserves one request and its estimated tokens against
  `RateLimiter` (requests and tokens per minute). A short wait is slept; a long one
  raises `Snooze`, which gives the worker slot back and costs no attempt.
* HTTP 429 blocks the limiter for `Retry-After` and raises `Snooze(Retry-After)`.
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

import asyncio
import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from medley.application.errors import MedleyError
from medley.infrastructure.ai.limits import RateLimiter
from medley.infrastructure.jobs.control import Snooze

if TYPE_CHECKING:
    import httpx

CHARS_PER_TOKEN = 4
"""Prompt tokens are estimated from characters before the call (the usual 4:1 for English);
the limiter is corrected by nothing more, as the API's own 429 is the backstop."""


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
    requests_per_minute: float = 0
    """0: no limit of our own."""
    tokens_per_minute: float = 0
    max_inline_wait_seconds: float = 2.0
    """A limiter wait up to this is slept in the job; a longer one snoozes it."""
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
    """One per process: its limiter is the process's share of the API's limits."""

    def __init__(self, config: LlmConfig, *, transport: httpx.AsyncBaseTransport | None = None):
        import httpx

        self.config = config
        self.limiter = RateLimiter(config.requests_per_minute, config.tokens_per_minute)
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
        estimate = sum(len(m.get("content", "")) for m in messages) // CHARS_PER_TOKEN
        await self._reserve(estimate + max_tokens)
        body = {"model": model or self.config.model, "messages": messages, "max_tokens": max_tokens}
        response = await self._post(body)
        if response.status_code == 429:
            delay = retry_after_seconds(response.headers.get("retry-after"))
            delay = self.config.default_retry_after_seconds if delay is None else delay
            self.limiter.block_for(delay)
            raise Snooze(delay, f"rate limited by the API (429): retrying in {delay:g}s")
        if response.status_code >= 500:
            raise LlmUnavailableError(f"the API answered {response.status_code}")
        if response.status_code >= 400:
            raise LlmRequestError(f"the API refused the request ({response.status_code}): "
                                  f"{response.text[:200]}")  # fmt: skip
        return _completion(response.json())

    async def _reserve(self, tokens: int) -> None:
        deadline = time.monotonic() + self.config.max_inline_wait_seconds
        while (wait := self.limiter.reserve(tokens)) > 0:
            if time.monotonic() + wait > deadline:
                raise Snooze(wait, f"over our own rate limit: retrying in {wait:.1f}s")
            await asyncio.sleep(wait)

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
        return Completion(
            text=str(text),
            model=str(payload.get("model", "")),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise LlmUnavailableError(f"unexpected answer from the API: {exc!r}") from exc
