"""The web console in Debian's Chromium: first render, and scrolling 10,000 entries.

Starts `logsvc serve` on a fresh data directory, stores 10,000 entries of one service,
then in a headless Chromium (Playwright): the time from navigation to the first rows
(signed in already), the time to load all 10,000 (ten searches of 1,000), and the frames
while the list scrolls from top to bottom in 200 steps (one step a frame). Also the page's
weight, gzipped.

    python -m bench.console

Prints one JSON document.
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from bench.run import API_KEY
from bench.server import free_port, start_server
from logsvc.api.console import CONSOLE_DIR

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ENTRIES = 10_000


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="logsvc-console-"))
    port = free_port()
    server = start_server(port, work / "data", {"LOG_SERVICE_API_KEY": API_KEY}, work / "log")
    url = f"http://127.0.0.1:{port}"
    try:
        now = int(time.time() * 1000)
        for start in range(0, ENTRIES, 1000):
            logs = [
                {
                    "service_name": "bench",
                    "level": "INFO",
                    "message": f"entry {n}",
                    "timestamp": now - n * 100,
                    "metadata": {"n": n},
                }
                for n in range(start, start + 1000)
            ]
            requests.post(
                f"{url}/api/v1/logs/ingest/batch",
                json={"logs": logs},
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=60,
            )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/")
            page.evaluate(f"sessionStorage.setItem('logsvc.key', {json.dumps(API_KEY)})")
            started = time.perf_counter()
            page.goto(f"{url}/?service=bench&range=24h")
            page.locator("#logs li").first.wait_for()
            first_render_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            for loaded in range(2000, ENTRIES + 1, 1000):
                page.get_by_role("button", name="Load older").click()
                page.get_by_text(f"{loaded} entries", exact=False).first.wait_for()
            load_all_s = time.perf_counter() - started
            frames = page.evaluate(
                """async () => {
                  const scroller = document.getElementById('scroller');
                  const steps = 200, times = [];
                  let last = performance.now();
                  for (let i = 1; i <= steps; i++) {
                    scroller.scrollTop = (scroller.scrollHeight * i) / steps;
                    await new Promise((resolve) => requestAnimationFrame(resolve));
                    const now = performance.now();
                    times.push(now - last);
                    last = now;
                  }
                  return {times, rows: document.querySelectorAll('#logs li').length};
                }"""
            )
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    times = sorted(frames["times"])
    weight = sum(len(gzip.compress(p.read_bytes())) for p in CONSOLE_DIR.iterdir() if p.is_file())
    print(
        json.dumps(
            {
                "first_render_ms": round(first_render_ms),
                "load_10000_entries_s": round(load_all_s, 2),
                "scroll_frame_ms_median": round(statistics.median(times), 1),
                "scroll_frame_ms_p95": round(times[int(len(times) * 0.95)], 1),
                "scroll_frame_ms_max": round(times[-1], 1),
                "rows_in_the_page": frames["rows"],
                "page_weight_gzipped_bytes": weight,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
