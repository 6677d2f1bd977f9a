"""Ward's stand-in Kubernetes API server: HTTPS on loopback, bearer tokens, impersonation, an
audit line per request, and `/api/v1` namespaces, pods, secrets, configmaps and events, with pods
that run as local processes (logs, exec, attach, cp, port-forward). See README.md for what it
leaves out.

    python server.py --cert CERT --key KEY --port 0 --token alice=TOKEN [--token ...]
        [--impersonator NAME] [--read-only NAME] [--audit FILE] [--state-dir DIR]

Prints one JSON line, {"port": N, "address": "127.0.0.1:N"}, once it serves; stops on SIGTERM
(killing every pod's processes)."""

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

from aiohttp import web

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import discovery  # noqa: E402
import objects  # noqa: E402
import status  # noqa: E402
from api import Api, json_response  # noqa: E402
from discovery import RESOURCES  # noqa: E402
from pods import Hijacked, PodHooks  # noqa: E402
from store import Store  # noqa: E402

READ_VERBS = {"get", "list", "watch"}
# What the real server lets anyone read (system:public-info-viewer).
PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}


@dataclass
class Target:
    """What a request addresses, parsed from its path and method."""

    verb: str
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


def parse_target(request):
    path = request.path
    method = request.method
    if not path.startswith("/api/v1/"):
        return Target(verb=method.lower(), path=path)
    parts = [p for p in path[len("/api/v1/"):].split("/") if p]
    namespace = ""
    if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] in RESOURCES and parts[2] != "namespaces":
        namespace = parts[1]
        parts = parts[2:]
    if not parts or parts[0] not in RESOURCES or len(parts) > 3:
        raise status.ApiError(404, "NotFound", "the server could not find the requested resource", {})
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    r = RESOURCES[resource]
    if r.namespaced and name and not namespace:
        raise status.ApiError(404, "NotFound", "the server could not find the requested resource", {})
    if sub and sub not in r.subresources:
        raise status.ApiError(404, "NotFound", "the server could not find the requested resource", {})
    watch = request.query.get("watch") in ("1", "true")
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
    return Target(verb, resource, sub, namespace, name, path)


class Identity:
    def __init__(self, user, groups, impersonated=None, impersonated_groups=None):
        self.user = user
        self.groups = groups
        self.impersonated = impersonated
        self.impersonated_groups = impersonated_groups or []

    @property
    def effective(self):
        return self.impersonated or self.user


class Server:
    def __init__(self, args):
        self.tokens = {}
        for spec in args.token:
            name, _, token = spec.partition("=")
            if not name or not token:
                raise SystemExit(f"--token NAME=TOKEN, got {spec!r}")
            self.tokens[token] = name
        self.impersonators = set(args.impersonator)
        self.read_only = set(args.read_only)
        self.audit_file = open(args.audit, "a", buffering=1) if args.audit else None
        self.state_dir = args.state_dir or tempfile.mkdtemp(prefix="kube-standin-")
        self.own_state_dir = args.state_dir is None
        self.store = Store()
        self.pods = PodHooks(self.store, os.path.join(self.state_dir, "pods"))
        self.api = Api(self.store, self.pods)
        self.address = ""
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            obj = objects.prepare_create("namespaces", "Namespace", {"metadata": {"name": ns}}, None)
            self.store.put("namespaces", obj, "ADDED")

    # ---- authentication, impersonation, authorization, audit ------------------------------

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header and request.path in PUBLIC:
            return Identity("system:anonymous", ["system:unauthenticated"])
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            raise status.unauthorized()
        return Identity(self.tokens[token.strip()], ["system:authenticated"])

    def impersonate(self, request, identity):
        """Applies Impersonate-User/-Group, which only --impersonator users may send."""
        as_user = request.headers.get("Impersonate-User")
        as_groups = request.headers.getall("Impersonate-Group", [])
        if not (as_user or as_groups or request.headers.get("Impersonate-Uid")):
            return
        user = identity.user
        if as_user:
            identity.impersonated = as_user
            identity.impersonated_groups = list(as_groups) + ["system:authenticated"]
        if user not in self.impersonators:
            kind, name = ("users", as_user) if as_user else ("groups", as_groups[0] if as_groups else "")
            raise status.ApiError(
                403,
                "Forbidden",
                f'{kind} "{name}" is forbidden: User "{user}" cannot impersonate resource "{kind}" in API group "" at the cluster scope',
                {"name": name, "kind": kind},
            )
        if not as_user:
            raise status.ApiError(500, "InternalError", f"Internal error occurred: requested {as_groups} without impersonating a user")

    def authorize(self, identity, target):
        if target.resource and identity.effective in self.read_only and target.verb not in READ_VERBS:
            raise status.forbidden(identity.effective, target.verb, target.resource, target.namespace or None, target.name or None, target.subresource or None)

    def audit(self, request, identity, target, code):
        if self.audit_file is None or request.get("audited"):
            return
        request["audited"] = True
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": request.method,
            "requestURI": request.path_qs,
            "user": identity.user if identity else None,
            "groups": identity.groups if identity else [],
            "impersonatedUser": identity.impersonated if identity else None,
            "impersonatedGroups": identity.impersonated_groups if identity else [],
            "verb": target.verb if target else request.method.lower(),
            "resource": target.resource if target else "",
            "subresource": target.subresource if target else "",
            "namespace": target.namespace if target else "",
            "name": (target.name or request.get("object_name", "")) if target else "",
            "code": code,
            "userAgent": request.headers.get("User-Agent", ""),
        }
        self.audit_file.write(json.dumps(line) + "\n")

    @web.middleware
    async def middleware(self, request, handler):
        identity = target = None
        try:
            identity = self.authenticate(request)
            target = parse_target(request)
            self.impersonate(request, identity)
            self.authorize(identity, target)
            request["identity"], request["target"] = identity, target
            request["audit"] = lambda code: self.audit(request, identity, target, code)
            response = await handler(request)
        except status.ApiError as e:
            response = e.response()
        except Hijacked:
            # The connection was handed to SPDY and is closed: aiohttp's attempt to write this
            # response finds a closed transport and drops it.
            self.audit(request, identity, target, 101)
            return web.Response(status=101)
        except web.HTTPException as e:
            response = status.ApiError(e.status, e.reason.replace(" ", ""), e.text or e.reason).response()
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug here: answer as the real server does, and say what
            traceback.print_exc()
            response = status.ApiError(500, "InternalError", f"Internal error occurred: {e!r}").response()
        self.audit(request, identity, target, response.status)
        return response

    # ---- handlers ------------------------------------------------------------------------

    async def version(self, request):
        return json_response(discovery.version())

    async def healthz(self, request):
        return web.Response(text="ok")

    async def core(self, request):
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return json_response(discovery.aggregated(True), content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_versions(self.address))

    async def groups(self, request):
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return json_response(discovery.aggregated(False), content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_group_list())

    async def resources(self, request):
        return json_response(discovery.api_resource_list())

    async def openapi_root(self, request):
        return json_response(discovery.openapi_v3_root())

    async def openapi_core(self, request):
        return json_response(discovery.openapi_v3_core())

    async def not_found(self, request):
        raise status.ApiError(404, "NotFound", "the server could not find the requested resource", {})

    async def resource(self, request):
        target = request["target"]
        api = self.api
        if target.subresource == "log":
            if request.method != "GET":
                raise status.method_not_allowed()
            return await self.pods.log(request, target, request["audit"])
        if target.subresource in ("exec", "attach", "portforward"):
            if request.method not in ("GET", "POST"):
                raise status.method_not_allowed()
            return await self.pods.connect(request, target, request["audit"])
        verb = target.verb
        if verb == "get":
            return api.get(request, target)
        if verb == "list":
            return api.list(request, target)
        if verb == "watch":
            return await api.watch(request, target, request["audit"])
        if verb == "create" and not target.name:
            return await api.create(request, target)
        if verb == "update" and target.name:
            return await api.update(request, target)
        if verb == "patch" and target.name:
            return await api.patch(request, target)
        if verb == "delete":
            return await api.delete(request, target)
        if verb == "deletecollection" and target.resource != "namespaces":
            return await api.delete_collection(request, target)
        raise status.method_not_allowed()

    def app(self):
        app = web.Application(middlewares=[self.middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/version", self.version)
        for path in ("/healthz", "/livez", "/readyz"):
            app.router.add_get(path, self.healthz)
        app.router.add_get("/api", self.core)
        app.router.add_get("/api/", self.core)
        app.router.add_get("/apis", self.groups)
        app.router.add_get("/apis/", self.groups)
        app.router.add_get("/api/v1", self.resources)
        app.router.add_get("/openapi/v3", self.openapi_root)
        app.router.add_get("/openapi/v3/api/v1", self.openapi_core)
        app.router.add_route("*", "/api/v1/{tail:.+}", self.resource)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app


async def main(args):
    server = Server(args)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    runner = web.AppRunner(server.app(), handle_signals=False, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    server.address = f"127.0.0.1:{port}"
    print(json.dumps({"port": port, "address": server.address}), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.api.closing.set()
    await server.pods.shutdown()
    await runner.cleanup()
    if server.own_state_dir:
        shutil.rmtree(server.state_dir, ignore_errors=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cert", required=True, help="PEM certificate to serve")
    p.add_argument("--key", required=True, help="PEM private key of --cert")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--token", action="append", default=[], metavar="NAME=TOKEN", help="bearer TOKEN authenticates user NAME")
    p.add_argument("--impersonator", action="append", default=[], metavar="NAME", help="user NAME may impersonate")
    p.add_argument("--read-only", action="append", default=[], metavar="NAME", help="user NAME may only get, list and watch")
    p.add_argument("--audit", metavar="FILE", help="append one JSON line per request to FILE")
    p.add_argument("--state-dir", metavar="DIR", help="where pods' directories go (default: a temporary directory)")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
