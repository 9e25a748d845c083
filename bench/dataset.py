"""The deterministic data set (seed 42): MoEngage transition bodies and the same events as rows.

The stream holds about 10 % customer, 5 % device and 85 % event elements (one action each).
Customers come from a fixed pool; a device names a customer whose customer element is in the
same request, so it applies whatever order concurrent requests are accepted in. Customer
elements carry an increasing ``_timestamp``, so last-write-wins has one right answer: the value
posted last in the stream.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bench.config import MAX_BODY_BYTES, SEED, Profile
from roster.domain.campaigns import can_trigger

YEAR_MS = 365 * 24 * 3600 * 1000
HEAD = b'{"type":"transition","elements":['
TAIL = b"]}"
ROOM = 1_024  # every element encodes to less; a body is closed when less room than this is left
ACTIONS = ("app_open", "screen_view", "add_to_cart", "purchase", "search", "push_clicked")
PLANS = ("free", "basic", "plus", "pro", "team", "enterprise")
PLATFORMS = ("ANDROID", "iOS", "web")
OFFSETS = (-18_000, 0, 3_600, 19_800, 32_400)
LWW_SAMPLES = 5
ANCHOR_WORKSPACE = "bench-anchor"

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Expected:
    """What the store must hold after every body is applied."""

    elements: int = 0
    customer_elements: int = 0
    device_elements: int = 0
    event_elements: int = 0
    customers: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    last_plan: dict[str, str] = field(default_factory=dict)
    plan_writes: dict[str, int] = field(default_factory=dict)

    def lww_samples(self) -> dict[str, str]:
        """A few customers written more than once, with the plan posted last for each."""
        ids = sorted(c for c, n in self.plan_writes.items() if n >= 2)
        return {c: self.last_plan[c] for c in ids[:LWW_SAMPLES]}

    def summary(self) -> dict[str, Any]:
        return {
            "elements": self.elements,
            "customer_elements": self.customer_elements,
            "device_elements": self.device_elements,
            "event_elements": self.event_elements,
            "distinct_customers": len(self.customers),
            "distinct_devices": len(self.devices),
        }


@dataclass(slots=True)
class Dataset:
    """The request bodies, the elements in each, and the event rows for the anchors."""

    bodies: list[bytes]
    element_counts: list[int]
    event_rows: list[tuple[Any, ...]]
    expected: Expected
    base_ms: int

    def summary(self) -> dict[str, Any]:
        sizes = [len(b) for b in self.bodies]
        return {
            "seed": SEED,
            "base_ms": self.base_ms,
            "bodies": len(self.bodies),
            "body_bytes_max": max(sizes),
            "body_bytes_mean": round(sum(sizes) / len(sizes)),
            "elements_per_body_mean": round(self.expected.elements / len(self.bodies), 1),
            "event_rows": len(self.event_rows),
            **self.expected.summary(),
        }


class _Stream:
    """Draws elements one at a time from the seeded generator."""

    def __init__(self, profile: Profile, base_ms: int) -> None:
        self.rng = random.Random(SEED)
        self.total = profile.elements
        self.base_ms = base_ms
        self.pool = [
            f"cu-{n:05d}-{self.rng.getrandbits(24):06x}" for n in range(profile.customer_pool)
        ]
        self.uids: dict[str, int] = {}
        self.expected = Expected()
        self.rows: list[tuple[Any, ...]] = []

    def element(self, index: int, in_body: list[str], batch_id: str) -> dict[str, Any]:
        draw = self.rng.random()
        self.expected.elements += 1
        if draw < 0.10:
            return self._customer(index, in_body)
        if draw < 0.15 and in_body:
            return self._device(in_body)
        return self._event(batch_id)

    def _uid(self, cid: str) -> int:
        self.expected.customers.add(cid)
        return self.uids.setdefault(cid, len(self.uids) + 1)

    def _customer(self, index: int, in_body: list[str]) -> dict[str, Any]:
        cid = self.rng.choice(self.pool)
        self._uid(cid)
        in_body.append(cid)
        plan = self.rng.choice(PLANS)
        exp = self.expected
        exp.customer_elements += 1
        exp.last_plan[cid] = plan
        exp.plan_writes[cid] = exp.plan_writes.get(cid, 0) + 1
        attributes = {
            "_timestamp": self.base_ms - (self.total - index),
            "first_name": f"F{self.rng.getrandbits(20):05x}",
            "last_name": f"L{self.rng.getrandbits(20):05x}",
            "email": f"{cid}@example.com",
            "plan": plan,
            "score": self.rng.randrange(1_000),
            "newsletter": self.rng.random() < 0.5,
        }
        return {"type": "customer", "customer_id": cid, "attributes": attributes}

    def _device(self, in_body: list[str]) -> dict[str, Any]:
        cid = self.rng.choice(in_body)
        did = f"{cid}-d{self.rng.randrange(3)}"
        self.expected.device_elements += 1
        self.expected.devices.add(did)
        attributes = {
            "platform": self.rng.choice(PLATFORMS),
            "push_id": f"push-{self.rng.getrandbits(64):016x}",
            "brand": self.rng.choice(("acme", "globex", "initech")),
            "moe_push_opted": "true",
        }
        return {"type": "device", "customer_id": cid, "device_id": did, "attributes": attributes}

    def _event(self, batch_id: str) -> dict[str, Any]:
        cid = self.rng.choice(self.pool)
        uid = self._uid(cid)
        self.expected.event_elements += 1
        name = self.rng.choice(ACTIONS)
        occurred = self.base_ms - self.rng.randrange(YEAR_MS)
        offset = self.rng.choice(OFFSETS)
        platform = self.rng.choice(PLATFORMS)
        version = f"5.{self.rng.randrange(10)}.{self.rng.randrange(20)}"
        attributes = self._event_attributes(name)
        self.rows.append(
            (  # the event as Roster stores it, in ``roster.store.events.COLUMNS`` order
                ANCHOR_WORKSPACE,
                uid,
                uid,
                name,
                occurred,
                occurred + offset * 1000,
                offset,
                platform,
                version,
                None,
                _encode(attributes).decode(),
                self.base_ms,
                batch_id,
                can_trigger(occurred, self.base_ms, migrated=False),
                False,
                None,
                None,
            )
        )
        action = {
            "action": name,
            "attributes": attributes,
            "platform": platform,
            "app_version": version,
            "current_time": str(occurred),
            "user_timezone_offset": offset,
        }
        return {"type": "event", "customer_id": cid, "actions": [action]}

    def _event_attributes(self, name: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {"session": f"s-{self.rng.getrandbits(32):08x}"}
        if name in ("add_to_cart", "purchase"):
            attributes["sku"] = f"sku-{self.rng.randrange(5_000):04d}"
            attributes["price"] = round(self.rng.uniform(1, 500), 2)
            attributes["currency"] = "USD"
        elif name == "search":
            attributes["query"] = f"q{self.rng.getrandbits(24):06x}"
        else:
            attributes["screen"] = self.rng.choice(("home", "cart", "profile", "feed"))
        return attributes


def _bodies(stream: _Stream) -> Iterator[tuple[bytes, int]]:
    """Pack the stream into bodies of at most ``MAX_BODY_BYTES`` bytes."""
    index = 0
    while index < stream.total:
        parts: list[bytes] = []
        size = len(HEAD) + len(TAIL)
        in_body: list[str] = []
        batch_id = str(uuid.UUID(int=stream.rng.getrandbits(128)))
        while index < stream.total and MAX_BODY_BYTES - size >= ROOM:
            part = _encode(stream.element(index, in_body, batch_id))
            assert len(part) < ROOM, len(part)
            size += len(part) + (1 if parts else 0)
            parts.append(part)
            index += 1
        yield HEAD + b",".join(parts) + TAIL, len(parts)


def build(profile: Profile, base_ms: int | None = None) -> Dataset:
    """The whole data set for ``profile``; event times fall in the year before ``base_ms``."""
    base = base_ms if base_ms is not None else int(time.time() * 1000) // 60_000 * 60_000
    stream = _Stream(profile, base)
    packed = list(_bodies(stream))
    bodies = [b for b, _ in packed]
    assert all(len(b) <= MAX_BODY_BYTES for b in bodies)
    counts = [n for _, n in packed]
    return Dataset(bodies, counts, stream.rows, stream.expected, base)
