"""The web app's GET /metrics: its requests by route template, no sign-in needed."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from web.app import Settings, create_app


async def test_metrics_count_the_apps_requests_by_route_template_without_a_session() -> None:
    app = create_app(Settings(_env_file=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
        await client.get("/no-such-page/1")
        await client.get("/no-such-page/2")
        await client.get("/metrics")
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.text) for s in family.samples}
    assert samples[("jumelage_http_requests_total",
                    (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 2, "one label, not a path each"
    assert samples[("jumelage_http_requests_total",
                    (("method", "GET"), ("route", "/metrics"), ("status", "200")))] == 1
