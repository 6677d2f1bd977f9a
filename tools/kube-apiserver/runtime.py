"""Pods that "run" on this machine: each pod has a working directory (a temporary directory),
each container's command runs there as a local process in its own process group (with a pty when
the container asks for `tty`), its output is the container's log, and `exec` runs further
commands in the same directory. Processes are killed when their pod is deleted and when the
stand-in stops; on Linux each also gets SIGKILL if the stand-in dies.

This runs whatever command a pod names, as the stand-in's own user: it is a test peer for a
loopback-only API server whose tokens the test chose, not a sandbox."""

import asyncio
import base64
import ctypes
import datetime
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios

LOG_LIMIT = 8 * 1024 * 1024
_PR_SET_PDEATHSIG = 1


def timestamp(nanos=False):
    t = datetime.datetime.now(datetime.timezone.utc)
    if nanos:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _child_setup(tty):
    def setup():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        if tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return setup


class Process:
    """One local process with its stdio as channels: output goes to `sink(stream, bytes)`
    ('stdout' or 'stderr'; a pty's output is all 'stdout')."""

    def __init__(self, argv, cwd, env, tty, stdin, sink):
        self.argv, self.cwd, self.env, self.tty, self.stdin = argv, cwd, env, tty, stdin
        self.sink = sink
        self.proc = None
        self.master = None
        self._readers = []
        self._stdin_closed = False

    async def start(self):
        loop = asyncio.get_running_loop()
        if self.tty:
            self.master, slave = pty.openpty()
            self.resize(80, 24)
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.argv, cwd=self.cwd, env=self.env, stdin=slave, stdout=slave, stderr=slave,
                    start_new_session=True, preexec_fn=_child_setup(True),
                )
            finally:
                os.close(slave)
            os.set_blocking(self.master, False)
            done = loop.create_future()

            def readable():
                try:
                    data = os.read(self.master, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if data:
                    self.sink("stdout", data)
                else:
                    loop.remove_reader(self.master)
                    if not done.done():
                        done.set_result(None)

            loop.add_reader(self.master, readable)
            self._readers = [done]
        else:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, env=self.env,
                stdin=asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, preexec_fn=_child_setup(False),
            )
            self._readers = [
                asyncio.ensure_future(self._pump(self.proc.stdout, "stdout")),
                asyncio.ensure_future(self._pump(self.proc.stderr, "stderr")),
            ]

    async def _pump(self, pipe, stream):
        while True:
            data = await pipe.read(65536)
            if not data:
                return
            self.sink(stream, data)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    async def write(self, data):
        if self.tty and self.master is not None:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self.master, view)
                    view = view[n:]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                except OSError:
                    return
        elif self.proc and self.proc.stdin and not self._stdin_closed:
            try:
                self.proc.stdin.write(data)
                await self.proc.stdin.drain()
            except (ConnectionError, OSError):
                pass

    def close_stdin(self):
        if self.tty:
            return
        if self.proc and self.proc.stdin and not self._stdin_closed:
            self._stdin_closed = True
            try:
                self.proc.stdin.close()
            except (ConnectionError, OSError):
                pass

    def resize(self, width, height):
        if self.master is not None:
            try:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
            except OSError:
                pass

    async def wait(self):
        """The exit code, once the process has exited and its output is drained."""
        code = await self.proc.wait()
        if self.tty:
            try:
                await asyncio.wait_for(self._readers[0], 2)
            except asyncio.TimeoutError:
                pass
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = None
        else:
            await asyncio.gather(*self._readers)
        return code if code >= 0 else 128 - code

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass


class Container:
    """A pod's container: its main process (restarted per the pod's restartPolicy), its log,
    and whoever is attached to it."""

    def __init__(self, pod, spec):
        self.pod = pod
        self.spec = spec
        self.name = spec["name"]
        self.log = []  # (timestamp, bytes)
        self.log_size = 0
        self.followers = set()  # asyncio.Queue of (stream, bytes) or None at exit
        self.process = None
        self.restarts = 0
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.task = None

    def argv(self):
        argv = list(self.spec.get("command") or []) + list(self.spec.get("args") or [])
        return argv or ["sleep", "infinity"]

    def sink(self, stream, data):
        self.log.append((timestamp(nanos=True), data))
        self.log_size += len(data)
        while self.log_size > LOG_LIMIT and len(self.log) > 1:
            self.log_size -= len(self.log.pop(0)[1])
        for q in list(self.followers):
            q.put_nowait((stream, data))

    async def run(self):
        policy = self.pod.obj["spec"].get("restartPolicy", "Always")
        backoff = 1
        while True:
            self.process = Process(
                self.argv(), self.pod.cwd(self.spec), self.pod.env(self.spec),
                bool(self.spec.get("tty")), bool(self.spec.get("stdin")), self.sink,
            )
            started = timestamp()
            try:
                await self.process.start()
            except OSError as e:
                code, reason, message = 128, "StartError", f"failed to start container: {e}"
            else:
                self.state = {"running": {"startedAt": started}}
                self.pod.changed()
                code = await self.process.wait()
                reason, message = ("Completed" if code == 0 else "Error"), None
            for q in list(self.followers):
                q.put_nowait(None)
            terminated = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": timestamp()}
            if message:
                terminated["message"] = message
            self.state = {"terminated": terminated}
            if self.pod.stopping or policy == "Never" or (policy == "OnFailure" and code == 0):
                self.pod.changed()
                return
            self.last_state = self.state
            self.state = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {backoff}s restarting failed container={self.name} pod={self.pod.name}"}}
            self.pod.changed()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30)
            self.restarts += 1

    def status(self):
        running = "running" in self.state
        image = self.spec.get("image", "")
        out = {
            "name": self.name,
            "image": image,
            "imageID": f"standin://{image}",
            "ready": running,
            "started": running,
            "restartCount": self.restarts,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.process and self.process.pid:
            out["containerID"] = f"standin://{self.process.pid}"
        return out


class Pod:
    def __init__(self, runtime, obj, directory):
        self.runtime = runtime
        self.obj = obj
        self.name = obj["metadata"]["name"]
        self.namespace = obj["metadata"]["namespace"]
        self.dir = directory
        self.stopping = False
        self.containers = {c["name"]: Container(self, c) for c in obj["spec"]["containers"]}
        self.started = timestamp()

    def cwd(self, spec):
        sub = (spec.get("workingDir") or "").lstrip("/")
        path = os.path.join(self.dir, sub) if sub else self.dir
        os.makedirs(path, exist_ok=True)
        return path

    def env(self, spec):
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": self.dir,
            "HOSTNAME": self.name,
            "LANG": "C.UTF-8",
        }
        if spec.get("tty"):
            env["TERM"] = "xterm"
        for item in spec.get("env") or []:
            value = item.get("value")
            source = item.get("valueFrom") or {}
            if "fieldRef" in source:
                path = source["fieldRef"].get("fieldPath", "")
                value = {"metadata.name": self.name, "metadata.namespace": self.namespace, "status.podIP": "127.0.0.1"}.get(path, "")
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
                resource = "configmaps" if "configMapKeyRef" in source else "secrets"
                obj = self.runtime.lookup(resource, self.namespace, ref.get("name"))
                raw = ((obj or {}).get("data") or {}).get(ref.get("key"), "")
                value = base64.b64decode(raw).decode(errors="replace") if resource == "secrets" else raw
            env[item["name"]] = value or ""
        return env

    def changed(self):
        self.runtime.publish(self)

    def status(self):
        statuses = [c.status() for c in self.containers.values()]
        all_done = all("terminated" in c.state for c in self.containers.values())
        if self.stopping or not all_done:
            phase = "Running" if any("running" in c.state or c.restarts for c in self.containers.values()) else "Pending"
        else:
            phase = "Succeeded" if all(c.state["terminated"]["exitCode"] == 0 for c in self.containers.values()) else "Failed"
        ready = "True" if statuses and all(s["ready"] for s in statuses) else "False"
        t = self.started
        conditions = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None, "lastTransitionTime": t},
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": t},
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": t},
            {"type": "ContainersReady", "status": ready, "lastProbeTime": None, "lastTransitionTime": t},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": t},
        ]
        return {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.started,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }

    async def stop(self, grace):
        self.stopping = True
        procs = [c.process for c in self.containers.values() if c.process]
        for p in procs:
            p.kill(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + grace
        while any(p.proc and p.proc.returncode is None for p in procs):
            if asyncio.get_running_loop().time() > deadline:
                for p in procs:
                    p.kill(signal.SIGKILL)
                break
            await asyncio.sleep(0.05)
        for c in self.containers.values():
            if c.task:
                c.task.cancel()
        for p in list(self.runtime.execs.get(self.key(), ())):
            p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self):
        return (self.namespace, self.name)


class Runtime:
    """All running pods. `publish(pod)` is called with a pod whose status changed;
    `lookup(resource, namespace, name)` reads an object (for env from configmaps/secrets)."""

    def __init__(self, root, publish, lookup):
        self.root = root
        self.pods = {}
        self.execs = {}  # pod key -> set of exec Processes
        self.publish = publish
        self.lookup = lookup

    def start(self, obj):
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        directory = os.path.join(self.root, f"{key[0]}_{key[1]}_{obj['metadata']['uid'][:8]}")
        os.makedirs(directory, exist_ok=True)
        pod = Pod(self, obj, directory)
        self.pods[key] = pod
        for c in pod.containers.values():
            c.task = asyncio.ensure_future(c.run())
        obj["spec"]["nodeName"] = "standin"
        return pod

    def get(self, namespace, name):
        return self.pods.get((namespace, name))

    async def stop(self, namespace, name, grace):
        pod = self.pods.pop((namespace, name), None)
        if pod:
            await pod.stop(grace)

    async def stop_all(self):
        await asyncio.gather(*(self.stop(ns, n, 0) for ns, n in list(self.pods)))

    async def exec(self, pod, container, argv, tty, stdin, sink):
        env = pod.env(container.spec)
        if tty:
            env.setdefault("TERM", "xterm")
        proc = Process(argv, pod.cwd(container.spec), env, tty, stdin, sink)
        await proc.start()
        self.execs.setdefault(pod.key(), set()).add(proc)
        return proc

    def exec_done(self, pod, proc):
        self.execs.get(pod.key(), set()).discard(proc)
