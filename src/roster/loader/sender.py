"""Sending one chunk as the vendor's request, paced and retried until it is answered.

* A ``429`` waits its ``Retry-After`` (or until ``X-RateLimit-Reset``) and sends again; an
  accepted request whose ``X-RateLimit-Remaining`` is below the next chunk's elements makes every
  sender wait for the window's reset first, so a load larger than the per-minute budget is not
  refused again and again.
* A ``5xx`` or a lost connection is sent again after a bounded exponential backoff with jitter,
  with the same ``Idempotency-Key``, so a request the server stored before the connection broke
  is answered with its first batch, never applied twice.
* Any other answer ends the chunk: ``2xx`` is acknowledged, ``4xx`` refuses it as a whole, and
  ``401``/``403`` stop the load (the credentials are wrong).
"""

from __future__ import annotations

import base64
import io
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import httpx

from roster.loader.kinds import LoadKind

RETRIES = 8
#: 429 answers in a row to one chunk after which the load stops (each one waited its reset).
MAX_REFUSALS = 60
BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class LoadStopped(RuntimeError):
    """The load cannot go on (credentials refused, target unreachable); says what to do."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    batch_id: str | None
    body: dict[str, Any] | str


class Pacer:
    """When the next request may go, shared by every sender thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_before = 0.0  # epoch seconds
        self.refused = 0  # 429 answers, for the progress line
        #: Set when the load stops: every sender stops waiting at once.
        self.stopping = threading.Event()

    def count_refusal(self) -> None:
        with self._lock:
            self.refused += 1

    def wait(self) -> None:
        while (delay := self._not_before - time.time()) > 0:
            self.sleep(min(delay, 1.0))

    def sleep(self, seconds: float) -> None:
        """Sleep, unless the load stops meanwhile (then ``LoadStopped``)."""
        if self.stopping.wait(seconds):
            raise LoadStopped("stopped")

    def hold_until(self, at: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, at)

    def after(self, response: httpx.Response, next_elements: int) -> None:
        """Pace from an accepted answer's ``X-RateLimit-*``: wait for the reset when what is
        left would not take the next chunk."""
        remaining = _int(response.headers.get("x-ratelimit-remaining"))
        reset = _int(response.headers.get("x-ratelimit-reset"))
        if remaining is not None and reset is not None and remaining < next_elements:
            self.hold_until(reset + 0.05)


class Sender:
    """Sends chunks of one kind to one target with one set of credentials."""

    def __init__(
        self,
        kind: LoadKind,
        url: str,
        workspace: str,
        key: str,
        *,
        run: str | None,
        query: dict[str, str],
        transport: httpx.BaseTransport | None = None,
        retries: int = RETRIES,
        dry_run: bool = False,
    ) -> None:
        self.kind = kind
        self.path = kind.path.format(workspace=workspace)
        self.headers = {"Content-Type": kind.content_type, **_auth(kind, workspace, key)}
        if run is not None:
            self.headers["X-Roster-Run"] = run
        if dry_run:
            self.headers["X-Roster-Dry-Run"] = "true"
        self.query = query or None  # an empty one would drop the path's own (MoEngage's app_id)
        self.retries = retries
        self.pacer = Pacer()
        self.client = httpx.Client(base_url=url, timeout=TIMEOUT, transport=transport)

    def close(self) -> None:
        self.client.close()

    def send(self, body: IO[bytes], size: int, idempotency_key: str, elements: int) -> Answer:
        """Send one chunk's body (streamed from its file, ``size`` bytes) until it is answered
        (see the module's rules)."""
        headers = {
            **self.headers,
            "Idempotency-Key": idempotency_key,
            "Content-Length": str(size),
        }
        failures = refusals = 0
        while True:
            self.pacer.wait()
            try:
                body.seek(0)
                # A request-sized body is in memory: sent as it is; a spooled one, streamed.
                content = body.getvalue() if isinstance(body, io.BytesIO) else _blocks(body)
                response = self.client.post(
                    self.path, content=content, headers=headers, params=self.query
                )
            except httpx.TransportError as exc:
                failures = self.backoff(failures, f"could not reach the target: {exc}")
                continue
            if response.status_code == 429:
                refusals += 1
                self.pacer.count_refusal()
                if refusals > MAX_REFUSALS:
                    raise LoadStopped(
                        f"the target refused one request {refusals} times for its rate limit: "
                        "run the command again later"
                    )
                self.pacer.hold_until(_retry_at(response))
                continue
            if response.status_code >= 500:
                failures = self.backoff(failures, f"the target answered {response.status_code}")
                continue
            if response.status_code in (401, 403):
                raise LoadStopped(
                    f"the target refused the credentials ({response.status_code}): check "
                    "--workspace and ROSTER_KEY"
                )
            if response.is_success:
                self.pacer.after(response, elements)
            return Answer(response.status_code, _batch_id(response), _body(response))

    def backoff(self, failures: int, why: str) -> int:
        """Wait before the next try (bounded exponential, with jitter); ``LoadStopped`` once
        ``retries`` tries failed in a row. The count of failures so far is returned, plus one."""
        if failures >= self.retries:
            raise LoadStopped(f"{why}, {failures + 1} times in a row: run the command again")
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**failures)
        self.pacer.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311  # jitter, not a secret
        return failures + 1


def _blocks(body: IO[bytes]) -> Iterator[bytes]:
    while block := body.read(1 << 16):
        yield block


def _auth(kind: LoadKind, workspace: str, key: str) -> dict[str, str]:
    if kind.auth == "bearer":
        return {"Authorization": f"Bearer {key}"}
    user, password = (key, "") if kind.auth == "pipelines" else (workspace, key)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _retry_at(response: httpx.Response) -> float:
    after = _int(response.headers.get("retry-after"))
    if after is not None:
        return time.time() + after
    reset = _int(response.headers.get("x-ratelimit-reset"))
    return float(reset) if reset is not None else time.time() + 1.0


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _body(response: httpx.Response) -> dict[str, Any] | str:
    try:
        found = response.json()
    except ValueError:
        return response.text[:2000]
    return found if isinstance(found, dict) else response.text[:2000]


def _batch_id(response: httpx.Response) -> str | None:
    body = _body(response)
    found = body.get("batch_id") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None
