"""The remote-command stream protocols as one interface: numbered channels (0 stdin, 1 stdout,
2 stderr, 3 error/status, 4 resize), carried either in WebSocket binary messages whose first byte
is the channel (`v4.channel.k8s.io`, `v5.channel.k8s.io` with its stdin close signal on channel
255) or as SPDY streams named by their `streamType` header, and the raw SPDY/3.1 upgrade that
aiohttp does not do itself."""

import asyncio
import json

from aiohttp import WSMsgType

import spdy

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}

EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
SPDY_EXEC_PROTOCOLS = ["v4.channel.k8s.io"]


class WebSocketChannels:
    """Channels over an open aiohttp WebSocketResponse."""

    def __init__(self, ws):
        self.ws = ws
        self.v5 = ws.ws_protocol == "v5.channel.k8s.io"
        self.inputs = asyncio.Queue()  # (channel, bytes); (STDIN, b"") is stdin's EOF
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for msg in self.ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == CLOSE and self.v5:
                if payload[:1] == bytes([STDIN]):
                    self.inputs.put_nowait((STDIN, b""))
            elif payload:
                self.inputs.put_nowait((channel, payload))
        self.inputs.put_nowait((None, b""))

    async def send(self, channel, data):
        if not self.ws.closed:
            try:
                await self.ws.send_bytes(bytes([channel]) + data)
            except (ConnectionError, RuntimeError):
                pass

    async def finish(self):
        if not self.ws.closed:
            await self.ws.close()
        self._reader.cancel()


class SpdyChannels:
    """Channels over SPDY streams, once the client has opened the ones it asked for."""

    def __init__(self):
        self.session = None  # set once the upgrade is answered
        self.streams = {}
        self.inputs = asyncio.Queue()
        self.ready = asyncio.Event()
        self.expected = set()
        self._tasks = []

    def on_stream(self, stream):
        channel = STREAM_TYPES.get(stream.header("streamType"))
        if channel is None:
            asyncio.ensure_future(stream.reset())
            return
        self.streams[channel] = stream
        if channel in (STDIN, RESIZE):
            self._tasks.append(asyncio.ensure_future(self._pump(channel, stream)))
        if self.expected <= set(self.streams):
            self.ready.set()

    async def _pump(self, channel, stream):
        while True:
            data = await stream.read()
            if not data:
                if channel == STDIN:
                    self.inputs.put_nowait((STDIN, b""))
                return
            self.inputs.put_nowait((channel, data))

    async def send(self, channel, data):
        stream = self.streams.get(channel)
        if stream:
            await stream.write(data)

    async def finish(self):
        for stream in self.streams.values():
            await stream.close()
        await self.session.close()
        for t in self._tasks:
            t.cancel()


def resizes(data):
    """The terminal sizes in a resize message (one or more JSON objects back to back)."""
    decoder = json.JSONDecoder()
    text = data.decode(errors="replace").strip()
    at = 0
    while at < len(text):
        try:
            obj, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
        if isinstance(obj, dict):
            yield int(obj.get("Width", 0)), int(obj.get("Height", 0))


class _Tap(asyncio.Protocol):
    """Takes over a connection from aiohttp after a 101 answer: bytes go to the SPDY session,
    in order."""

    def __init__(self, session):
        self.session = session
        self.chunks = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run())

    def data_received(self, data):
        self.chunks.put_nowait(data)

    def eof_received(self):
        self.chunks.put_nowait(None)
        return False

    def connection_lost(self, exc):
        self.chunks.put_nowait(None)

    async def _run(self):
        while True:
            data = await self.chunks.get()
            if data is None:
                self.session.lost()
                return
            await self.session.feed(data)


def is_spdy_upgrade(request):
    return request.headers.get("Upgrade", "").lower().startswith("spdy/")


def negotiate_spdy(request, supported):
    """The X-Stream-Protocol-Version the client offers that we speak first, or None."""
    offered = [
        p.strip()
        for value in request.headers.getall("X-Stream-Protocol-Version", [])
        for p in value.split(",")
    ]
    return next((p for p in offered if p in supported), None)


async def spdy_upgrade(request, protocol, on_stream):
    """Answers 101 Switching Protocols to `Upgrade: SPDY/3.1` and runs a SPDY session on the
    connection; returns the session (await `session.done`)."""
    transport = request.transport
    head = (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: SPDY/3.1\r\n"
        f"X-Stream-Protocol-Version: {protocol}\r\n\r\n"
    )
    transport.write(head.encode())

    async def send(data):
        if transport.is_closing():
            raise ConnectionError("closed")
        transport.write(data)

    session = spdy.Session(send, on_stream)
    transport.set_protocol(_Tap(session))
    session.transport = transport
    return session
