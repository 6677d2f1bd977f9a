"""The REST verbs of `/api/v1` over the store: get, list (label/field selectors, limit and
continue), watch (JSON event stream, Tables, bookmarks, initial events), create, update, the four
patches and delete, answering as the real API server does (status codes, Status bodies, Table
output for `kubectl get`)."""

import asyncio
import base64
import copy
import json

import yaml
from aiohttp import web

import objects
import patch as patching
import protobuf
import status
import tables
from discovery import RESOURCES
from store import field_selector, label_selector

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


def json_response(body, code=200, content_type=JSON):
    return web.Response(status=code, body=json.dumps(body).encode(), headers={"Content-Type": content_type})


async def read_body(request, allowed=(JSON, "application/yaml", PROTOBUF, "*/*", "")):
    kind = request.content_type
    if kind not in allowed and kind not in PATCH_TYPES:
        raise status.unsupported_media_type(request.headers.get("Content-Type", ""))
    raw = await request.read()
    if kind == PROTOBUF:
        try:
            return protobuf.decode(raw)
        except protobuf.DecodeError as e:
            raise status.ApiError(415, "UnsupportedMediaType", str(e))
    try:
        if kind in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(raw.decode())
        return json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as e:
        raise status.bad_request(f"error decoding the request body: {e}")


def field_manager(request, apply=False):
    manager = request.query.get("fieldManager")
    if manager:
        return manager
    if apply:
        raise status.bad_request("PATCH: fieldManager: Required value: is required for apply patch")
    agent = request.headers.get("User-Agent", "unknown")
    return agent.split("/", 1)[0] or "unknown"


def _timeless(obj):
    """`obj` without the times in its managedFields (to tell a no-op write)."""
    out = copy.deepcopy(obj)
    for entry in out["metadata"].get("managedFields") or []:
        entry.pop("time", None)
    return out


def _for_list(obj):
    item = copy.deepcopy(obj)
    item.pop("kind", None)
    item.pop("apiVersion", None)
    return item


class Api:
    def __init__(self, store, pods):
        self.store = store
        self.pods = pods  # pods.PodHooks: starts and stops pods' processes
        self.closing = asyncio.Event()

    # ---- reads ---------------------------------------------------------------------------

    def _get(self, target):
        obj = self.store.get(target.resource, target.namespace, target.name)
        if obj is None:
            raise status.not_found(target.resource, target.name)
        return obj

    def get(self, request, target):
        obj = copy.deepcopy(self._get(target))
        if target.subresource == "status" or not tables.wants_table(request.headers.get("Accept")):
            return json_response(obj)
        return json_response(
            tables.table(target.resource, [obj], include=request.query.get("includeObject", "Metadata")),
            content_type=tables.TABLE_CONTENT_TYPE,
        )

    def list(self, request, target):
        q = request.query
        items = self.store.list(
            target.resource, target.namespace, label_selector(q.get("labelSelector")), field_selector(q.get("fieldSelector"))
        )
        rv = str(self.store.revision)
        meta = {"resourceVersion": rv}
        start = q.get("continue")
        if start:
            try:
                token = json.loads(base64.b64decode(start))
                after = tuple(token["after"])
            except (ValueError, KeyError, TypeError):
                raise status.bad_request("continue key is not valid: illegal base64 data")
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        limit = int(q.get("limit", "0") or 0)
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.b64encode(
                json.dumps({"rv": rv, "after": [last.get("namespace", ""), last["name"]]}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if tables.wants_table(request.headers.get("Accept")):
            body = tables.table(target.resource, items, rv, q.get("includeObject", "Metadata"))
            body["metadata"].update(meta)
            return json_response(body, content_type=tables.TABLE_CONTENT_TYPE)
        kind = RESOURCES[target.resource].kind
        return json_response(
            {"kind": f"{kind}List", "apiVersion": "v1", "metadata": meta, "items": [_for_list(o) for o in items]}
        )

    async def watch(self, request, target, audit):
        q = request.query
        labels = label_selector(q.get("labelSelector"))
        fields = field_selector(q.get("fieldSelector"))
        if target.name:
            by_name = field_selector(f"metadata.name={target.name}")
            fields = (lambda f: lambda o: f(o) and by_name(o))(fields)
        rv = q.get("resourceVersion", "")
        initial = q.get("sendInitialEvents") == "true" or (rv in ("", "0") and q.get("sendInitialEvents") != "false")
        since = None
        if not initial:
            try:
                since = int(rv)
            except ValueError:
                raise status.bad_request(f'resourceVersion: Invalid value: "{rv}": must be a number')
        try:
            w = self.store.watch(target.resource, target.namespace, labels, fields, since)
        except status.ApiError as e:
            w = None
            expired = e
        as_table = tables.wants_table(request.headers.get("Accept"))
        include = q.get("includeObject", "Metadata")
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})
        audit(200)
        await response.prepare(request)
        first = [True]

        async def send(event, obj):
            if as_table and event not in ("ERROR", "BOOKMARK"):
                obj = tables.table(target.resource, [obj], include=include, headers=first[0])
                first[0] = False
            await response.write((json.dumps({"type": event, "object": obj}) + "\n").encode())

        if w is None:
            await send("ERROR", expired.status())
            return response
        try:
            if initial:
                for obj in self.store.list(target.resource, target.namespace, labels, fields):
                    await send("ADDED", copy.deepcopy(obj))
                if q.get("sendInitialEvents") == "true":
                    await send("BOOKMARK", self._bookmark(target, initial_end=True))
            timeout = float(q.get("timeoutSeconds", "0") or 0)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            bookmarks = q.get("allowWatchBookmarks") == "true"
            last_bookmark = loop.time()
            while not self.closing.is_set():
                if deadline and loop.time() >= deadline:
                    break
                if request.transport is None or request.transport.is_closing():
                    break
                try:
                    event, obj = await asyncio.wait_for(w.queue.get(), 1)
                except asyncio.TimeoutError:
                    if bookmarks and loop.time() - last_bookmark > 10:
                        last_bookmark = loop.time()
                        await send("BOOKMARK", self._bookmark(target))
                    continue
                await send(event, obj)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(w)
        return response

    def _bookmark(self, target, initial_end=False):
        meta = {"resourceVersion": str(self.store.revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": RESOURCES[target.resource].kind, "apiVersion": "v1", "metadata": meta}

    # ---- writes --------------------------------------------------------------------------

    def _check_namespace(self, target, name):
        if not target.namespace:
            return
        ns = self.store.get("namespaces", None, target.namespace)
        if ns is None:
            raise status.not_found("namespaces", target.namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise status.ApiError(
                403,
                "Forbidden",
                f'{target.resource} "{name}" is forbidden: unable to create new content in namespace '
                f"{target.namespace} because it is being terminated",
                {
                    "name": name,
                    "kind": target.resource,
                    "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {target.namespace} is being terminated", "field": "metadata.namespace"}],
                },
            )

    def _stamp(self, target, owners, obj):
        obj["metadata"]["managedFields"] = owners.managed_fields()
        if not obj["metadata"]["managedFields"]:
            del obj["metadata"]["managedFields"]

    def _dry_run(self, request):
        return "All" in request.query.getall("dryRun", [])

    async def create(self, request, target):
        body = await read_body(request)
        kind = RESOURCES[target.resource].kind
        obj = objects.prepare_create(target.resource, kind, body, target.namespace)
        name = obj["metadata"]["name"]
        request["object_name"] = name
        self._check_namespace(target, name)
        if self.store.get(target.resource, target.namespace, name) is not None:
            raise status.already_exists(target.resource, name)
        return self._insert(request, target, obj, field_manager(request), None)

    def _insert(self, request, target, obj, manager, applied_owners):
        owners = applied_owners or patching.Ownership()
        if applied_owners is None:
            owners.record_update(manager, None, obj, objects.now())
        self._stamp(target, owners, obj)
        if self._dry_run(request):
            return json_response(obj, 201)
        if target.resource == "pods":
            self.pods.starting(obj)
        stored = self.store.put(target.resource, obj, "ADDED")
        self.store.owners[(target.resource, target.namespace or "", obj["metadata"]["name"])] = owners
        if target.resource == "pods":
            self.pods.started(stored)
        return json_response(stored, 201)

    def _replace(self, request, target, old, new, owners):
        self._stamp(target, owners, new)
        if _timeless(new) == _timeless(old):
            return json_response(copy.deepcopy(old))
        if self._dry_run(request):
            return json_response(new)
        stored = self.store.put(target.resource, new, "MODIFIED")
        self.store.owners[(target.resource, target.namespace or "", old["metadata"]["name"])] = owners
        return json_response(stored)

    def _owners(self, target):
        key = (target.resource, target.namespace or "", target.name)
        return self.store.owners.get(key, patching.Ownership()).copy()

    async def update(self, request, target):
        old = self._get(target)
        body = await read_body(request)
        kind = RESOURCES[target.resource].kind
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise status.stale(target.resource, target.name)
        new = objects.prepare_update(target.resource, kind, copy.deepcopy(old), body, target.subresource)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        owners = self._owners(target)
        owners.record_update(field_manager(request), old, new, objects.now())
        return self._replace(request, target, old, new, owners)

    async def patch(self, request, target):
        kind_of_patch = PATCH_TYPES.get(request.content_type)
        if kind_of_patch is None:
            raise status.unsupported_media_type(request.headers.get("Content-Type", ""))
        body = await read_body(request)
        kind = RESOURCES[target.resource].kind
        old = self.store.get(target.resource, target.namespace, target.name)
        now = objects.now()
        if kind_of_patch == "apply":
            manager = field_manager(request, apply=True)
            if not isinstance(body, dict):
                raise status.bad_request("apply patch must be an object")
            name = (body.get("metadata") or {}).get("name")
            if name != target.name:
                raise status.bad_request(f"metadata.name: Invalid value: {name!r}: must match the name on the URL ({target.name})")
            force = request.query.get("force") == "true"
            if old is None:
                self._check_namespace(target, target.name)
                owners = patching.Ownership()
                obj = owners.apply(manager, None, body, force, now)
                obj = objects.prepare_create(target.resource, kind, obj, target.namespace)
                return self._insert(request, target, obj, manager, owners)
            owners = self._owners(target)
            merged = owners.apply(manager, copy.deepcopy(old), body, force, now)
            merged.setdefault("metadata", {})["name"] = target.name
            new = objects.prepare_update(target.resource, kind, copy.deepcopy(old), merged, target.subresource)
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return self._replace(request, target, old, new, owners)
        if old is None:
            raise status.not_found(target.resource, target.name)
        current = copy.deepcopy(old)
        current["metadata"].pop("managedFields", None)
        if kind_of_patch == "json":
            patched = patching.json_patch(current, body)
        elif kind_of_patch == "merge":
            patched = patching.merge_patch(current, body)
        else:
            patched = patching.strategic_merge(current, body)
        if not isinstance(patched, dict):
            raise status.bad_request("the patch did not produce an object")
        rv = (patched.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise status.stale(target.resource, target.name)
        patched.setdefault("metadata", {})["name"] = target.name
        new = objects.prepare_update(target.resource, kind, copy.deepcopy(old), patched, target.subresource)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        owners = self._owners(target)
        owners.record_update(field_manager(request), old, new, now)
        return self._replace(request, target, old, new, owners)

    async def delete(self, request, target):
        old = self._get(target)
        options = {}
        if request.can_read_body:
            try:
                options = json.loads(await request.read() or b"{}") or {}
            except ValueError:
                raise status.bad_request("error decoding DeleteOptions")
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise status.conflict(target.resource, target.name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata']['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise status.conflict(target.resource, target.name, f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {old['metadata']['resourceVersion']}")
        if self._dry_run(request):
            return json_response(copy.deepcopy(old))
        grace = options.get("gracePeriodSeconds", request.query.get("gracePeriodSeconds"))
        if target.resource == "pods":
            return json_response(await self.pods.delete(old, grace))
        if target.resource == "namespaces":
            return json_response(await self.delete_namespace(old))
        deleted = self.store.delete(target.resource, target.namespace, target.name)
        return json_response(status.success({"name": target.name, "kind": target.resource, "uid": deleted["metadata"]["uid"]}))

    async def delete_collection(self, request, target):
        items = self.store.list(
            target.resource, target.namespace, label_selector(request.query.get("labelSelector")), field_selector(request.query.get("fieldSelector"))
        )
        for obj in items:
            if target.resource == "pods":
                await self.pods.delete(obj, None)
            else:
                self.store.delete(target.resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        kind = RESOURCES[target.resource].kind
        return json_response({"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.store.revision)}, "items": [_for_list(o) for o in items]})

    async def delete_namespace(self, ns):
        name = ns["metadata"]["name"]
        if ns["metadata"].get("deletionTimestamp"):
            return copy.deepcopy(ns)
        ns = copy.deepcopy(ns)
        ns["metadata"]["deletionTimestamp"] = objects.now()
        ns["metadata"]["deletionGracePeriodSeconds"] = 0
        ns["status"] = {"phase": "Terminating"}
        stored = self.store.put("namespaces", ns, "MODIFIED")
        asyncio.ensure_future(self._empty_namespace(name))
        return stored

    async def _empty_namespace(self, name):
        for resource in RESOURCES:
            if resource == "namespaces":
                continue
            for obj in self.store.list(resource, name):
                if resource == "pods":
                    await self.pods.delete(obj, 0)
                else:
                    self.store.delete(resource, name, obj["metadata"]["name"])
        while self.store.list("pods", name):
            await asyncio.sleep(0.05)
        self.store.delete("namespaces", None, name)
