"""The SqlDatabase contract on SQLite and on D1's REST API (stand-in), and D1's failures."""

import pytest

from logsvc.errors import DatabaseUnavailable
from logsvc.sql import SqlError, Statement, open_database
from logsvc.sql.d1_rest import D1RestDatabase, RequestBudget
from logsvc.sql.migrations import apply_migrations, migration_files
from logsvc_local.project import MIGRATIONS_DIR
from tests.support.d1_bridge import SECRET as BRIDGE_SECRET
from tests.support.d1_standin import ACCOUNT, DATABASE, TOKEN


@pytest.fixture
def db(any_database, d1_client_factory):
    database = d1_client_factory(any_database)
    yield database
    database.close()


@pytest.fixture
def d1_client_factory(request):
    def make(url):
        if url.startswith("d1://"):
            standin = request.getfixturevalue("d1")
            return open_database(url, d1_api_token=TOKEN, d1_api_base_url=standin.base_url)
        return open_database(url, bridge_secret=BRIDGE_SECRET)

    return make


def test_execute_query_and_batch(db):
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    result = db.execute("INSERT INTO t (k, v) VALUES (?, ?), (?, ?)", ("a", 1, "b", 2))
    assert result.changes == 2
    results = db.batch(
        [
            Statement("UPDATE t SET v = v + 10 WHERE k = ?", ("a",)),
            Statement("SELECT k, v FROM t ORDER BY k"),
        ]
    )
    assert results[0].changes == 1
    assert results[1].rows == [{"k": "a", "v": 11}, {"k": "b", "v": 2}]
    assert db.query("SELECT count(*) AS n FROM t WHERE k = ?", ("' OR 1=1 --",)) == [{"n": 0}]


def test_a_batch_is_atomic_all_or_nothing(db):
    """The writer's checkpoint, receipts and sampling's tallies go with the blocks in one
    batch and rely on it: a batch that fails part-way leaves nothing behind (on D1 itself,
    through the bridge, as on SQLite and the REST stand-in)."""
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO t (k, n) VALUES ('kept', 1)")
    with pytest.raises(SqlError):
        db.batch(
            [
                Statement("INSERT INTO t (k, n) VALUES (?, ?)", ("new", 1)),
                Statement("UPDATE t SET n = n + 1 WHERE k = ?", ("kept",)),
                Statement("INSERT INTO t (k, n) VALUES (?, ?)", ("kept", 2)),  # a conflict
            ]
        )
    assert db.query("SELECT k, n FROM t ORDER BY k") == [{"k": "kept", "n": 1}]


def test_json_each_bulk_insert_beats_the_parameter_limit(db):
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute(
        "INSERT INTO t (k) SELECT value FROM json_each(?)",
        ("[" + ",".join(str(i) for i in range(5000)) + "]",),
    )
    assert db.query("SELECT count(*) AS n, sum(k) AS s FROM t") == [{"n": 5000, "s": 12497500}]


def test_d1_limits_are_enforced_on_every_backend(db):
    with pytest.raises(SqlError, match="bound parameters"):
        db.query("SELECT " + ",".join("?" * 101), tuple(range(101)))
    with pytest.raises(SqlError, match="100000 bytes"):
        db.query("SELECT 1 -- " + "x" * 100_001)


def test_sql_errors_are_sql_errors_not_outages(db):
    with pytest.raises(SqlError):
        db.query("SELEC nonsense")


def test_d1_retries_server_errors_then_succeeds(d1):
    d1.fail_next(503, "overloaded", times=2)
    client = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url=d1.base_url)
    assert client.query("SELECT 1 AS one") == [{"one": 1}]
    assert len(d1.requests) == 3


def test_d1_gives_up_after_repeated_server_errors(d1):
    d1.fail_next(500, "Internal error", times=10)
    client = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url=d1.base_url)
    with pytest.raises(DatabaseUnavailable, match="HTTP 500"):
        client.query("SELECT 1")


def test_d1_rate_limit_is_not_waited_out(d1):
    d1.fail_next(429, "Too many requests", code=971, headers={"Retry-After": "300"})
    client = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url=d1.base_url)
    with pytest.raises(DatabaseUnavailable) as caught:
        client.query("SELECT 1")
    assert caught.value.retry_after == 300
    assert len(d1.requests) == 1


def test_d1_wrong_token_and_unreachable_are_outages(d1):
    with pytest.raises(DatabaseUnavailable, match="token"):
        D1RestDatabase(ACCOUNT, DATABASE, "wrong", base_url=d1.base_url).query("SELECT 1")
    closed = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url="http://127.0.0.1:9/client/v4")
    with pytest.raises(DatabaseUnavailable, match="unreachable"):
        closed.query("SELECT 1")


@pytest.mark.parametrize("url", ["postgres://x", "sqlite://", "d1://only-account", "nothing"])
def test_unknown_database_urls_are_refused_clearly(url):
    with pytest.raises(ValueError, match="DATABASE_URL"):
        open_database(url, d1_api_token="t")


def test_migrations_apply_once_and_record_like_wrangler(tmp_path, any_database, d1_client_factory):
    fresh = (tmp_path / "fresh.db") if any_database.startswith("sqlite") else None
    db = (
        open_database(f"sqlite:///{fresh}", create=True)
        if fresh
        else d1_client_factory(any_database)
    )
    names = [p.name for p in migration_files(MIGRATIONS_DIR)]
    first = apply_migrations(db, MIGRATIONS_DIR)
    assert first == (names if fresh else [])  # the D1 fixture database is already migrated
    assert apply_migrations(db, MIGRATIONS_DIR) == []
    rows = db.query("SELECT id, name, applied_at FROM d1_migrations ORDER BY id")
    assert [r["name"] for r in rows] == names
    assert all(r["applied_at"] for r in rows)
    objects = {(r["type"], r["name"]) for r in db.query("SELECT type, name FROM sqlite_master")}
    assert {
        ("table", "log_blocks"),
        ("view", "logs"),
        ("table", "service_configs"),
        ("table", "analysis_results"),
        ("table", "d1_migrations"),
    } <= objects


def test_a_failing_migration_is_not_recorded(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
    (folder / "0002_broken.sql").write_text("CREATE TABLE b (x INTEGER); CREATE TABL c;")
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}", create=True)
    with pytest.raises(SqlError):
        apply_migrations(db, folder)
    assert [r["name"] for r in db.query("SELECT name FROM d1_migrations")] == ["0001_ok.sql"]
    assert db.query("SELECT name FROM sqlite_master WHERE name = 'b'") == []


def test_d1_retries_overloaded_answers_whatever_their_status(d1):
    d1.fail_next(400, "D1 DB is overloaded. Requests queued for too long.", code=7500)
    d1.fail_next(200, "Network connection lost.", code=7500)
    client = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url=d1.base_url)
    assert client.query("SELECT 2 AS two") == [{"two": 2}]
    assert len(d1.requests) == 3


def test_the_request_budget_refuses_before_cloudflare_would(d1):
    ticks = iter([0.0, 1.0, 2.0, 100.0, 301.5])
    client = D1RestDatabase(
        ACCOUNT,
        DATABASE,
        TOKEN,
        base_url=d1.base_url,
        budget=RequestBudget(3, clock=lambda: next(ticks)),
    )
    for _ in range(3):
        client.query("SELECT 1")
    with pytest.raises(DatabaseUnavailable) as spent:
        client.query("SELECT 1")  # at t=100: the first slot frees at t=300
    assert spent.value.retry_after == 200
    assert len(d1.requests) == 3  # nothing was sent
    client.query("SELECT 1")  # t=301.5: the first two slots are free again
    assert len(d1.requests) == 4


def test_d1_retries_a_429_that_asks_for_a_short_wait(d1):
    d1.fail_next(429, "Too many requests queued", code=971, headers={"Retry-After": "1"})
    client = D1RestDatabase(ACCOUNT, DATABASE, TOKEN, base_url=d1.base_url)
    assert client.query("SELECT 3 AS three") == [{"three": 3}]
    assert len(d1.requests) == 2
