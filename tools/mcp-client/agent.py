#!/usr/bin/env python3
"""Scripted "AI agent" MCP client for Ward integration tests.

Built on the official MCP Python SDK (`mcp` 2.3.0, see requirements.txt).

Usage:
  python3 agent.py http  --url https://127.0.0.1:PORT/mcp --key SECRET \
      [--ca-file ward-cert.pem | --insecure] [--no-verify-hostname] \
      [--on-behalf-of alice] [--expect-auth-failure] --plan PLAN.json
  python3 agent.py stdio --command "ward mcp --server https://... --key K --ca-cert F" \
      [--expect-auth-failure] --plan PLAN.json

PLAN.json is a JSON list of steps, executed in order inside ONE MCP session
(initialize once):
  {"list_tools": true}
  {"call": "TOOL", "args": {...}}
  {"wait_for": "PATH"}   (waits, at most 30 s, until the file PATH exists)

stdout gets one JSON line per step, then {"done": true, "session_id": ...}.
Exit codes: 0 ok; 1 --expect-auth-failure but the connection succeeded;
2 protocol/transport error (a {"step": i, "error": ...} or {"error": ...}
line is printed); 64 bad usage / bad plan.
HTTP exchanges are logged to stderr ("[agent] POST /mcp -> 200 ..."), never stdout.
"""

from __future__ import annotations

import os
import sys

# --- bootstrap: re-exec with the bundled venv if the SDK is not importable ----
try:  # pragma: no cover - environment dependent
    import mcp  # noqa: F401
except ImportError:  # pragma: no cover
    _here = os.path.dirname(os.path.abspath(__file__))
    _venv_py = os.path.join(_here, ".venv", "bin", "python")
    if os.path.exists(_venv_py) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(_here, ".venv")):
        os.execv(_venv_py, [_venv_py, os.path.abspath(__file__), *sys.argv[1:]])
    sys.stderr.write(
        "agent.py: the MCP SDK is not installed; run: pip install -r "
        f"{os.path.join(_here, 'requirements.txt')}\n"
    )
    sys.exit(3)

import argparse
import json
import logging
import shlex
import ssl
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx2  # the HTTP client library mcp>=2 is built on (fork/successor of httpx)
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

EXIT_OK = 0
EXIT_UNEXPECTED_SUCCESS = 1
EXIT_PROTOCOL_ERROR = 2
EXIT_USAGE = 64


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(f"[agent] {msg}\n")
    sys.stderr.flush()


def flatten_exc(exc: BaseException) -> list[BaseException]:
    """Unwrap (nested) ExceptionGroups raised by anyio task groups."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for sub in exc.exceptions:
            out.extend(flatten_exc(sub))
        return out
    return [exc]


def describe(exc: BaseException) -> str:
    parts = []
    for e in flatten_exc(exc):
        if isinstance(e, MCPError):
            parts.append(f"MCPError {e.code}: {e.message}")
        else:
            parts.append(f"{type(e).__name__}: {e}")
    return "; ".join(parts) or type(exc).__name__


class HttpObserver:
    """httpx2 event hooks: remember statuses, the Mcp-Session-Id and 401 bodies."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.statuses: list[int] = []
        self.auth_failure: dict[str, Any] | None = None

    @staticmethod
    def rpc_method(req: httpx2.Request) -> str:
        try:
            body = json.loads(req.content or b"null")
        except Exception:  # noqa: BLE001 - streaming/unreadable body
            return ""
        if isinstance(body, dict):
            m = body.get("method")
            return f" [{m}]" if m else (" [response]" if "id" in body else "")
        return ""

    async def on_response(self, response: httpx2.Response) -> None:
        req = response.request
        self.statuses.append(response.status_code)
        sid = response.headers.get("mcp-session-id")
        if sid:
            self.session_id = sid
        log(
            f"{req.method} {req.url.path}{self.rpc_method(req)} -> {response.status_code} "
            f"({response.headers.get('content-type', '-')})"
            + (f" mcp-session-id={sid}" if sid else "")
        )
        if response.status_code == 401 and self.auth_failure is None:
            body = ""
            try:
                body = (await response.aread()).decode("utf-8", "replace")
            except Exception as e:  # noqa: BLE001
                body = f"<unreadable body: {e}>"
            self.auth_failure = {
                "status": 401,
                "www_authenticate": response.headers.get("www-authenticate"),
                "body": body[:2000],
            }


def build_ssl_context(args: argparse.Namespace) -> ssl.SSLContext:
    if args.insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if args.ca_file:
        ctx = ssl.create_default_context(cafile=args.ca_file)
    else:
        ctx = ssl.create_default_context()
    if args.no_verify_hostname:
        ctx.check_hostname = False
    return ctx


def load_plan(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
        plan = json.load(f)
    if not isinstance(plan, list) or not all(isinstance(s, dict) for s in plan):
        raise ValueError("plan must be a JSON list of objects")
    for i, step in enumerate(plan):
        if not (step.get("list_tools") or "call" in step or "wait_for" in step):
            raise ValueError(
                f"step {i}: expected {{'list_tools': true}}, {{'call': NAME, 'args': {{...}}}} or {{'wait_for': PATH}}"
            )
    return plan


def result_text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content if getattr(block, "type", None) == "text")


async def run_step(client: Client, i: int, step: dict[str, Any], timeout: float) -> dict[str, Any]:
    if "wait_for" in step:
        with anyio.fail_after(30):
            while not os.path.exists(step["wait_for"]):
                await anyio.sleep(0.05)
        return {"step": i, "waited": step["wait_for"]}
    if step.get("list_tools"):
        tools = []
        cursor = None
        for _ in range(100):  # pagination guard
            res = await client.list_tools(cursor=cursor) if cursor else await client.list_tools()
            for t in res.tools:
                tools.append({"name": t.name, "description": t.description, "inputSchema": t.input_schema})
            cursor = res.next_cursor
            if not cursor:
                break
        return {"step": i, "tools": tools}
    name = step["call"]
    arguments = step.get("args") or {}
    res = await client.call_tool(name, arguments, read_timeout_seconds=timeout)
    return {
        "step": i,
        "tool": name,
        "is_error": bool(res.is_error),
        "text": result_text(res),
        "structured": res.structured_content,
    }


async def amain(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.plan) if args.plan else []
    except (OSError, ValueError) as e:
        emit({"error": f"bad plan: {e}"})
        return EXIT_USAGE

    observer = HttpObserver() if args.transport == "http" else None

    async with AsyncExitStack() as stack:
        if args.transport == "http":
            headers = {"Authorization": f"Bearer {args.key}"}
            if args.on_behalf_of:
                headers["X-Ward-On-Behalf-Of"] = args.on_behalf_of
            http_client = httpx2.AsyncClient(
                headers=headers,
                verify=build_ssl_context(args),
                timeout=httpx2.Timeout(args.timeout, read=args.timeout),
                trust_env=False,  # never route 127.0.0.1 through an env proxy
                event_hooks={"response": [observer.on_response]},
            )
            await stack.enter_async_context(http_client)
            # terminate_on_close=True -> SDK sends DELETE /mcp with Mcp-Session-Id on exit.
            transport = streamable_http_client(args.url, http_client=http_client, terminate_on_close=True)
        else:
            argv = shlex.split(args.command)
            if not argv:
                emit({"error": "empty --command"})
                return EXIT_USAGE
            params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
            transport = stdio_client(params)

        # mode="legacy": classic initialize handshake (no 2026 `server/discover` probe);
        # cache=None: every list_tools really goes to the server.
        client = Client(transport, mode="legacy", cache=None, read_timeout_seconds=args.timeout)

        # ---- connect + initialize, run the plan, close -----------------------
        # Note: Client must be entered/exited with `async with` in one task and
        # no foreign cancel scope around __aenter__ alone (anyio task-group rule).
        state: dict[str, Any] = {"initialized": False, "rc": EXIT_OK}
        try:
            with anyio.fail_after(args.timeout * (len(plan) + 3)):  # overall hard cap
                async with client:
                    state["initialized"] = True
                    if args.expect_auth_failure:
                        log("initialize unexpectedly succeeded")
                        emit({
                            "auth_failed": False,
                            "status": observer.statuses[0] if observer and observer.statuses else None,
                            "message": "initialize unexpectedly succeeded",
                            "session_id": observer.session_id if observer else None,
                        })
                        state["rc"] = EXIT_UNEXPECTED_SUCCESS
                    else:
                        info = client.server_info
                        log(
                            f"initialized: protocol={client.protocol_version} "
                            f"server={getattr(info, 'name', None)} {getattr(info, 'version', None)}"
                        )
                        for i, step in enumerate(plan):
                            try:
                                with anyio.fail_after(args.timeout):
                                    out = await run_step(client, i, step, args.timeout)
                            except Exception as exc:  # noqa: BLE001
                                emit({"step": i, "error": describe(exc)})
                                state["rc"] = EXIT_PROTOCOL_ERROR
                                break
                            emit(out)
                # leaving `async with client` closes the session; for HTTP the SDK
                # sends DELETE /mcp with the Mcp-Session-Id header.
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            msg = describe(exc)
            if state["initialized"]:
                log(f"session error/close failed: {msg}")
                if state["rc"] == EXIT_OK:
                    emit({"error": f"session error: {msg}"})
                    state["rc"] = EXIT_PROTOCOL_ERROR
                return state["rc"]
            status = None
            if observer is not None and observer.auth_failure is not None:
                status = 401
                af = observer.auth_failure
                msg = f"{msg}; body={af['body']!r}" + (
                    f"; www-authenticate={af['www_authenticate']!r}" if af["www_authenticate"] else ""
                )
            elif observer is None and "401" in msg:
                status = 401
            if args.expect_auth_failure and (
                status == 401 or (observer is None and any(w in msg.lower() for w in ("unauthori", "auth")))
            ):
                emit({"auth_failed": True, "status": status, "message": msg})
                return EXIT_OK
            emit({"step": None, "error": f"initialize failed: {msg}"})
            return EXIT_PROTOCOL_ERROR

        if state["rc"] == EXIT_OK:
            emit({"done": True, "session_id": observer.session_id if observer else None})
        return state["rc"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Scripted MCP agent for Ward integration tests")
    sub = p.add_subparsers(dest="transport", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--plan", help="JSON plan file ('-' for stdin); optional with --expect-auth-failure")
        sp.add_argument("--expect-auth-failure", action="store_true",
                        help="succeed (exit 0) only if connecting/initializing fails with HTTP 401")
        sp.add_argument("--timeout", type=float, default=60.0, help="per-operation timeout, seconds (default 60)")

    h = sub.add_parser("http", help="Streamable HTTP transport")
    h.add_argument("--url", required=True)
    h.add_argument("--key", required=True, help="sent as 'Authorization: Bearer KEY' on every request")
    tls = h.add_mutually_exclusive_group()
    tls.add_argument("--ca-file", help="PEM file to verify the server certificate against")
    tls.add_argument("--insecure", action="store_true", help="disable TLS verification")
    h.add_argument("--no-verify-hostname", action="store_true",
                   help="verify the chain against --ca-file but not the hostname/IP SAN")
    h.add_argument("--on-behalf-of", help="sent as 'X-Ward-On-Behalf-Of: NAME'")
    common(h)

    s = sub.add_parser("stdio", help="stdio transport (spawns --command)")
    s.add_argument("--command", required=True, help="server command line, split with shlex")
    common(s)

    args = p.parse_args(argv)
    if not args.plan and not args.expect_auth_failure:
        p.error("--plan is required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[sdk] %(levelname)s %(name)s: %(message)s")
    return anyio.run(amain, args)


if __name__ == "__main__":
    sys.exit(main())
