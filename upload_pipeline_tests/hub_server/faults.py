"""Fault injection: make matching requests fail, hang up mid-body, lose their answer, or slow down.

Rules match on the HTTP method and on a regex searched in the *raw* request path (no query string, still
percent-encoded, e.g. `refs%2Fpr%2F1`), and/or on the route kind (see `routing.ROUTES`). The client's retry loop
(hub-protocol.md §7) retries 408/429/5xx and dropped connections on some calls only, so tests pick the call they
target with these rules.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class FaultRule:
    """One rule. `remaining=None` means it never runs out."""

    action: str  # "status", "cut", "lose" or "delay"
    method: str | None
    path: re.Pattern[str] | None
    kind: str | None
    remaining: int | None
    status: int = 500
    retry_after: int | None = None
    ratelimit_reset: int | None = None
    after_bytes: int = 0
    seconds: float = 0.0
    hits: int = 0

    def matches(self, method: str, raw_path: str, kind: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and (self.method is None or self.method == method)
            and (self.kind is None or self.kind == kind)
            and (self.path is None or self.path.search(raw_path) is not None)
        )


@dataclass(frozen=True)
class FaultPlan:
    """What the handler must do for one request: sleep first, then fail with a status, cut the connection, or
    handle the request and hang up instead of answering (`lose`)."""

    delay: float = 0.0
    status: FaultRule | None = None
    cut: FaultRule | None = None
    lose: FaultRule | None = None


class FaultInjector:
    """Thread-safe fault rules, consumed by the request handler before routing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def fail_next(
        self,
        count: int,
        method: str | None = None,
        path: str | None = None,
        *,
        kind: str | None = None,
        status: int = 500,
        retry_after: int | None = None,
        ratelimit_reset: int | None = None,
    ) -> FaultRule:
        """Answer the next `count` matching requests with `status` (and `Retry-After: retry_after` if given).

        A 429 also carries the Hub's rate-limit pair (hub-protocol.md §2.3, §7): `RateLimit: "api";r=0;t=N`, N being
        `ratelimit_reset`, else `retry_after`, else 0, and `RateLimit-Policy`. The Hub may send that pair alone
        (§2.6: "Retry-After and/or ratelimit"): leave `retry_after` None to test a client against that.
        The request body is read and discarded first, so the keep-alive connection stays usable.
        """
        return self._add(
            FaultRule(
                "status",
                method,
                _compile(path),
                kind,
                count,
                status=status,
                retry_after=retry_after,
                ratelimit_reset=ratelimit_reset,
            )
        )

    def cut_connection(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        kind: str | None = None,
        after_bytes: int = 0,
        count: int = 1,
    ) -> FaultRule:
        """Read `after_bytes` of the body of the next `count` matching requests, then close without answering."""
        return self._add(FaultRule("cut", method, _compile(path), kind, count, after_bytes=after_bytes))

    def lose_response(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        kind: str | None = None,
        count: int = 1,
    ) -> FaultRule:
        """Handle the next `count` matching requests in full, then close without answering: the change is made
        (a commit lands) but the client cannot tell, as when a connection drops on the way back."""
        return self._add(FaultRule("lose", method, _compile(path), kind, count))

    def delay(
        self,
        seconds: float,
        method: str | None = None,
        path: str | None = None,
        *,
        kind: str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        """Sleep `seconds` before handling matching requests (`count=None`: every matching request)."""
        return self._add(FaultRule("delay", method, _compile(path), kind, count, seconds=seconds))

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def plan_for(self, method: str, raw_path: str, kind: str) -> FaultPlan:
        """Consume the matching rules for one request. Delays add up; the first status or cut rule wins."""
        delay, failing = 0.0, None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, raw_path, kind):
                    continue
                if rule.action == "delay":
                    delay += rule.seconds
                elif failing is None:
                    failing = rule
                else:
                    continue
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
            self._rules = [rule for rule in self._rules if rule.remaining is None or rule.remaining > 0]
        if failing is None:
            return FaultPlan(delay=delay)
        if failing.action == "status":
            return FaultPlan(delay=delay, status=failing)
        if failing.action == "lose":
            return FaultPlan(delay=delay, lose=failing)
        return FaultPlan(delay=delay, cut=failing)

    def _add(self, rule: FaultRule) -> FaultRule:
        if rule.method is not None:
            rule.method = rule.method.upper()
        with self._lock:
            self._rules.append(rule)
        return rule


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern is not None else None
