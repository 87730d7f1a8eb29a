"""The published JSON schemas (jumelage/events/schemas/*.json) match the models.

A failure means the wire format changed. If that is intended, check it is
allowed by docs/events.md (only new types and optional fields within schemaversion 1)
and regenerate the snapshots.
"""

from __future__ import annotations

import json

import pytest
from pydantic import create_model

from jumelage.events import EventData, registry
from jumelage.events.scheduling import SurgeryCompleted
from jumelage.events.snapshot import SCHEMAS_DIR, render, schema_of, write_snapshots

REGENERATE = "python -m jumelage.events.snapshot"


def snapshot_mismatch(cls: type[EventData]) -> str | None:
    """Why ``cls`` does not match its snapshot, or None if it does."""
    path = SCHEMAS_DIR / f"{cls.event_type}.json"
    if not path.exists():
        return f"{cls.event_type} has no schema snapshot {path.name}; if it is a new type, run `{REGENERATE}`"
    if json.loads(path.read_text(encoding="utf-8")) != schema_of(cls):
        return (
            f"the JSON schema of {cls.event_type} differs from {path}. If this change is intended "
            f"and allowed by docs/events.md, run `{REGENERATE}` and commit the snapshot"
        )
    return None


@pytest.mark.parametrize("cls", list(registry), ids=lambda c: c.event_type)
def test_schema_matches_snapshot(cls):
    problem = snapshot_mismatch(cls)
    assert problem is None, problem


def test_snapshots_and_types_are_the_same_set():
    snapshots = {p.stem for p in SCHEMAS_DIR.glob("*.json")}
    types = {cls.event_type for cls in registry}
    gone = sorted(snapshots - types)
    assert not gone, f"snapshots of types that no longer exist: {gone}; run `{REGENERATE}`"
    assert not types - snapshots, f"types without a snapshot: {sorted(types - snapshots)}; run `{REGENERATE}`"


def test_snapshot_check_catches_a_changed_model():
    # The same event with one more required field; abstract=True keeps this
    # throwaway copy out of the registry.
    changed = create_model(
        "SurgeryCompleted", __base__=SurgeryCompleted, __cls_kwargs__={"abstract": True}, ward=(str, ...)
    )
    assert changed.event_type == "SurgeryCompleted"
    problem = snapshot_mismatch(changed)
    assert problem is not None and REGENERATE in problem
    assert snapshot_mismatch(SurgeryCompleted) is None


def test_generator_writes_the_committed_files_byte_for_byte(tmp_path):
    (tmp_path / "MissionPostponed.json").write_text("{}\n")  # a type that no longer exists
    written = write_snapshots(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert text == (SCHEMAS_DIR / path.name).read_text(encoding="utf-8"), f"run `{REGENERATE}`"
        assert text == render(json.loads(text)) and text.endswith("}\n")
