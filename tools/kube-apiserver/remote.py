"""exec and attach, whatever carries the channels: a command run in the pod's directory (with
a pty for `tty=true`), or the container's main process, with stdin, stdout, stderr, resize, and
the exit status on the error channel as the kubelet writes it."""

import asyncio
import json

from channels import ERROR, RESIZE, STDERR, STDIN, STDOUT, resizes


def exit_status(code, argv):
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command [{' '.join(argv)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure(message):
    return {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


class Options:
    def __init__(self, query):
        def flag(name, default=False):
            value = query.get(name)
            return default if value is None else value.lower() in ("1", "true")

        self.stdin = flag("stdin")
        self.stdout = flag("stdout", True)
        self.stderr = flag("stderr", True)
        self.tty = flag("tty")
        if self.tty:
            self.stderr = False

    def channels(self, spdy=True):
        """The stream types a SPDY client opens for these options."""
        wanted = {ERROR}
        if self.stdin:
            wanted.add(STDIN)
        if self.stdout:
            wanted.add(STDOUT)
        if self.stderr:
            wanted.add(STDERR)
        if self.tty:
            wanted.add(RESIZE)
        return wanted


async def _inputs(channels, on_stdin, on_eof, on_resize):
    while True:
        channel, data = await channels.inputs.get()
        if channel is None:
            return
        if channel == STDIN:
            if data:
                await on_stdin(data)
            else:
                on_eof()
        elif channel == RESIZE:
            for width, height in resizes(data):
                on_resize(width, height)


async def _outputs(channels, queue, opts):
    while True:
        item = await queue.get()
        if item is None:
            return
        stream, data = item
        if stream == "stdout" and opts.stdout:
            await channels.send(STDOUT, data)
        elif stream == "stderr" and opts.stderr:
            await channels.send(STDERR, data)


async def run_exec(channels, runtime, pod, container, argv, opts):
    out = asyncio.Queue()
    try:
        proc = await runtime.exec(pod, container, argv, opts.tty, opts.stdin, lambda s, d: out.put_nowait((s, d)))
    except OSError as e:
        why = f'exec: "{argv[0]}": executable file not found in $PATH' if isinstance(e, FileNotFoundError) else str(e)
        message = (
            "Internal error occurred: error executing command in container: failed to exec in "
            f"container: failed to start exec: OCI runtime exec failed: exec failed: unable to start "
            f"container process: {why}: unknown"
        )
        await channels.send(ERROR, json.dumps(failure(message)).encode())
        await channels.finish()
        return
    writer = asyncio.ensure_future(_outputs(channels, out, opts))
    reader = asyncio.ensure_future(_inputs(channels, proc.write, proc.close_stdin, proc.resize))
    try:
        code = await proc.wait()
        out.put_nowait(None)
        await writer
        await channels.send(ERROR, json.dumps(exit_status(code, argv)).encode())
    finally:
        reader.cancel()
        writer.cancel()
        runtime.exec_done(pod, proc)
        await channels.finish()


async def run_attach(channels, container, opts):
    out = asyncio.Queue()
    container.followers.add(out)
    process = container.process

    async def stdin(data):
        if container.process:
            await container.process.write(data)

    def eof():
        if container.process:
            container.process.close_stdin()

    def resize(width, height):
        if container.process:
            container.process.resize(width, height)

    writer = asyncio.ensure_future(_outputs(channels, out, opts))
    reader = asyncio.ensure_future(_inputs(channels, stdin, eof, resize))
    try:
        if process is None or process.proc is None or process.proc.returncode is not None:
            await channels.send(ERROR, json.dumps(failure(f"container {container.name} is not running")).encode())
            return
        await asyncio.wait([writer, reader], return_when=asyncio.FIRST_COMPLETED)
        if writer.done():
            await channels.send(ERROR, json.dumps(exit_status(0, [])).encode())
    finally:
        container.followers.discard(out)
        reader.cancel()
        writer.cancel()
        await channels.finish()
