"""If-Match and ETag, shared by the services: parsing the header as RFC 9110 has it,
the check, and the answers on a tiny FastAPI app (412 with when and the current
ETag, 422 naming a malformed header, 409 for a lost race)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Response
from pydantic import BaseModel
from sqlalchemy.orm.exc import StaleDataError

from jumelage.errors import PreconditionFailed
from jumelage.http import install_error_handlers
from jumelage.preconditions import IfMatchDep, change_responses, tagged
from jumelage.versions import IfMatch, check_if_match, etag

CHANGED = datetime(2024, 5, 20, 9, 7, tzinfo=UTC)


@dataclass
class Record:
    version: int
    updated_at: datetime | None = CHANGED


@pytest.mark.parametrize(("header", "matches"), [
    ('"3"', {3}), ("*", {1, 3, 99}), ('"1", "3"', {1, 3}), ('"1","3"', {1, 3}), (' "3" ', {3}),
    ('W/"3"', set()), ('W/"3", "4"', {4}), ('"1", , "3"', {1, 3}), ('"x3"', set()),
])
def test_if_match_is_star_or_a_list_of_strong_tags(header: str, matches: set[int]) -> None:
    parsed = IfMatch.parse(header)
    assert {v for v in range(100) if parsed.matches(v)} == (set(range(100)) if header == "*" else matches)


@pytest.mark.parametrize("header", ["3", '"3', "'3'", '*, "3"', "", "W/3", '"3" "4"', 'w/"3"'])
def test_a_malformed_if_match_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="If-Match must be"):
        IfMatch.parse(header)


def test_the_check_names_the_record_when_it_changed_and_its_etag() -> None:
    check_if_match(None, "convention X", Record(3))  # no If-Match: anything goes
    check_if_match(IfMatch.parse('"3"'), "convention X", Record(3))
    with pytest.raises(PreconditionFailed) as refused:
        check_if_match(IfMatch.parse('"2"'), "convention CNAS-GSD-2024-01", Record(3))
    e = refused.value
    assert (e.record, e.etag, e.updated_at) == ("convention CNAS-GSD-2024-01", '"3"', CHANGED)
    assert "2024-05-20T09:07:00Z" in e.message and '"3"' in e.message and '"2"' in e.message


class Out(BaseModel):
    version: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/records/{version}", responses=change_responses())
    async def change(version: int, expected: IfMatchDep, response: Response) -> Out:
        check_if_match(expected, "record 7", Record(version))
        return tagged(response, Out(version=version + 1))

    @app.post("/race")
    async def race() -> None:
        raise StaleDataError("UPDATE statement on table 'convention' expected to update 1 row(s); 0 were matched.")

    return app


async def test_the_answers_over_http() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t") as client:
        r = await client.post("/records/3", headers={"If-Match": '"3"'})
        assert r.status_code == 200 and r.headers["etag"] == etag(4) == '"4"'
        r = await client.post("/records/3")
        assert r.status_code == 200
        r = await client.post("/records/3", headers={"If-Match": '"2"'})
        assert r.status_code == 412 and r.headers["etag"] == '"3"'
        assert r.json() | {"detail": ""} == {"detail": "", "record": "record 7", "etag": '"3"',
                                              "updated_at": "2024-05-20T09:07:00Z"}
        # Several field lines are one list (RFC 9110 §5.3).
        r = await client.post("/records/3", headers=[("If-Match", '"1"'), ("If-Match", '"3"')])
        assert r.status_code == 200, r.text
        r = await client.post("/records/3", headers={"If-Match": "3"})
        assert r.status_code == 422
        (error,) = r.json()["detail"]
        assert error["loc"] == ["header", "If-Match"] and "double quotes" in error["msg"]
        r = await client.post("/race")
        assert r.status_code == 409 and "changed by another request at the same moment" in r.json()["detail"]
        spec = (await client.get("/openapi.json")).json()["paths"]["/records/{version}"]["post"]
        assert "412" in spec["responses"] and "ETag" in spec["responses"]["200"]["headers"]
        assert any(p["name"] == "If-Match" for p in spec["parameters"])
