"""docs/events.md, the event contract, says what the models hold: every registered event
type and every nested object has its section, each field its row with its wire type and
whether it is required, and the doc names no type or field the models lack.

The doc is the project's own contract (no longer ../shared/contract/EVENTS.md): change a
model and its section together, and only in the ways the doc's "Changing the contract" allows.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import types
import typing
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, create_model

from jumelage.events import EventData, registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"

Row = tuple[str, str, str]  # field, wire type, "required" | "optional"


def wire_type(annotation: Any) -> str:
    """The type of a field as the doc writes it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return wire_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(wire_type(a) for a in kept)
    if origin is list:
        return f"list of {wire_type(typing.get_args(annotation)[0])}"
    if origin is dict or annotation is dict:
        return "object"
    if annotation is AwareDatetime:
        return "instant"
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(str(m.value) for m in annotation)
        if issubclass(annotation, BaseModel):
            return annotation.__name__
        simple = {uuid.UUID: "uuid", str: "string", bool: "boolean", int: "integer", float: "number",
                  dt.datetime: "instant", dt.date: "date"}
        for python, name in simple.items():  # bool before int, datetime before date
            if issubclass(annotation, python):
                return name
    raise AssertionError(f"no wire name for {annotation!r}: add one to wire_type")


def model_rows(model: type[BaseModel]) -> list[Row]:
    return [(name, wire_type(f.annotation), "required" if f.is_required() else "optional")
            for name, f in model.model_fields.items()]


def nested_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()

    def walk(annotation: Any) -> None:
        for arg in typing.get_args(annotation):
            walk(arg)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in found:
            found.add(annotation)
            for f in annotation.model_fields.values():
                walk(f.annotation)

    for f in model.model_fields.values():
        walk(f.annotation)
    return found


def expected(models: list[type[EventData]]) -> dict[str, list[Row]]:
    """Each section the doc must have (event types, then the objects they nest), with its rows."""
    sections = {m.event_type: model_rows(m) for m in models}
    for nested in sorted({n for m in models for n in nested_models(m)}, key=lambda n: n.__name__):
        sections[nested.__name__] = model_rows(nested)
    return sections


SECTION = re.compile(r"^### `(\w+)`", re.M)
ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (required|optional) \|", re.M)


def documented(text: str) -> dict[str, list[Row]]:
    parts = SECTION.split(text)
    return {name: [(f, t.strip(), r) for f, t, r in ROW.findall(body)] for name, body in zip(parts[1::2], parts[2::2])}


def differences(doc: dict[str, list[Row]], models: dict[str, list[Row]]) -> list[str]:
    problems = [f"{name}: no section in docs/events.md" for name in models if name not in doc]
    problems += [f"{name}: documented, but no such event type or object" for name in doc if name not in models]
    for name in models.keys() & doc.keys():
        want, have = dict((f, (t, r)) for f, t, r in models[name]), dict((f, (t, r)) for f, t, r in doc[name])
        problems += [f"{name}.{f}: missing from the doc ({t}, {r})" for f, (t, r) in want.items() if f not in have]
        problems += [f"{name}.{f}: in the doc, not in the model" for f in have if f not in want]
        problems += [f"{name}.{f}: the doc says {have[f]}, the model {want[f]}"
                     for f in want.keys() & have.keys() if want[f] != have[f]]
    return problems


def test_the_doc_says_what_the_models_hold() -> None:
    problems = differences(documented(DOC.read_text(encoding="utf-8")), expected(list(registry)))
    assert not problems, "docs/events.md and jumelage.events differ:\n" + "\n".join(problems)


def test_every_registered_type_has_its_source_and_routing_key_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    for model in registry:
        section = text.split(f"### `{model.event_type}`", 1)[1].split("\n###", 1)[0]
        assert f"`{model.source}`" in section and f"`{model.routing_key}`" in section, model.event_type


# -- the check can fail ---------------------------------------------------------------------------


def test_a_field_added_to_a_model_and_not_to_the_doc_is_seen() -> None:
    from jumelage.events import SurgeryCompleted

    # The same fields plus one, on a model of its own (a subclass would register the type twice).
    fields: dict[str, Any] = {name: (f.annotation, f) for name, f in SurgeryCompleted.model_fields.items()}
    grown = create_model("SurgeryCompletedGrown", **fields, ward=(str | None, None))
    models = expected(list(registry))  # every section, the objects SurgeryCompleted nests included
    models["SurgeryCompleted"] = model_rows(grown)
    problems = differences(documented(DOC.read_text(encoding="utf-8")), models)
    assert problems == ["SurgeryCompleted.ward: missing from the doc (string, optional)"]


def test_a_field_removed_from_the_doc_is_seen() -> None:
    text = DOC.read_text(encoding="utf-8")
    row = re.search(r"^\| `attempts` \|.*\n", text, re.M)
    assert row is not None
    problems = differences(documented(text.replace(row.group(0), "")), expected(list(registry)))
    assert problems == ["NotificationFailed.attempts: missing from the doc (integer, required)"]


@pytest.mark.parametrize("change, problem", [
    (("| `error` | string | required |", "| `error` | string | optional |"),
     "NotificationFailed.error: the doc says ('string', 'optional'), the model ('string', 'required')"),
    (("### `MissionStarted`", "### `MissionBegun`"), "MissionStarted: no section in docs/events.md"),
])
def test_a_wrong_type_or_name_in_the_doc_is_seen(change: tuple[str, str], problem: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert change[0] in text
    assert problem in differences(documented(text.replace(*change)), expected(list(registry)))
