"""The local server's per-connection buffer: bounded, oldest dropped first, drops counted."""

import asyncio

from logsvc_local.stream import Connection


def test_a_full_buffer_drops_the_oldest_and_counts():
    async def scenario():
        connection = Connection(websocket=None, buffer=asyncio.Queue(3))
        for i in range(5):
            connection.deliver(f"m{i}")
        kept = [connection.buffer.get_nowait() for _ in range(connection.buffer.qsize())]
        return kept, connection.dropped

    assert asyncio.run(scenario()) == (["m2", "m3", "m4"], 2)
