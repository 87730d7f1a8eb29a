"""JSON-schema snapshots of every event's envelope, one file per type.

The files in ``schemas/`` are the published form of the contract; a test
compares them with the models so that a change to the wire format is always
a deliberate one. Regenerate after an intended change with::

    python -m jumelage.events.snapshot
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jumelage.events import EventData, envelope_model, registry

SCHEMAS_DIR = Path(__file__).parent / "schemas"


def schema_of(cls: type[EventData]) -> dict[str, Any]:
    """The JSON schema of a whole message (envelope + data) of this type, titled
    ``<EventType>Event`` (``envelope_model``); what ``dataschema`` points at."""
    return envelope_model(cls).model_json_schema()


def data_schema(envelope_schema: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The JSON schema of ``data`` alone (what an event's ``dataschema`` names), from
    the whole message's: its ``$defs`` entry for the type, with the definitions it refers to."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": event_type,
            "$ref": f"#/$defs/{event_type}", "$defs": envelope_schema.get("$defs", {})}


def render(schema: dict[str, Any]) -> str:
    # Sorted keys and a trailing newline keep the files diff-friendly.
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshots(directory: Path | str = SCHEMAS_DIR) -> list[Path]:
    """Write one ``<EventType>.json`` per registered type; delete snapshots of types that are gone."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in registry:
        path = directory / f"{cls.event_type}.json"
        path.write_text(render(schema_of(cls)), encoding="utf-8")
        written.append(path)
    for stale in set(directory.glob("*.json")) - set(written):
        stale.unlink()
    return written


if __name__ == "__main__":
    for path in write_snapshots():
        print(path)
