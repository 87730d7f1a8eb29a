"""A real browser for the web app's tests: Debian's headless Chromium
(``/usr/bin/chromium``, installed by ``scripts/ensure-browser.sh``) driven by
Playwright's async API (its sync API keeps an event loop running on the main
thread while it lives, which breaks every asyncio test after it, so the browser's
fixtures run on pytest-asyncio's session loop). Playwright's own browser download (``playwright install``)
is never used: it needs the internet, which a hospital network (and CI) lacks.

Missing, it is a failure naming the fix, never a skip."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jumelage.testkit.waiting import scaled

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Headless, without a sandbox (root in a container), and without anything that
# reaches out to the internet on its own (updates, sync, QUIC probes).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000  # what a locator waits for (scaled on a slow machine)


class BrowserMissing(RuntimeError):
    pass


@asynccontextmanager
async def chromium(executable: Path = CHROMIUM) -> AsyncIterator[Browser]:
    """The browser, launched once; closed (with Playwright's driver) after."""
    if not executable.exists():
        raise BrowserMissing(f"{executable} is missing: run scripts/ensure-browser.sh "
                             "(apt-get install chromium chromium-driver); scripts/test.sh does it")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(executable), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def axe_violations(page: Page, axe_script: Path, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of ``impacts`` on the page as it is now (``axe_script``:
    ``axe.min.js``, injected into the page), each as id, impact, help and the nodes' targets."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(axe_script))
    found = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [" ".join(n["target"]) if isinstance(n["target"], list) else n["target"]
                       for n in v["nodes"]][:5]}
            for v in found if v.get("impact") in impacts]


async def canvas_is_drawn(page: Page, selector: str) -> bool:
    """Whether the canvas has any pixel that is not fully transparent."""
    return bool(await page.eval_on_selector(selector, """canvas => {
        const ctx = canvas.getContext('2d');
        if (!ctx || !canvas.width || !canvas.height) return false;
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
        return false;
    }"""))


def timeout_ms() -> float:
    return scaled(TIMEOUT_MS / 1000) * 1000
