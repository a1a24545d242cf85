"""The web console in a real headless Chromium (Debian's package, driven by Playwright):
signing in, searching with highlights, level chips, filtering on a field from an expanded
row, a shared link, and live tail. Controls are found by role and accessible name."""

import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's notes say: without these, Chromium reaches for Google's hosts at start.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def stored(server):
    service = f"console-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": service,
            "level": "ERROR",
            "message": "Payment timeout after 30s",
            "timestamp": now - 3000,
            "metadata": {"error_code": "DB_TIMEOUT", "region": "eu"},
        },
        {
            "service_name": service,
            "level": "INFO",
            "message": "order placed",
            "timestamp": now - 2000,
            "metadata": {"region": "us"},
        },
        {
            "service_name": service,
            "level": "WARN",
            "message": "slow timeout warning",
            "timestamp": now - 1000,
            "metadata": {"region": "eu"},
        },
    ]
    server.ingest(logs)
    return service


def signed_in(browser, server, path: str = "/", **options) -> Page:
    page = browser.new_page(**options)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Script errors and CSP refusals; an answer of 4xx is the API speaking, not an error.
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and errors.append(message.text)
        ),
    )
    page.goto(f"{server.url}{path}")
    page.get_by_label("API key").fill(server.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_hidden()  # the sign-in form goes
    page.errors = errors  # checked by the tests: no script error, no CSP refusal
    return page


def rows(page: Page):
    return page.get_by_role("list", name="Logs").get_by_role("listitem")


def test_a_wrong_key_is_refused_and_the_page_loads_nothing_from_elsewhere(browser, server):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    answer = page.goto(f"{server.url}/")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page.get_by_label("API key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid API key")
    assert all(url.startswith(server.url) for url in requested), requested


def test_search_highlights_and_levels_filter(browser, server, stored):
    page = signed_in(browser, server)
    page.get_by_role("combobox", name="Service", exact=True).fill(stored)
    page.get_by_role("searchbox", name="Search").fill("timeout")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(rows(page)).to_have_count(2)
    expect(rows(page).first.locator("mark")).to_have_text(re.compile("timeout", re.I))
    page.get_by_role("button", name="ERROR", exact=True).click()
    expect(page.get_by_role("button", name="ERROR", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Payment timeout after 30s")
    assert "levels=ERROR" in page.url and "q=timeout" in page.url
    assert page.errors == []


def test_a_field_from_an_expanded_row_filters_and_the_link_shares_the_view(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    expect(rows(page)).to_have_count(3)
    rows(page).first.get_by_role("button", name="Show every field").click()
    page.get_by_role("button", name="Filter for: metadata.region=eu").click()
    expect(rows(page)).to_have_count(2)
    shared = page.url
    assert "filter=metadata.region%3Deu" in shared
    other = signed_in(browser, server, shared.removeprefix(server.url))
    expect(rows(other)).to_have_count(2)
    expect(other.get_by_role("button", name="Remove filter metadata.region=eu")).to_be_visible()
    assert page.errors == [] and other.errors == []


def test_live_tail_shows_a_new_entry(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    page.get_by_role("button", name="Live tail").click()
    expect(page.get_by_role("button", name="Live tail")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_text("Live: new entries appear at the top")).to_be_visible()
    time.sleep(2.1)  # the writer sees new subscribers within 2 s
    requests.post(
        f"{server.url}/api/v1/logs/ingest",
        json={"service_name": stored, "level": "CRITICAL", "message": "arrived live"},
        headers=server.headers,
        timeout=30,
    )
    expect(rows(page).first).to_contain_text("arrived live", timeout=5000)
    expect(rows(page).first).to_contain_text("CRITICAL")
    assert page.errors == []


def test_dragging_across_the_histogram_zooms_the_range(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}&range=15m")
    chart = page.get_by_role("img", name="Volume by level")
    expect(chart.locator("rect").first).to_be_attached()
    expect(page.get_by_text(re.compile(r"^3 entries from"))).to_be_visible()
    box = chart.bounding_box()
    # The last tenth of fifteen minutes holds the entries; the first half holds none.
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.up()
    expect(rows(page)).to_have_count(0)
    assert "from=" in page.url and "to=" in page.url and "range=" not in page.url
    # The controls say so: the range picker, and the times picked in From and To.
    expect(page.get_by_label("Time range")).to_have_value("custom")
    expect(page.get_by_label("From")).not_to_have_value("")
    expect(page.get_by_label("To")).not_to_have_value("")
    page.get_by_label("Time range").select_option("1h")  # back to a preset: times cleared
    expect(page.get_by_label("From")).to_have_value("")
    assert page.errors == []


def test_the_fields_panel_and_the_filter_box_filter(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    expect(rows(page)).to_have_count(3)
    # Each key with how many entries have it (3 of 3), not how many values it has.
    region = page.locator("#fields summary", has_text="metadata.region")
    expect(region).to_contain_text("3 of 3 · 2 values")
    region.click()
    page.get_by_role("button", name="us (1): metadata.region=us").click()
    expect(rows(page)).to_have_count(1)
    page.get_by_role("button", name="Remove filter metadata.region=us").click()
    page.get_by_label("Field filter").fill("metadata.error_code=DB_TIMEOUT")
    page.get_by_role("button", name="Add filter").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Payment timeout after 30s")
    page.get_by_label("Field filter").fill("error_code=x")
    page.get_by_role("button", name="Add filter").click()
    expect(page.get_by_text(re.compile("is not a filter"))).to_be_visible()
    assert page.errors == []


def test_patterns_lead_to_a_search(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    page.get_by_role("button", name="Error patterns").click()
    patterns = page.get_by_role("table", name="Patterns")
    expect(patterns).to_contain_text("Payment timeout after")
    timeline = patterns.get_by_role("img", name=re.compile("^entries over the window"))
    assert sum(map(int, timeline.get_attribute("aria-label").split(": ")[1].split(", "))) == 1
    patterns.get_by_role("button").first.click()
    expect(rows(page)).to_have_count(1)
    assert "q=" in page.url
    assert page.errors == []


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page) -> list[str]:
    """axe-core's findings of serious or critical impact (the page's CSP is bypassed for
    this script only: it is the test's, not the console's)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']}: {v['help']} ({[n['html'][:80] for n in v['nodes']]})"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser, server, stored, scheme):
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{server.url}/")
    assert serious_violations(page) == []
    page.get_by_label("API key").fill(server.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{server.url}/?service={stored}")
    expect(rows(page)).to_have_count(3)
    rows(page).first.get_by_role("button", name="Show every field").click()
    page.get_by_role("button", name="Error patterns").click()
    expect(page.get_by_role("table", name="Patterns")).to_contain_text("Payment")
    assert serious_violations(page) == []
    page.get_by_role("searchbox", name="Ask").fill(f"how many {stored} logs by level")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_role("region", name="Answer").get_by_role("table")).to_be_visible()
    assert serious_violations(page) == []
    page.goto(f"{server.url}/?view=services")
    page.get_by_role("button", name=f"Open {stored}").click()
    expect(page.get_by_text(re.compile("^Cleanup keeps"))).to_be_visible()
    assert serious_violations(page) == []
    page.goto(f"{server.url}/?view=keys")
    expect(page.get_by_role("table", name="Keys")).to_contain_text("Name")
    assert serious_violations(page) == []
    context.close()


def test_a_service_page_saves_its_config(browser, server, stored):
    page = signed_in(browser, server, "/?view=services")
    page.get_by_role("button", name=f"Open {stored}").click()
    expect(page.get_by_role("heading", name=stored, level=2)).to_be_visible()
    expect(page.get_by_text(re.compile("^Cleanup keeps"))).to_be_visible()  # the form is loaded
    page.get_by_label("TTL days").fill("12")
    page.get_by_label("DEBUG kept").fill("0.1")
    page.get_by_label("INFO kept").fill("0.5")
    page.get_by_role("button", name="Save config").click()
    expect(page.get_by_text("Saved: cleanup keeps 12 days in the index.")).to_be_visible()
    config = requests.get(
        f"{server.url}/api/v1/logs/config/{stored}", headers=server.headers, timeout=30
    ).json()
    assert (config["ttl_days"], config["debug_sample_rate"], config["info_sample_rate"]) == (
        12,
        0.1,
        0.5,
    )
    page.reload()  # the form shows what is stored
    page.get_by_role("button", name=f"Open {stored}").click()
    expect(page.get_by_label("DEBUG kept")).to_have_value("0.1")
    page.get_by_label("DEBUG kept").fill("")  # empty: back to keeping all
    page.get_by_role("button", name="Save config").click()
    expect(page.get_by_text(re.compile("^Saved"))).to_be_visible()
    config = requests.get(
        f"{server.url}/api/v1/logs/config/{stored}", headers=server.headers, timeout=30
    ).json()
    assert config["debug_sample_rate"] is None and config["info_sample_rate"] == 0.5
    assert page.errors == []


def test_keys_are_created_once_shown_and_revoked(browser, server):
    page = signed_in(browser, server, "/?view=keys")
    name = f"console-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text(re.compile(r"shown once, copy it now\): lsk_"))).to_be_visible()
    key = page.get_by_text(re.compile("lsk_")).inner_text().rsplit(" ", 1)[-1]
    assert (
        requests.get(
            f"{server.url}/api/v1/logs/services",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code
        == 200
    )
    page.get_by_role("button", name=f"Revoke {name}").click()
    expect(
        page.get_by_role("table", name="Keys").get_by_role("row", name=re.compile(name))
    ).to_contain_text("revoked")
    assert (
        requests.get(
            f"{server.url}/api/v1/logs/services",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code
        == 401
    )
    assert page.errors == []


def test_context_shows_the_entries_around_one(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}&q=order")
    expect(rows(page)).to_have_count(1)
    rows(page).first.get_by_role("button", name="Show every field").click()
    page.get_by_role("button", name="Context").click()
    context = page.get_by_role("list", name="Context").get_by_role("listitem")
    expect(context).to_have_count(3)
    expect(context.nth(0)).to_contain_text("Payment timeout after 30s")
    expect(context.nth(1)).to_contain_text("order placed")
    expect(context.nth(2)).to_contain_text("slow timeout warning")
    assert page.errors == []


def test_absolute_times_pick_the_range(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    expect(rows(page)).to_have_count(3)
    page.get_by_label("From").fill("2001-01-01T00:00:00")
    page.get_by_label("To").fill("2001-01-02T00:00:00")
    page.get_by_role("button", name="Run").click()
    expect(rows(page)).to_have_count(0)
    assert "from=" in page.url and "to=" in page.url
    page.get_by_role("button", name="Auto-refresh").click()
    expect(page.get_by_role("button", name="Auto-refresh")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.errors == []


def test_ten_thousand_entries_are_windowed(browser, server):
    service = f"many-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    for batch in range(10):
        logs = [
            {
                "service_name": service,
                "level": "INFO",
                "message": f"entry {batch * 1000 + i}",
                "timestamp": now - (batch * 1000 + i) * 100,
            }
            for i in range(1000)
        ]
        server.ingest(logs)
    page = signed_in(browser, server, f"/?service={service}&range=24h")
    expect(page.get_by_text("1000 entries (more older)")).to_be_visible()
    for loaded in range(2000, 10_001, 1000):
        page.get_by_role("button", name="Load older").click()
        expect(page.get_by_text(re.compile(f"^{loaded} entries"))).to_be_visible()
    expect(page.get_by_text("10000 entries", exact=True)).to_be_visible()
    assert rows(page).count() < 100  # only the rows in view, and a few around
    assert rows(page).first.get_attribute("aria-setsize") == "10000"
    page.evaluate("document.getElementById('scroller').scrollTop = 1e9")
    last = rows(page).last
    expect(last).to_have_attribute("aria-posinset", "10000")
    expect(last).to_contain_text("entry 9999")
    assert rows(page).count() < 100
    assert page.errors == []


def test_a_range_past_the_hot_window_says_what_came_from_the_archive(browser, server):
    service = f"old-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    server.ingest(
        [
            {
                "service_name": service,
                "level": "ERROR",
                "message": f"old {days}",
                "timestamp": now - days * 86_400_000,
            }
            for days in (1, 10, 20)
        ]
    )
    page = signed_in(browser, server, f"/?service={service}")
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime((now - 30 * 86_400_000) / 1000))
    end = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now / 1000 + 60))
    page.get_by_label("From").fill(start)
    page.get_by_label("To").fill(end)
    page.get_by_role("button", name="Run").click()
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_text("3 entries, 2 from the archive")).to_be_visible()
    assert page.errors == []


def test_a_stack_trace_reads_as_lines(browser, server):
    """A multi-line message: the row shows its first line and how many more; the entry
    panel and the full archived entry show every line, not \\n escapes."""
    service = f"trace-{uuid.uuid4().hex[:6]}"
    trace = (
        'Traceback (most recent call last):\n  File "app.py", line 3, in pay\nValueError: bad card'
    )
    server.ingest([{"service_name": service, "level": "ERROR", "message": trace}])
    page = signed_in(browser, server, f"/?service={service}")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("+2 lines")
    expect(rows(page).first).not_to_contain_text("ValueError")
    rows(page).first.get_by_role("button", name="Show every field").click()
    message = page.get_by_label("Message")
    assert message.inner_text().splitlines() == trace.splitlines()
    page.get_by_role("button", name="Full archived entry").click()
    full = page.locator("pre.full")
    expect(full).to_contain_text("ValueError: bad card")
    assert full.inner_text().splitlines()[:3] == trace.splitlines()
    assert "\\n" not in full.inner_text()
    assert page.errors == []


def test_the_fields_panel_shows_the_most_common_keys_and_finds_the_rest(browser, server):
    """Forty keys (OTel's resource attributes are many): the common one comes first, not
    what sorts first; the others are a search away, and the panel says how many."""
    service = f"fields-{uuid.uuid4().hex[:6]}"
    logs = [
        {
            "service_name": service,
            "level": "INFO",
            "message": f"m{i}",
            "metadata": {"user_id": f"u{i % 3}", **{f"attr_{k:02d}": "x" for k in range(i, i + 8)}},
        }
        for i in range(40)
    ]
    server.ingest(logs)
    page = signed_in(browser, server, f"/?service={service}")
    summaries = page.locator("#fields summary")
    expect(summaries.first).to_contain_text("metadata.user_id")
    expect(summaries.first).to_contain_text("40 of 40 · 3 values")
    expect(summaries).to_have_count(30)
    expect(page.locator("#fields .hint")).to_contain_text("18 more fields")  # 48 keys
    page.get_by_label("Find a field").fill("attr_46")
    expect(summaries).to_have_count(1)
    expect(summaries.first).to_contain_text("metadata.attr_46")
    assert page.errors == []


def test_the_sign_in_page_says_where_the_key_is_and_counts_read_as_words(browser, server):
    page = browser.new_page()
    page.goto(f"{server.url}/")
    hint = page.locator("#sign-in-hint")
    expect(hint).to_contain_text("data/api_key")
    expect(hint).to_contain_text("ApiKeySecretArn")
    service = f"one-{uuid.uuid4().hex[:6]}"
    server.ingest([{"service_name": service, "level": "INFO", "message": "alone"}])
    page = signed_in(browser, server, f"/?service={service}")
    expect(rows(page)).to_have_count(1)
    expect(page.locator("#summary")).to_have_text(re.compile(r"^1 entry\b"))
    expect(page.locator("#histogram-caption")).to_have_text(re.compile(r"^1 entry from"))
    assert page.errors == []


@pytest.mark.parametrize("width", [800, 1440, 2560])
def test_the_layout_holds_from_800_to_2560_pixels(browser, server, stored, width):
    """The query bar on one line from 1440 px, the list wide enough to read at 800 (the side
    panel goes below it), an entry's id and time never broken mid-token."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{server.url}/?service={stored}")
    page.get_by_label("API key").fill(server.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(rows(page)).to_have_count(3)
    if width >= 1440:
        top = page.get_by_label("Time range").bounding_box()["y"]
        for control in (
            page.get_by_role("searchbox", name="Search"),
            page.get_by_role("button", name="Run"),
        ):
            assert abs(control.bounding_box()["y"] - top) < 10
    assert page.locator("#scroller").bounding_box()["width"] >= min(width - 60, 700)
    rows(page).first.get_by_role("button", name="Show every field").click()
    for name in ("id", "timestamp"):
        cell = page.get_by_role("row", name=re.compile(f"^{name} ")).locator("td")
        assert cell.bounding_box()["height"] < 24, name  # one line
    if width >= 1440:  # and whole, without scrolling the panel
        assert page.locator("#entry").evaluate("e => e.scrollWidth <= e.clientWidth")


def test_ask_shows_the_logql_its_meaning_and_the_results_and_runs_an_edit(browser, server, stored):
    page = signed_in(browser, server)
    page.get_by_role("searchbox", name="Ask").fill(
        f"{stored} errors about timeouts in the last hour"
    )
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.get_by_role("region", name="Answer")
    logql = answer.get_by_role("textbox", name="LogQL")
    expect(logql).to_have_value(
        f'{{service_name="{stored}", level=~"error|critical"}} |~ "(?i)timeout"'
    )
    expect(answer).to_contain_text(f"The newest error or critical entries of {stored}")
    found = answer.get_by_role("list", name="Answer entries").get_by_role("listitem")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text("Payment timeout after 30s")
    assert "ask=" in page.url  # the question is in the link
    # Edited: every level, still "timeout": the warning too, over the same range.
    logql.fill(f'{{service_name="{stored}"}} |~ "(?i)timeout"')
    answer.get_by_role("button", name="Run LogQL").click()
    expect(found).to_have_count(2)
    # A count becomes a table of series.
    page.get_by_role("searchbox", name="Ask").fill(f"how many {stored} logs by level")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(answer.get_by_role("table")).to_contain_text("level=warn")
    assert page.errors == []


def test_a_question_not_understood_offers_questions_to_try(browser, server, stored):
    page = signed_in(browser, server, f"/?ask=why%20is%20{stored}%20slow")
    answer = page.get_by_role("region", name="Answer")
    expect(answer).to_contain_text("more than the built-in rules read (why)")
    tries = answer.get_by_role("list", name="Suggested questions").get_by_role("button")
    expect(tries.first).to_be_visible()
    tries.first.click()
    expect(answer.get_by_role("textbox", name="LogQL")).to_have_value(re.compile("service_name"))
    assert page.errors == []


def test_the_histogram_counts_what_the_list_shows(browser, server):
    """The text search and field filters narrow the chart as they narrow the list, and its
    buckets cover the range exactly (none counts entries from before it)."""
    service = f"volume-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    server.ingest(
        [
            {
                "service_name": service,
                "level": level,
                "message": message,
                "timestamp": now - ago,
                "metadata": {"http": {"status": status}, "region": region},
            }
            for level, message, status, region, ago in [
                ("ERROR", "Payment TIMEOUT at the gateway", 504, "EU", 60_000),
                ("ERROR", "card declined", 402, "eu", 120_000),
                ("WARN", "slow timeout warning", 200, "us", 180_000),
                ("INFO", "order placed", 201, "eu", 240_000),
                ("ERROR", "timeout before the range", 500, "eu", 15 * 60_000 + 4_000),  # outside
            ]
        ]
    )
    cases = [
        ("", 4),
        ("&q=timeout", 2),
        ("&q=timeout&filter=metadata.region%3Deu", 1),
        ("&filter=metadata.http.status%3E%3D500", 1),
        ("&filter=metadata.region~%3DE", 3),
        ("&filter=!metadata.region", 0),
    ]
    for query, expected in cases:
        page = signed_in(browser, server, f"/?service={service}&range=15m{query}")
        expect(rows(page)).to_have_count(expected)
        caption = page.locator("#histogram-caption")
        words = "1 entry" if expected == 1 else f"{expected} entries"
        expect(caption).to_have_text(re.compile(f"^{words} from"))
        assert "leaves out" not in caption.text_content()
        # An axis of five times and a legend of the levels' colours.
        expect(page.locator("#histogram-axis span")).to_have_count(5)
        expect(page.get_by_role("list", name="Legend")).to_contain_text("CRITICAL")
        assert page.errors == []
        page.close()


def test_the_list_is_walked_with_the_keyboard(browser, server, stored):
    page = signed_in(browser, server, f"/?service={stored}")
    expect(rows(page)).to_have_count(3)
    entry = page.get_by_role("region", name="Entry")
    page.locator("#scroller").focus()
    for key, message in [
        ("ArrowDown", "slow timeout warning"),  # the newest
        ("j", "order placed"),
        ("ArrowDown", "Payment timeout after 30s"),
        ("ArrowDown", "Payment timeout after 30s"),  # the last stays the last
        ("k", "order placed"),
        ("Home", "slow timeout warning"),
        ("End", "Payment timeout after 30s"),
    ]:
        page.keyboard.press(key)
        expect(entry).to_contain_text(message)
        expect(page.locator(".entry[aria-current=true]")).to_contain_text(message)
    page.keyboard.press("Escape")
    expect(entry).to_be_hidden()
    page.keyboard.press("/")  # to the search box
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    assert page.errors == []


def test_the_dark_theme_follows_the_system(browser, server, stored):
    for scheme, ground in [("light", "rgb(250, 250, 250)"), ("dark", "rgb(21, 24, 28)")]:
        page = signed_in(browser, server, f"/?service={stored}", color_scheme=scheme)
        expect(rows(page)).to_have_count(3)
        style = "(element) => getComputedStyle(element).backgroundColor"
        assert page.locator("body").evaluate(style) == ground
        if scheme == "dark":  # the list, too: no white panel left on a dark page
            assert page.locator("#scroller").evaluate(style) == "rgb(27, 31, 36)"
        assert page.errors == []
        page.close()
