"""Web app benchmark: server time of a convention's page and of a 200-case mission's page.

Not a test: a script that prints figures, each beside a raw baseline measured in
the same run. The four processes run as deployed (``python -m <service> serve``,
SQLite in a temporary folder, the local broker): the convention, scheduling and
notification services and the web app. It registers a programme through the
APIs (a signed convention, a host with four operating rooms, a mission with
``--cases`` cases on the waiting list, each scheduled as a surgery), signs in on
the local sign-in page, and then, in rounds that take turns:

  page   GET the page from the web app; its ``Server-Timing: app;dur=`` (the web
         app's own time, its calls to the services included) and the client's time;
  raw    the same reads straight from the services' APIs, concurrently, as the
         page's handler makes them: what the page costs beyond its data.

Budget (issue 18): p50 under 200 ms for both pages.

  .venv/bin/python scripts/bench_web.py              # 200 cases, 200 samples per page
  .venv/bin/python scripts/bench_web.py --cases 50 --samples 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from jumelage.arguments import ArgumentParser
from jumelage.testkit.client import ServicesClient
from jumelage.testkit.ports import free_port
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import delete_namespace

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-web-local-secret-0123456789abcdef"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_all(folder: Path, namespace: str, amqp_url: str) -> tuple[dict[str, ServiceProcess], dict[str, str]]:
    ports = {s: free_port() for s in ("convention", "scheduling", "notification", "web")}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    people = folder / "people.json"
    base = {**os.environ, "AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace, "AUTH_SECRET": SECRET,
            "DATA_DIR": str(folder), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "MIGRATE_ON_START": "true"}
    base.pop("DATABASE_URL", None)
    (folder / "logs").mkdir(exist_ok=True)
    procs = {}
    for service, port in ports.items():
        env = {**base, "HTTP_PORT": str(port)}
        if service == "web":
            env.update({"LOCAL_PEOPLE_FILE": str(people), **{f"{s.upper()}_URL": u for s, u in urls.items()
                                                               if s != "web"}})
        procs[service] = ServiceProcess(service, env, folder / "logs", cwd=ROOT)
        procs[service].start()
    for service, proc in procs.items():
        if not proc.wait_ready():
            raise SystemExit(f"{service} did not start; see {folder / 'logs'}")
    return procs, urls


async def programme(urls: dict[str, str], cases: int, people_file: Path) -> dict[str, Any]:
    api = ServicesClient({s: u for s, u in urls.items() if s != "web"}, SECRET)
    admin = api.as_("admin", "administrator")
    ids = {}
    for key, name, kind, country in (("host", "CMCI Bousmail", "clinic", "DZ"),
                                     ("visitor", "Gruppo San Donato", "hospital_group", "IT"),
                                     ("fund", "CNAS", "insurer", "DZ")):
        ids[key] = (await admin.call("convention", "POST", "/institutions",
                                     {"name": name, "kind": kind, "country": country, "city": "x"}))["id"]
    coordinator = api.as_("coord", "coordinator", institution=ids["host"])
    clinician = api.as_("clin", "clinician", institution=ids["host"])
    people_file.write_text(json.dumps([{"subject": "coord", "name": "Coordinator", "roles": ["coordinator"],
                                        "institution_id": ids["host"], "institution": "CMCI Bousmail"}]))
    start = date.today() + timedelta(days=2)
    days = max(1, -(-cases // 16))  # four rooms, four surgeries a room a day
    convention = await coordinator.call("convention", "POST", "/conventions", {
        "reference": f"BENCH-{uuid.uuid4().hex[:6]}", "title": "Benchmark programme", "kind": "international_cooperation",
        "parties": [{"institution_id": ids["visitor"], "role": "provider"},
                    {"institution_id": ids["host"], "role": "beneficiary"}, {"institution_id": ids["fund"], "role": "funder"}],
        "effective_from": date.today().isoformat(), "effective_until": (start + timedelta(days=days + 30)).isoformat(),
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": cases, "consultations": 10, "training_sessions": 2}})
    await coordinator.call("convention", "POST", f"/conventions/{convention['id']}/sign",
                           {"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    await coordinator.until("scheduling", f"/conventions/{convention['id']}", lambda c: c["status"] == "signed")
    await coordinator.until("scheduling", f"/institutions/{ids['host']}")
    await coordinator.call("scheduling", "PUT", f"/institutions/{ids['host']}/resources",
                           {"timezone": "Africa/Algiers", "icu_beds": 40})
    rooms = [(await coordinator.call("scheduling", "POST", f"/institutions/{ids['host']}/operating-rooms",
                                     {"name": f"Bloc {i + 1}", "opens_at": "08:00", "closes_at": "18:00"}))["id"]
             for i in range(4)]
    surgeons = [str(uuid.uuid4()) for _ in rooms]  # one a room: a surgeon operates in one room at a time
    mission = await coordinator.call("scheduling", "POST", "/missions", {
        "convention_id": convention["id"], "host_institution_id": ids["host"], "visiting_institution_id": ids["visitor"],
        "specialty": "paediatric cardiac surgery", "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=days - 1)).isoformat(),
        "team": [{"practitioner_id": s, "full_name": f"Surgeon {i + 1}", "role": "surgeon"} for i, s in enumerate(surgeons)]})
    for i in range(cases):
        case = await clinician.call("scheduling", "POST", f"/institutions/{ids['host']}/cases", {
            "patient": {"full_name": f"Enfant {i}", "date_of_birth": "2020-01-15", "sex": "female", "weight_kg": 12},
            "diagnosis": "Ventricular septal defect", "planned_procedure": "VSD closure", "priority": 1 + i % 3,
            "expected_duration_minutes": 90, "risk_scheme": "RACHS-1", "risk_category": 1 + i % 4,
            "referred_abroad": i % 2 == 0})
        day, slot = divmod(i, 16)
        room, turn = divmod(slot, 4)
        hour = 8 + turn * 2
        await coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/surgeries", {
            "case_id": case["id"], "operating_room_id": rooms[room],
            "scheduled_start": f"{(start + timedelta(days=day)).isoformat()}T{hour:02d}:00:00+01:00",
            "lead_surgeon_id": surgeons[room]})
    await api.aclose()
    return {"convention": convention["id"], "mission": mission["id"], "host": ids["host"]}


async def sign_in(web_url: str) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(base_url=web_url, timeout=30, headers={"Accept-Language": "fr"})
    page = (await browser.get("/signin")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = await browser.post("/signin/local", data={"csrf": csrf, "subject": "coord", "next": "/conventions"})
    assert r.status_code == 303, r.text[:500]
    return browser


RAW = {  # the reads each page's handler makes, concurrently
    "convention": lambda ids: [("convention", f"/conventions/{ids['convention']}"), ("convention", "/institutions"),
                               ("convention", f"/conventions/{ids['convention']}/history"),
                               ("convention", f"/conventions/{ids['convention']}/amendments"),
                               ("convention", f"/conventions/{ids['convention']}/progress"),
                               ("scheduling", f"/missions?convention_id={ids['convention']}")],
    "mission": lambda ids: [("scheduling", f"/missions/{ids['mission']}"),
                            ("scheduling", f"/missions/{ids['mission']}/surgeries"),
                            ("scheduling", f"/institutions/{ids['host']}/operating-rooms"),
                            ("scheduling", f"/institutions/{ids['host']}/resources"),
                            ("convention", "/institutions")],
}


async def measure(urls: dict[str, str], ids: dict[str, str], samples: int) -> None:
    browser = await sign_in(urls["web"])
    api = ServicesClient({s: u for s, u in urls.items() if s != "web"}, SECRET).as_(
        "coord", "coordinator", institution=ids["host"])
    pages = {"convention": f"/conventions/{ids['convention']}", "mission": f"/missions/{ids['mission']}"}
    print(f"{'page':<12}{'server p50':>12}{'server p99':>12}{'client p50':>12}{'raw p50':>10}{'raw p99':>10}"
          f"{'x raw':>7}  budget p50 < 200 ms")
    for name, path in pages.items():
        first = await browser.get(path)
        if first.status_code != 200:
            print(f"{name:<12} GET {path}: {first.status_code} (page not available)")
            continue
        server, client, raw = [], [], []
        for _ in range(samples):
            t = time.perf_counter()
            r = await browser.get(path)
            client.append((time.perf_counter() - t) * 1000)
            server.append(float(r.headers["server-timing"].split("dur=")[1]))
            t = time.perf_counter()
            await asyncio.gather(*(api.call(s, "GET", p) for s, p in RAW[name](ids)))
            raw.append((time.perf_counter() - t) * 1000)
        p50 = percentile(server, 50)
        print(f"{name:<12}{p50:>10.1f}ms{percentile(server, 99):>10.1f}ms{percentile(client, 50):>10.1f}ms"
              f"{percentile(raw, 50):>8.1f}ms{percentile(raw, 99):>8.1f}ms{p50 / percentile(raw, 50):>7.2f}"
              f"  {'ok' if p50 < 200 else 'OVER'}")
    await browser.aclose()


async def main() -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    namespace = f"bweb{uuid.uuid4().hex[:6]}."
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs, urls = start_all(folder, namespace, amqp_url)
        try:
            t = time.perf_counter()
            ids = await programme(urls, args.cases, folder / "people.json")
            print(f"programme: {args.cases} cases scheduled in {time.perf_counter() - t:.1f} s; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            await measure(urls, ids, args.samples)
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                proc.wait_stopped(timeout=20)
            await delete_namespace(amqp_url, namespace)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
