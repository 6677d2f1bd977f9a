"""Pods as the kubelet would make them: the glue between pod objects and their local processes
(status written back to the store, events, graceful deletion), and the pod subresources that
reach those processes: `log`, `exec`, `attach` and `portforward`."""

import asyncio
import copy
import datetime
import uuid

from aiohttp import WSMsgType, web

import channels as chan
import objects
import portforward
import remote
import spdy
import status
from runtime import Runtime

PORTFORWARD_WS_PROTOCOLS = ["SPDY/3.1+portforward.k8s.io", "portforward.k8s.io", "v4.channel.k8s.io"]


class PodHooks:
    def __init__(self, store, root):
        self.store = store
        self.runtime = Runtime(root, self.publish, lambda r, ns, n: self.store.get(r, ns, n))
        self.terminating = set()

    # ---- lifecycle -----------------------------------------------------------------------

    def starting(self, obj):
        obj["spec"]["nodeName"] = "standin"

    def started(self, obj):
        self.event(obj, "Scheduled", f"Successfully assigned {obj['metadata']['namespace']}/{obj['metadata']['name']} to standin", component="default-scheduler")
        pod = self.runtime.start(copy.deepcopy(obj))
        self.publish(pod)

    def publish(self, pod):
        obj = self.store.get("pods", pod.namespace, pod.name)
        if obj is None or obj["metadata"]["uid"] != pod.obj["metadata"]["uid"]:
            return
        new_status = pod.status()
        if obj.get("status") == new_status:
            return
        before = {s["name"]: s for s in (obj.get("status") or {}).get("containerStatuses") or []}
        for s in new_status["containerStatuses"]:
            was = before.get(s["name"], {}).get("state", {})
            if "running" in s["state"] and "running" not in was:
                self.event(obj, "Started", f"Started container {s['name']}")
            if "waiting" in s["state"] and s["state"]["waiting"].get("reason") == "CrashLoopBackOff" and "waiting" not in was:
                self.event(obj, "BackOff", f"Back-off restarting failed container {s['name']} in pod {pod.name}", type_="Warning")
        new = copy.deepcopy(obj)
        new["status"] = new_status
        self.store.put("pods", new, "MODIFIED")

    def event(self, obj, reason, message, type_="Normal", component="kubelet"):
        ns = obj["metadata"]["namespace"]
        t = objects.now()
        micro = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{obj['metadata']['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns, "uid": str(uuid.uuid4()), "creationTimestamp": t},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "apiVersion": "v1"},
            "reason": reason,
            "message": message,
            "source": {"component": component, "host": "standin"} if component == "kubelet" else {},
            "firstTimestamp": t,
            "lastTimestamp": t,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "standin" if component == "kubelet" else "",
        }
        if component != "kubelet":
            ev["eventTime"] = micro
            ev["firstTimestamp"] = ev["lastTimestamp"] = None
            ev["action"] = "Binding"
        self.store.put("events", ev, "ADDED")

    async def delete(self, obj, grace):
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        current = self.store.get("pods", ns, name)
        if current is None:
            raise status.not_found("pods", name)
        if current["metadata"].get("deletionTimestamp"):
            return copy.deepcopy(current)
        try:
            grace = int(grace) if grace is not None else int(current["spec"].get("terminationGracePeriodSeconds", 30))
        except ValueError:
            raise status.bad_request(f"invalid gracePeriodSeconds {grace!r}")
        new = copy.deepcopy(current)
        new["metadata"]["deletionTimestamp"] = objects.now()
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        stored = self.store.put("pods", new, "MODIFIED")
        task = asyncio.ensure_future(self._terminate(stored, grace))
        self.terminating.add(task)
        task.add_done_callback(self.terminating.discard)
        return stored

    async def _terminate(self, obj, grace):
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        for c in obj["spec"]["containers"]:
            self.event(obj, "Killing", f"Stopping container {c['name']}")
        await self.runtime.stop(ns, name, grace)
        current = self.store.get("pods", ns, name)
        if current is not None and current["metadata"]["uid"] == obj["metadata"]["uid"]:
            self.store.delete("pods", ns, name)

    async def shutdown(self):
        await self.runtime.stop_all()

    # ---- subresources --------------------------------------------------------------------

    def _pod(self, target):
        obj = self.store.get("pods", target.namespace, target.name)
        if obj is None:
            raise status.not_found("pods", target.name)
        return obj

    def _container(self, obj, name):
        containers = [c["name"] for c in obj["spec"]["containers"]]
        if not name:
            name = (obj["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if not name:
            if len(containers) != 1:
                raise status.bad_request(
                    f"a container name must be specified for pod {obj['metadata']['name']}, choose one of: [{' '.join(containers)}]"
                )
            name = containers[0]
        if name not in containers:
            raise status.bad_request(f"container {name} is not valid for pod {obj['metadata']['name']}")
        pod = self.runtime.get(obj["metadata"]["namespace"], obj["metadata"]["name"])
        if pod is None:
            raise status.bad_request(f'container "{name}" in pod "{obj["metadata"]["name"]}" is not available')
        return pod, pod.containers[name]

    async def log(self, request, target, audit):
        obj = self._pod(target)
        q = request.query
        pod, container = self._container(obj, q.get("container"))
        if not container.log and "waiting" in container.state and not container.restarts:
            reason = container.state["waiting"].get("reason", "ContainerCreating")
            raise status.bad_request(f'container "{container.name}" in pod "{pod.name}" is waiting to start: {reason}')
        follow = q.get("follow") in ("true", "1")
        stamps = q.get("timestamps") in ("true", "1")
        queue = asyncio.Queue()
        if follow:
            container.followers.add(queue)
        chunks = list(container.log)
        since = q.get("sinceSeconds")
        if since:
            cutoff = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=int(since))).strftime("%Y-%m-%dT%H:%M:%S.%f")
            chunks = [c for c in chunks if c[0] >= cutoff]
        lines = _lines(chunks, stamps)
        if "tailLines" in q:
            n = int(q["tailLines"])
            lines = lines[-n:] if n > 0 else []
        body = b"".join(lines)
        if "limitBytes" in q:
            body = body[: int(q["limitBytes"])]
        if not follow:
            audit(200)
            return web.Response(body=body, content_type="text/plain")
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        audit(200)
        await response.prepare(request)
        try:
            await response.write(body)
            running = container.process is not None and container.process.proc is not None and container.process.proc.returncode is None
            while running:
                if request.transport is None or request.transport.is_closing():
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), 1)
                except asyncio.TimeoutError:
                    continue
                if item is None:
                    break
                await response.write(b"".join(_lines([(_now_nanos(), item[1])], stamps)))
        except ConnectionError:
            pass
        finally:
            container.followers.discard(queue)
        return response

    async def connect(self, request, target, audit):
        """exec, attach and portforward: WebSocket (GET) or SPDY/3.1 (POST) upgrades."""
        obj = self._pod(target)
        sub = target.subresource
        phase = (obj.get("status") or {}).get("phase")
        if sub in ("exec", "attach"):
            pod, container = self._container(obj, request.query.get("container"))
            if phase in ("Succeeded", "Failed"):
                raise status.bad_request(f"cannot {sub} into a container in a completed pod; current phase is {phase}")
            opts = remote.Options(request.query)
            argv = request.query.getall("command", [])
            if sub == "exec" and not argv:
                raise status.bad_request("you must specify at least 1 command")
            if sub == "exec":
                run = lambda channels: remote.run_exec(channels, self.runtime, pod, container, argv, opts)  # noqa: E731
            else:
                run = lambda channels: remote.run_attach(channels, container, opts)  # noqa: E731
        if request.headers.get("Upgrade", "").lower() == "websocket":
            protocols = PORTFORWARD_WS_PROTOCOLS if sub == "portforward" else chan.EXEC_PROTOCOLS
            ws = web.WebSocketResponse(protocols=protocols, autoping=True, max_msg_size=32 * 1024 * 1024)
            ready = ws.can_prepare(request)
            if not ready.ok or ready.protocol is None:
                offered = request.headers.get("Sec-WebSocket-Protocol", "")
                raise status.bad_request(f"unable to upgrade: unable to negotiate protocol: client supports [{offered}], server supports {protocols}")
            audit(101)
            await ws.prepare(request)
            if sub != "portforward":
                await run(chan.WebSocketChannels(ws))
            elif ws.ws_protocol.startswith("SPDY/"):
                await self._spdy_tunnel(ws, obj)
            else:
                ports = [int(p) for p in request.query.getall("ports", []) for p in p.split(",") if p]
                await portforward.websocket_forward(ws, obj, ports)
            return ws
        if chan.is_spdy_upgrade(request):
            supported = ["portforward.k8s.io"] if sub == "portforward" else chan.SPDY_EXEC_PROTOCOLS
            protocol = chan.negotiate_spdy(request, supported)
            if protocol is None:
                offered = request.headers.getall("X-Stream-Protocol-Version", [])
                raise status.bad_request(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server supports {supported}")
            audit(101)
            if sub == "portforward":
                forwarder = portforward.SpdyForwarder(obj)
                session = await chan.spdy_upgrade(request, protocol, forwarder.on_stream)
                await session.done
                forwarder.close()
            else:
                channels = chan.SpdyChannels()
                channels.expected = opts.channels()
                session = await chan.spdy_upgrade(request, protocol, channels.on_stream)
                channels.session = session
                waiter = asyncio.ensure_future(channels.ready.wait())
                await asyncio.wait([waiter, session.done], timeout=30, return_when=asyncio.FIRST_COMPLETED)
                if channels.ready.is_set() and not session.closed:
                    await run(channels)
                waiter.cancel()
            session.transport.close()
            raise Hijacked()
        raise status.bad_request("Upgrade request required")

    async def _spdy_tunnel(self, ws, obj):
        forwarder = portforward.SpdyForwarder(obj)
        session = spdy.Session(ws.send_bytes, forwarder.on_stream)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await session.feed(msg.data)
        finally:
            session.lost()
            forwarder.close()


class Hijacked(Exception):
    """The connection was taken over after a 101 answer: nothing more to write."""


def _now_nanos():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _lines(chunks, stamps):
    """Log chunks as lines, each prefixed with its RFC 3339 time when `stamps`."""
    if not stamps:
        return b"".join(d for _, d in chunks).splitlines(keepends=True)
    out = []
    pending = b""
    pending_ts = None
    for ts, data in chunks:
        for piece in data.splitlines(keepends=True):
            if pending_ts is None:
                pending_ts = ts
            pending += piece
            if piece.endswith(b"\n"):
                out.append(pending_ts.encode() + b" " + pending)
                pending, pending_ts = b"", None
    if pending:
        out.append(pending_ts.encode() + b" " + pending)
    return out
