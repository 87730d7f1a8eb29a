"""What the dead-letter desk shows, worked out from what each service answered (pure)."""

from __future__ import annotations

from typing import Any

SERVICES = ("convention", "scheduling", "notification")
ACTIONS = ("retry", "discard")
KEY_PATTERN = r"^[A-Za-z0-9:._-]+$"  # an event id, or sha256:<16 hex> of a body that has none


def queues(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per service queue, in the services' order: its dead letters, or that it did not answer."""
    shown = []
    for service in SERVICES:
        answer = answers.get(service)
        if isinstance(answer, dict):
            shown.append({"service": service, "queue": answer["queue"], "items": answer["items"],
                          "total": answer["total"], "down": False})
        else:
            shown.append({"service": service, "queue": f"{service}.events", "items": [], "total": 0, "down": True})
    return shown


def total(shown: list[dict[str, Any]]) -> int:
    return sum(q["total"] for q in shown)
