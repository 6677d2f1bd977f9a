"""SPDY/3.1 as Kubernetes uses it (moby/spdystream): the framing (a sans-IO `FrameReader` fed
bytes, and frame encoders) and a server-side `Session` over any byte transport. kubectl speaks
it directly after `POST ... Upgrade: SPDY/3.1` (exec and attach from older clients,
port-forward's fallback) and inside WebSocket binary messages for port-forward
(`SPDY/3.1+portforward.k8s.io`, the tunnel kubectl 1.31+ uses first).

spdystream does no flow control, so neither does this: WINDOW_UPDATE and SETTINGS are read and
ignored. Header blocks share one zlib context per direction, primed with SPDY/3's dictionary."""

import asyncio
import struct
import zlib

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_FRAME = 16 * 1024 * 1024


def _dictionary():
    names = (
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 content-range content-type date "
        "etag expect expires from host if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
        "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    ).split() + ["200 OK"] + "version HTTP/1.1 url public set-cookie keep-alive origin".split()
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
        "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
        "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
        "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
        "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
        "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(struct.pack(">I", len(n)) + n.encode() for n in names) + tail.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    pass


class FrameReader:
    """Bytes in, frames out: `feed(data)` returns the complete frames, as tuples
    ('data', stream_id, flags, payload) or ('control', type, flags, fields)."""

    def __init__(self):
        self.buffer = bytearray()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data):
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            first, flags_length = struct.unpack_from(">II", self.buffer)
            length = flags_length & 0xFFFFFF
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes")
            if len(self.buffer) < 8 + length:
                break
            flags = flags_length >> 24
            payload = bytes(self.buffer[8 : 8 + length])
            del self.buffer[: 8 + length]
            if first & 0x80000000:
                frames.append(("control", first & 0xFFFF, flags, self._control(first & 0xFFFF, payload)))
            else:
                frames.append(("data", first & 0x7FFFFFFF, flags, payload))
        return frames

    def _control(self, kind, payload):
        try:
            if kind == SYN_STREAM:
                stream_id, associated = struct.unpack_from(">II", payload)
                return {"stream_id": stream_id & 0x7FFFFFFF, "associated": associated & 0x7FFFFFFF, "headers": self._headers(payload[10:])}
            if kind in (SYN_REPLY, HEADERS):
                (stream_id,) = struct.unpack_from(">I", payload)
                return {"stream_id": stream_id & 0x7FFFFFFF, "headers": self._headers(payload[4:])}
            if kind == RST_STREAM:
                stream_id, status = struct.unpack_from(">II", payload)
                return {"stream_id": stream_id & 0x7FFFFFFF, "status": status}
            if kind == PING:
                return {"id": struct.unpack_from(">I", payload)[0]}
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", payload)
                return {"last": last & 0x7FFFFFFF, "status": status}
            if kind == WINDOW_UPDATE:
                stream_id, delta = struct.unpack_from(">II", payload)
                return {"stream_id": stream_id & 0x7FFFFFFF, "delta": delta}
            return {}
        except struct.error as e:
            raise ProtocolError(f"short control frame {kind}: {e}") from e

    def _headers(self, block):
        raw = self.inflate.decompress(block)
        headers = {}
        try:
            (count,) = struct.unpack_from(">I", raw)
            at = 4
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, at)
                name = raw[at + 4 : at + 4 + n].decode()
                at += 4 + n
                (n,) = struct.unpack_from(">I", raw, at)
                value = raw[at + 4 : at + 4 + n].decode()
                at += 4 + n
                headers[name.lower()] = value.split("\x00")
        except struct.error as e:
            raise ProtocolError(f"bad header block: {e}") from e
        return headers


class FrameWriter:
    def __init__(self):
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def _block(self, headers):
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            name = name.lower().encode()
            value = "\x00".join(value if isinstance(value, list) else [value]).encode()
            raw += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind, flags, payload):
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def syn_reply(self, stream_id, headers, fin=False):
        return self.control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + self._block(headers))

    def syn_stream(self, stream_id, headers, fin=False):
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + self._block(headers)
        return self.control(SYN_STREAM, FLAG_FIN if fin else 0, payload)

    @staticmethod
    def data(stream_id, payload, fin=False):
        return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload

    @classmethod
    def rst(cls, stream_id, status=5):
        return cls.control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @classmethod
    def ping(cls, ping_id):
        return cls.control(PING, 0, struct.pack(">I", ping_id))

    @classmethod
    def goaway(cls, last, status=0):
        return cls.control(GOAWAY, 0, struct.pack(">II", last, status))


class Stream:
    """A client-opened stream: its headers, the data it sends (`read()`; b"" at FIN) and a
    way to answer (`write`, `close` sends FIN)."""

    def __init__(self, session, stream_id, headers, fin):
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.incoming = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False
        if fin:
            self._remote_fin()

    def header(self, name):
        return (self.headers.get(name.lower()) or [""])[0]

    def _remote_fin(self):
        if not self.remote_closed:
            self.remote_closed = True
            self.incoming.put_nowait(b"")

    async def read(self):
        return await self.incoming.get()

    async def write(self, data):
        max_chunk = 32 * 1024
        for i in range(0, len(data), max_chunk):
            if self.local_closed or self.session.closed:
                return
            await self.session.send(FrameWriter.data(self.id, data[i : i + max_chunk]))

    async def close(self):
        if not self.local_closed and not self.session.closed:
            self.local_closed = True
            await self.session.send(FrameWriter.data(self.id, b"", fin=True))

    async def reset(self):
        if not self.session.closed:
            self.local_closed = True
            await self.session.send(FrameWriter.rst(self.id))


class Session:
    """The server end of one SPDY connection. `send(bytes)` is an async function writing to the
    transport; `on_stream(stream)` is called (synchronously) for each stream the client opens,
    after the stream has been replied to."""

    def __init__(self, send, on_stream):
        self._send = send
        self._lock = asyncio.Lock()
        self.on_stream = on_stream
        self.reader = FrameReader()
        self.writer = FrameWriter()
        self.streams = {}
        self.closed = False
        self.done = asyncio.get_running_loop().create_future()

    async def send(self, data):
        if self.closed:
            return
        async with self._lock:
            try:
                await self._send(data)
            except (ConnectionError, RuntimeError, OSError):
                self._finish()

    async def feed(self, data):
        """Handles bytes the client sent."""
        try:
            frames = self.reader.feed(data)
        except (ProtocolError, zlib.error):
            await self.close()
            return
        for frame in frames:
            await self._handle(frame)

    async def _handle(self, frame):
        if frame[0] == "data":
            _, stream_id, flags, payload = frame
            stream = self.streams.get(stream_id)
            if stream is None:
                return
            if payload:
                stream.incoming.put_nowait(payload)
            if flags & FLAG_FIN:
                stream._remote_fin()
            return
        _, kind, flags, fields = frame
        if kind == SYN_STREAM:
            stream = Stream(self, fields["stream_id"], fields["headers"], bool(flags & FLAG_FIN))
            self.streams[stream.id] = stream
            await self.send(self.writer.syn_reply(stream.id, {}))
            self.on_stream(stream)
        elif kind == RST_STREAM:
            stream = self.streams.pop(fields["stream_id"], None)
            if stream:
                stream.local_closed = True
                stream._remote_fin()
        elif kind == PING:
            await self.send(FrameWriter.ping(fields["id"]))
        elif kind == GOAWAY:
            self._finish()

    def _finish(self):
        if not self.closed:
            self.closed = True
            for stream in self.streams.values():
                stream._remote_fin()
            if not self.done.done():
                self.done.set_result(None)

    def lost(self):
        """The transport closed."""
        self._finish()

    async def close(self):
        if not self.closed:
            last = max(self.streams, default=0)
            await self.send(FrameWriter.goaway(last))
            self._finish()
