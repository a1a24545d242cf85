"""The local server's listening socket: connections answer without Nagle's delay."""

import asyncio
import socket

from logsvc_local.instance import bind


def test_connections_of_the_bound_socket_turn_nagle_off():
    """asyncio sets TCP_NODELAY only on connections of a socket created as IPPROTO_TCP;
    without it every response on a kept-alive connection waited 40 ms (the client's delayed
    ACK), which made each search over one connection take 44 ms."""

    async def accept_one() -> int:
        listening = bind("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = writer.get_extra_info("socket")
            seen.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            nodelay = await asyncio.wait_for(seen, 5)
            writer.close()
        return nodelay

    assert asyncio.run(accept_one()) == 1
