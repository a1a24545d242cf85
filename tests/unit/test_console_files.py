"""The console's files as the health function serves them: the live-tail address the page
may reach, and nothing else."""

from logsvc.api import console


def test_the_page_names_the_live_tail_address_and_the_policy_allows_only_it():
    url = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    page = console.page(url)
    assert f'<meta name="logsvc-live-tail" content="{url}">' in page.body
    policy = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://abc123.execute-api.eu-west-1.amazonaws.com;" in policy
    assert "script-src 'self';" in policy and "default-src 'none'" in policy


def test_locally_the_page_tails_its_own_server():
    page = console.page(None)
    assert '<meta name="logsvc-live-tail" content="">' in page.body
    assert "connect-src 'self';" in page.headers["Content-Security-Policy"]


def test_only_the_named_files_are_served():
    assert console.asset("console.js", None).body.startswith("// The logsvc console")
    assert console.asset("../index.html", None) is None
    assert console.asset("index.html", None) is None  # the page is served at / only
