"""port-forward: a pod's container port reaches the local address its annotation
`standin/port-N: 127.0.0.1:M` names (loopback only). Two carriers: SPDY streams (kubectl's,
direct or tunnelled in WebSocket), one data and one error stream per connection paired by
`requestID`; and the older WebSocket protocol with a data and an error channel per port."""

import asyncio
import ipaddress
import struct

ANNOTATION = "standin/port-{}"


def target(pod_obj, port):
    """(host, port) the pod's `port` forwards to, or an error message."""
    value = (pod_obj["metadata"].get("annotations") or {}).get(ANNOTATION.format(port))
    name = pod_obj["metadata"]["name"]
    uid = pod_obj["metadata"].get("uid", "")
    if not value:
        return None, (
            f"error forwarding port {port} to pod {name}, uid {uid}: "
            f"no {ANNOTATION.format(port)} annotation maps it to a local port"
        )
    host, _, local = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        return (host, int(local)), None
    except ValueError:
        return None, f"error forwarding port {port} to pod {name}: {value!r} is not a loopback address"


async def _connect(pod_obj, port):
    address, error = target(pod_obj, port)
    if error:
        return None, error
    try:
        reader, writer = await asyncio.open_connection(*address)
    except OSError as e:
        name = pod_obj["metadata"]["name"]
        return None, (
            f"error forwarding port {port} to pod {name}, uid {pod_obj['metadata'].get('uid', '')}: "
            f"failed to connect to localhost:{port} inside namespace: dial tcp4 {address[0]}:{address[1]}: {e.strerror or e}"
        )
    return (reader, writer), None


class SpdyForwarder:
    """Pairs the streams kubectl opens per local connection and pipes them to the target."""

    def __init__(self, pod_obj):
        self.pod_obj = pod_obj
        self.pending = {}  # requestID -> {"data": stream, "error": stream}
        self.tasks = set()

    def on_stream(self, stream):
        kind = stream.header("streamType")
        request = stream.header("requestID")
        pair = self.pending.setdefault(request, {})
        pair[kind] = stream
        if "data" in pair and "error" in pair:
            del self.pending[request]
            task = asyncio.ensure_future(self._forward(pair["data"], pair["error"], stream.header("port")))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _forward(self, data, error, port):
        try:
            port = int(port)
        except ValueError:
            await error.write(f"invalid port {port!r}".encode())
            await error.close()
            await data.close()
            return
        conn, message = await _connect(self.pod_obj, port)
        if conn is None:
            await error.write(message.encode())
            await error.close()
            await data.close()
            return
        reader, writer = conn

        async def upstream():
            while True:
                chunk = await data.read()
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()

        up = asyncio.ensure_future(upstream())
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                await data.write(chunk)
        except ConnectionError:
            pass
        finally:
            up.cancel()
            writer.close()
            await data.close()
            await error.close()

    def close(self):
        for t in list(self.tasks):
            t.cancel()


async def websocket_forward(ws, pod_obj, ports):
    """The older WebSocket port-forward protocol: for the i-th port, data on channel 2i and
    errors on 2i+1, each opened by a message holding the port (uint16, little-endian)."""
    from aiohttp import WSMsgType

    conns = {}
    for i, port in enumerate(ports):
        await ws.send_bytes(bytes([2 * i]) + struct.pack("<H", port))
        await ws.send_bytes(bytes([2 * i + 1]) + struct.pack("<H", port))
        conn, message = await _connect(pod_obj, port)
        if conn is None:
            await ws.send_bytes(bytes([2 * i + 1]) + message.encode())
        else:
            conns[i] = conn

    async def pump(i, reader):
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            await ws.send_bytes(bytes([2 * i]) + chunk)

    pumps = [asyncio.ensure_future(pump(i, r)) for i, (r, _) in conns.items()]
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel % 2 == 0 and channel // 2 in conns and payload:
                writer = conns[channel // 2][1]
                writer.write(payload)
                await writer.drain()
    finally:
        for p in pumps:
            p.cancel()
        for _, writer in conns.values():
            writer.close()
        await ws.close()
