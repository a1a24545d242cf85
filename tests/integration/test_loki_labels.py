"""Loki's data model: the labels agents push (job, env, host, namespace, pod) are stream
labels: selectable, listed, returned in each stream and usable in aggregations, as in Loki;
service_name stays the tenant and retention key."""

import time

import pytest

from logsvc import components

NS = 1_000_000


@pytest.fixture
def pushed(api_any_db):
    api = api_any_db
    now = int(time.time() * 1000)
    streams = [
        ({"job": "varlogs", "env": "prod", "host": "h1"}, "disk full"),
        ({"job": "varlogs", "env": "dev", "host": "h2"}, "disk ok"),
        ({"service_name": "checkout", "namespace": "shop", "pod": "p-1"}, "paid"),
    ]
    body = {
        "streams": [
            {"stream": labels, "values": [[str((now - 1000) * NS), line]]}
            for labels, line in streams
        ]
    }
    answer = api.call("POST", "/loki/api/v1/push", body=body)
    assert answer.status == 204, answer.body
    return api, now


def get(api, route: str, now: int, **params):
    answer = api.get(
        f"/loki/api/v1/{route}",
        start=str((now - 3_600_000) * NS),
        end=str((now + 1000) * NS),
        **params,
    )
    assert answer.status == 200, answer.body
    return answer.body


def test_a_pushed_label_selects_its_streams_and_comes_back_in_them(pushed):
    api, now = pushed
    result = get(api, "query_range", now, query='{env="prod"}')["data"]["result"]
    assert [[v[1] for v in s["values"]] for s in result] == [["disk full"]]
    labels = result[0]["stream"]
    assert (labels["env"], labels["host"], labels["job"]) == ("prod", "h1", "varlogs")
    assert labels["service_name"] == "varlogs"  # the service still comes from job
    regex = get(api, "query_range", now, query='{host=~"h.*", env!="prod"}')["data"]["result"]
    assert [v[1] for s in regex for v in s["values"]] == ["disk ok"]


def test_label_names_and_values_are_those_of_the_range(pushed):
    api, now = pushed
    names = get(api, "labels", now)["data"]
    assert {"env", "host", "job", "namespace", "pod", "service_name", "level"} <= set(names)
    assert get(api, "label/env/values", now)["data"] == ["dev", "prod"]
    assert get(api, "label/pod/values", now)["data"] == ["p-1"]
    only = get(api, "labels", now, query='{namespace="shop"}')["data"]
    assert "env" not in only and {"namespace", "pod"} <= set(only)
    series = get(api, "series", now, **{"match[]": '{job="varlogs"}'})["data"]
    assert sorted(s["env"] for s in series) == ["dev", "prod"]


def test_a_pushed_label_groups_a_metric(pushed):
    api, now = pushed
    body = api.get(
        "/loki/api/v1/query",
        query='sum by (env) (count_over_time({job="varlogs"}[1h]))',
        time=str((now + 1000) * NS),
    ).body
    assert {s["metric"].get("env"): s["value"][1] for s in body["data"]["result"]} == {
        "prod": "1",
        "dev": "1",
    }


def test_blocks_written_before_they_listed_their_streams_still_answer(pushed):
    """Blocks from before migration 0009 have no streams column value: their entries are
    read instead."""
    api, now = pushed
    components.database().execute("UPDATE log_blocks SET streams = NULL")
    assert get(api, "label/env/values", now)["data"] == ["dev", "prod"]
    series = get(api, "series", now, **{"match[]": '{job="varlogs"}'})["data"]
    assert sorted(s["host"] for s in series) == ["h1", "h2"]
    assert "namespace" in get(api, "labels", now)["data"]


def test_several_pushed_labels_select_the_streams_holding_them_all(pushed):
    """A block lists its streams; every label asked for must be on one of them (env=prod
    is on one stream of the block and host=h2 on another: nothing holds both)."""
    api, now = pushed

    def lines(query: str) -> list[str]:
        result = get(api, "query_range", now, query=query)["data"]["result"]
        return [v[1] for s in result for v in s["values"]]

    assert lines('{env="prod", host="h1"}') == ["disk full"]
    assert lines('{env="dev", host="h2", job="varlogs"}') == ["disk ok"]
    assert lines('{env="prod", host="h2"}') == []
