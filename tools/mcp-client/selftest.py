#!/usr/bin/env python3
"""Self-test for agent.py against a tiny MCP server built with the same SDK.

    python3 selftest.py            # run all checks, exit non-zero on any failure

Internal sub-commands (spawned by the test itself):
    python3 selftest.py serve-stdio
    python3 selftest.py serve-http --port P --cert C --keyfile K --token T --log L [--sse]

The server uses MCPServer (mcp 2.x's name for FastMCP) and exposes
list_resources, query(resource, sql, params) and note(text).
"""

from __future__ import annotations

import os
import sys

try:  # same venv bootstrap as agent.py
    import mcp  # noqa: F401
except ImportError:  # pragma: no cover
    _here = os.path.dirname(os.path.abspath(__file__))
    _venv_py = os.path.join(_here, ".venv", "bin", "python")
    if os.path.exists(_venv_py) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(_here, ".venv")):
        os.execv(_venv_py, [_venv_py, os.path.abspath(__file__), *sys.argv[1:]])
    sys.stderr.write("selftest.py: MCP SDK not installed (pip install -r requirements.txt)\n")
    sys.exit(3)

import argparse
import datetime
import ipaddress
import json
import shlex
import socket
import subprocess
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "agent.py")
PY = sys.executable


# --------------------------------------------------------------------------- server
def build_server():
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.shared.exceptions import MCPError

    server = MCPServer("selftest-ward")

    @server.tool()
    def list_resources() -> list[dict[str, str]]:
        """List the resources this gateway exposes."""
        return [{"name": "shop", "kind": "postgres"}, {"name": "crm", "kind": "mysql"}]

    @server.tool()
    def query(resource: str, sql: str, params: list[str | None] = []) -> dict[str, Any]:  # noqa: B006
        """Run a SQL query against a resource."""
        if "drop" in sql.lower():
            raise ToolError(f"denied: policy forbids DDL on {resource}")
        return {"columns": ["?column?", "n_params"], "rows": [[1, len(params)]], "resource": resource}

    @server.tool()
    def protocol_error() -> str:
        """Fails with a JSON-RPC error (not an is_error result)."""
        raise MCPError(code=-32602, message="simulated protocol error")

    @server.tool()
    def note(text: str) -> str:
        """Record a note in the audit log."""
        return f"noted: {text}"

    return server


def serve_stdio() -> None:
    build_server().run("stdio")


def serve_http(args: argparse.Namespace) -> None:
    import uvicorn

    app = build_server().streamable_http_app(json_response=not args.sse, host="127.0.0.1")
    expected = f"Bearer {args.token}".encode()

    def record(entry: dict[str, Any]) -> None:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    async def auth_app(scope, receive, send):  # pure ASGI middleware
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = dict(scope["headers"])
        record({
            "method": scope["method"],
            "path": scope["path"],
            "auth_ok": headers.get(b"authorization") == expected,
            "on_behalf_of": headers.get(b"x-ward-on-behalf-of", b"").decode() or None,
            "session": headers.get(b"mcp-session-id", b"").decode() or None,
        })
        if not args.sse and scope["method"] == "GET":  # behave like Ward: no GET SSE stream
            await send({"type": "http.response.start", "status": 405, "headers": [
                (b"allow", b"POST, DELETE"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if headers.get(b"authorization") != expected:
            body = json.dumps({"error": "unauthorized"}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="ward"'),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        return await app(scope, receive, send)

    uvicorn.run(auth_app, host="127.0.0.1", port=args.port, ssl_certfile=args.cert, ssl_keyfile=args.keyfile,
                log_level="warning", lifespan="on")


# --------------------------------------------------------------------------- helpers
def make_cert(dirname: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ward-selftest")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(dirname, "cert.pem"), os.path.join(dirname, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start listening")


FAILURES: list[str] = []


def check(cond: bool, what: str) -> None:
    print(("  ok   " if cond else "  FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def run_agent(argv: list[str], timeout: float = 90.0) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run([PY, AGENT, *argv], capture_output=True, text=True, timeout=timeout)
    lines = []
    for line in proc.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            lines.append({"_unparsable": line})
    return proc.returncode, lines, proc.stderr


PLAN = [
    {"list_tools": True},
    {"call": "note", "args": {"text": "hello from the agent"}},
    {"call": "query", "args": {"resource": "shop", "sql": "select 1", "params": ["a", None]}},
    {"call": "query", "args": {"resource": "shop", "sql": "DROP TABLE users", "params": []}},
    {"call": "list_resources", "args": {}},
]


def check_plan_output(label: str, rc: int, lines: list[dict[str, Any]], stderr: str, expect_session: bool) -> None:
    check(rc == 0, f"{label}: exit code 0 (got {rc})")
    if rc != 0:
        print("    stdout:", json.dumps(lines)[:2000])
        print("    stderr:", stderr[-3000:])
    check(len(lines) == len(PLAN) + 1, f"{label}: {len(PLAN) + 1} JSON lines (got {len(lines)})")
    if len(lines) < len(PLAN) + 1:
        return
    tools = {t["name"]: t for t in lines[0].get("tools", [])}
    check(lines[0].get("step") == 0 and {"list_resources", "query", "note"} <= set(tools),
          f"{label}: list_tools lists list_resources/query/note")
    check(all(set(t) == {"name", "description", "inputSchema"} for t in tools.values())
          and tools.get("query", {}).get("inputSchema", {}).get("type") == "object"
          and "sql" in tools.get("query", {}).get("inputSchema", {}).get("properties", {}),
          f"{label}: tool entries have name/description/inputSchema")
    n = lines[1]
    check(n.get("step") == 1 and n.get("tool") == "note" and n.get("is_error") is False
          and n.get("text") == "noted: hello from the agent", f"{label}: note call ok")
    q = lines[2]
    check(q.get("step") == 2 and q.get("is_error") is False and isinstance(q.get("structured"), dict)
          and q["structured"].get("columns") == ["?column?", "n_params"] and q["structured"].get("rows") == [[1, 2]]
          and '"rows"' in q.get("text", ""), f"{label}: query returns structured columns/rows")
    d = lines[3]
    check(d.get("step") == 3 and d.get("is_error") is True and "denied" in d.get("text", ""),
          f"{label}: denied query flagged is_error=true with message")
    r = lines[4]
    check(r.get("is_error") is False and isinstance(r.get("structured"), dict)
          and r["structured"].get("result", [{}])[0].get("name") == "shop", f"{label}: list_resources structured")
    done = lines[5]
    check(done.get("done") is True, f"{label}: done line")
    if expect_session:
        check(isinstance(done.get("session_id"), str) and len(done["session_id"]) > 0,
              f"{label}: session_id reported ({done.get('session_id')})")
    else:
        check("session_id" in done and done["session_id"] is None, f"{label}: session_id null")


def read_log(path: str) -> list[dict[str, Any]]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def http_suite(tmp: str, cert: str, key: str, plan_path: str, sse: bool) -> None:
    label = "http+sse" if sse else "http+json"
    port, token = free_port(), "s3cret-token"
    log_path = os.path.join(tmp, f"http-{label}.log")
    cmd = [PY, os.path.abspath(__file__), "serve-http", "--port", str(port), "--cert", cert, "--keyfile", key,
           "--token", token, "--log", log_path] + (["--sse"] if sse else [])
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"srv-{label}.err"), "w"))
    try:
        wait_port(port, srv)
        url = f"https://127.0.0.1:{port}/mcp"
        print(f"[{label}] server on {url}")

        rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--ca-file", cert,
                                    "--on-behalf-of", "alice", "--plan", plan_path])
        for ln in lines:
            print("    " + json.dumps(ln)[:300])
        check_plan_output(f"{label} --ca-file", rc, lines, err, expect_session=True)
        entries = read_log(log_path)
        check(len(entries) > 0 and all(e["auth_ok"] for e in entries), f"{label}: Bearer header on every request")
        check(all(e["on_behalf_of"] == "alice" for e in entries), f"{label}: X-Ward-On-Behalf-Of on every request")
        sid = lines[-1].get("session_id") if lines else None
        check(any(e["method"] == "DELETE" and e["session"] == sid for e in entries),
              f"{label}: DELETE /mcp with Mcp-Session-Id sent at close")
        check(all(e["session"] == sid for e in entries[1:] if e["method"] == "POST"),
              f"{label}: Mcp-Session-Id echoed on every POST after initialize")

        if not sse:
            rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--insecure", "--plan", plan_path])
            check(rc == 0 and lines and lines[-1].get("done") is True, f"{label} --insecure: ok")

            rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--plan", plan_path, "--timeout", "15"])
            check(rc == 2 and lines and "error" in lines[-1] and "CERTIFICATE" in json.dumps(lines).upper(),
                  f"{label} no CA: fails with certificate error, exit 2 (rc={rc}, {json.dumps(lines)[:200]})")

            rc, lines, err = run_agent(["http", "--url", url, "--key", "wrong-key", "--ca-file", cert,
                                        "--expect-auth-failure"])
            print("    " + json.dumps(lines)[:300])
            check(rc == 0 and len(lines) == 1 and lines[0].get("auth_failed") is True and lines[0].get("status") == 401,
                  f"{label} --expect-auth-failure with wrong key -> auth_failed 401, exit 0")

            rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--ca-file", cert,
                                        "--expect-auth-failure"])
            check(rc == 1 and lines and lines[0].get("auth_failed") is False,
                  f"{label} --expect-auth-failure with right key -> exit 1 (rc={rc})")

            rc, lines, err = run_agent(["http", "--url", url, "--key", "wrong-key", "--ca-file", cert,
                                        "--plan", plan_path])
            check(rc == 2 and lines and "error" in lines[-1], f"{label} wrong key without flag -> exit 2")

            bad_plan = os.path.join(tmp, "bad-plan.json")
            with open(bad_plan, "w") as f:
                json.dump([{"call": "note", "args": {"text": "x"}}, {"call": "no_such_tool", "args": {}},
                           {"call": "note", "args": {"text": "never"}}], f)
            rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--ca-file", cert, "--plan", bad_plan])
            print("    " + json.dumps(lines)[:400])
            # MCPServer reports an unknown tool as an is_error result (not a JSON-RPC error), so the run continues.
            check(rc == 0 and lines[1].get("is_error") is True and lines[-1].get("done") is True,
                  f"{label}: unknown tool -> is_error result, run continues (rc={rc})")

            open(log_path, "w").close()
            with open(bad_plan, "w") as f:
                json.dump([{"call": "note", "args": {"text": "x"}}, {"call": "protocol_error", "args": {}},
                           {"call": "note", "args": {"text": "never"}}], f)
            rc, lines, err = run_agent(["http", "--url", url, "--key", token, "--ca-file", cert, "--plan", bad_plan])
            print("    " + json.dumps(lines)[:400])
            check(rc == 2 and len(lines) == 2 and lines[1].get("step") == 1 and "error" in lines[1]
                  and "simulated protocol error" in lines[1]["error"],
                  f"{label}: JSON-RPC error on tools/call -> step error line, exit 2 (rc={rc})")
            check(any(e["method"] == "DELETE" for e in read_log(log_path)),
                  f"{label}: DELETE still sent after a protocol error")
            print("    agent stderr:\n" + "\n".join("      " + x for x in err.splitlines()[:20]))
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()


def stdio_suite(plan_path: str) -> None:
    command = f"{shlex.quote(PY)} {shlex.quote(os.path.abspath(__file__))} serve-stdio"
    rc, lines, err = run_agent(["stdio", "--command", command, "--plan", plan_path])
    print("[stdio]")
    for ln in lines:
        print("    " + json.dumps(ln)[:300])
    check_plan_output("stdio", rc, lines, err, expect_session=False)

    rc, lines, err = run_agent(["stdio", "--command", "/nonexistent/ward mcp", "--plan", plan_path])
    check(rc == 2 and lines and "error" in lines[-1], f"stdio: missing binary -> exit 2 (rc={rc})")


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("serve-stdio")
    h = sub.add_parser("serve-http")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--cert", required=True)
    h.add_argument("--keyfile", required=True)
    h.add_argument("--token", required=True)
    h.add_argument("--log", required=True)
    h.add_argument("--sse", action="store_true")
    args = p.parse_args()
    if args.cmd == "serve-stdio":
        serve_stdio()
        return 0
    if args.cmd == "serve-http":
        serve_http(args)
        return 0

    with tempfile.TemporaryDirectory(prefix="mcp-agent-selftest-") as tmp:
        cert, key = make_cert(tmp)
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w") as f:
            json.dump(PLAN, f)
        http_suite(tmp, cert, key, plan_path, sse=False)
        http_suite(tmp, cert, key, plan_path, sse=True)
        stdio_suite(plan_path)

    if FAILURES:
        print(f"\nSELFTEST FAILED: {len(FAILURES)} check(s)")
        for f in FAILURES:
            print("  - " + f)
        return 1
    print("\nSELFTEST PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
