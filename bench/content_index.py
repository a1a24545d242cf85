"""What a content index of blocks would cost in D1 (issue 30: rule blocks out by content),
measured on D1 itself (workerd, through the bridge Worker), before building one.

One FTS5 document per block (its entries' messages and metadata as ``key=value``), written
a flush at a time (50 blocks of 15 entries, the single-entry shape of bench.capacity), in
the variants a design would choose between: words (unicode61) or trigrams (any substring of
3+ characters), contentless or storing the text. Printed per variant: D1's rows written
per block (its billing unit), bytes per log (D1's size_after), and how long a needle that
is in 10 blocks, and one that is in none, take to find in the local SQLite copy.

    python -m bench.content_index [--flushes 200] [--save bench/results]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import Corpus  # noqa: E402

# (table definition, how a needle is looked up): words answer whole tokens only (a
# substring needs its inner words to be whole); trigrams answer any substring of 3+
# characters, contentless only with positions (detail=full), or with the text stored.
VARIANTS = {
    "words, contentless": ("fts5(body, content='', detail=none)", "c MATCH ?", "{}"),
    "trigrams, contentless": ("fts5(body, content='', tokenize='trigram')", "c MATCH ?", '"{}"'),
    "trigrams, text stored": (
        "fts5(body, detail=none, tokenize='trigram')",
        "body LIKE ?",
        "%{}%",
    ),
}
BLOCKS_PER_FLUSH, ENTRIES_PER_BLOCK = 50, 15
RARE = "zebracorn"  # put in 10 blocks: the rare token


def documents(flushes: int) -> list[list[str]]:
    """Each flush's block documents: messages and metadata as key=value."""
    corpus, rng = Corpus(seed=5), random.Random(5)
    rare_at = set(rng.sample(range(flushes * BLOCKS_PER_FLUSH), 10))
    out = []
    for flush in range(flushes):
        batch = []
        for b in range(BLOCKS_PER_FLUSH):
            entries = corpus.batch(f"service-{rng.randrange(50)}", ENTRIES_PER_BLOCK, 0)
            words = [
                e["message"] + " " + " ".join(f"{k}={v}" for k, v in e["metadata"].items())
                for e in entries
            ]
            if flush * BLOCKS_PER_FLUSH + b in rare_at:
                words.append(f"payment {RARE} declined")
            batch.append(" ".join(words))
        out.append(batch)
    return out


def measure(flushes: int) -> dict[str, Any]:
    from logsvc.sql import Statement, d1_http, open_database
    from tests.support.d1_bridge import SECRET, D1Bridge

    written = {"rows": 0}
    original = d1_http.D1HttpDatabase._post

    def counted(self, body):
        results = original(self, body)
        written["rows"] += sum((r.get("meta") or {}).get("rows_written", 0) for r in results)
        return results

    d1_http.D1HttpDatabase._post = counted
    docs = documents(flushes)
    logs = flushes * BLOCKS_PER_FLUSH * ENTRIES_PER_BLOCK
    results: dict[str, Any] = {"flushes": flushes, "logs": logs, "variants": {}}
    bridge = D1Bridge()
    try:
        db = open_database(bridge.database_url, bridge_secret=SECRET)
        for number, (name, (definition, test, needle)) in enumerate(VARIANTS.items()):
            table = f"content_{number}"
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"CREATE VIRTUAL TABLE {table} USING {definition}")
            before, written["rows"] = db.size_bytes(), 0
            rowid = 0
            for batch in docs:
                statements = []
                for text in batch:
                    rowid += 1
                    statements.append(
                        Statement(f"INSERT INTO {table} (rowid, body) VALUES (?, ?)", (rowid, text))  # noqa: S608 - fixed name
                    )
                db.batch(statements)
            rows = written["rows"]
            size = db.size_bytes() - before
            db.execute(f"DROP TABLE {table}")
            results["variants"][name] = {
                "rows_written_per_block": round(rows / rowid, 3),
                "bytes_per_log": round(size / logs, 1),
                **_lookups(definition, test, needle, docs),
            }
    finally:
        d1_http.D1HttpDatabase._post = original
        bridge.stop()
    return results


def _lookups(definition: str, test: str, needle: str, docs: list[list[str]]) -> dict[str, float]:
    """Median ms to find the blocks of a rare token and of an absent one (local SQLite)."""
    with tempfile.TemporaryDirectory() as folder:
        con = sqlite3.connect(Path(folder) / "c.db")
        con.execute(f"CREATE VIRTUAL TABLE c USING {definition}")
        rowid = 0
        for batch in docs:
            with con:
                for text in batch:
                    rowid += 1
                    con.execute("INSERT INTO c (rowid, body) VALUES (?, ?)", (rowid, text))
        timings = {}
        for label, word in (("rare_token_ms", RARE), ("absent_ms", "quokkafish")):
            samples = []
            for _ in range(7):
                start = time.perf_counter()
                found = con.execute(
                    f"SELECT rowid FROM c WHERE {test}",  # noqa: S608 - fixed fragments
                    (needle.format(word),),
                ).fetchall()
                samples.append((time.perf_counter() - start) * 1000)
            timings[label] = round(sorted(samples)[3], 3)
            if label == "rare_token_ms":
                assert len(found) == 10, found
        con.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flushes", type=int, default=200)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    results = measure(args.flushes)
    print(json.dumps(results, indent=2))
    if args.save:
        (args.save / "content_index.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
