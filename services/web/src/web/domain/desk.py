"""The notification desk: deliveries by status, failures with their reason, and the
templates grouped for the preview. Pure functions of the notification service's answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

PROBLEMS = ("failed", "unknown")  # the two a person must look at: not sent, or not known to be


def status_counts(notifications: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(n.get("status")) for n in notifications).items()))


def failures(notifications: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failed or unknown deliveries, newest first, each with the reason the service recorded."""
    found = [n for n in notifications if n.get("status") in PROBLEMS]
    return sorted(found, key=lambda n: str(n.get("created_at", "")), reverse=True)


def templates_by_type(listed: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per event type: its (language, channel, source) variants."""
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for t in listed:
        rows.setdefault(str(t["event_type"]), []).append(t)
    return [{"event_type": name, "variants": sorted(v, key=lambda t: (t["language"], t["channel"]))}
            for name, v in sorted(rows.items())]


def page_of(listed: Mapping[str, Any]) -> dict[str, Any]:
    """Where a page of the service's list stands (its ``total``, ``limit``, ``offset``): the
    rows shown (first, last, 1-based), and the offsets of the pages before and after (None:
    there is none)."""
    total, limit, offset = int(listed.get("total") or 0), int(listed.get("limit") or 1), int(listed.get("offset") or 0)
    shown = len(listed.get("items") or ())
    return {"first": offset + 1 if shown else 0, "last": offset + shown, "total": total,
            "previous": max(0, offset - limit) if offset > 0 else None,
            "next": offset + limit if offset + limit < total else None}
