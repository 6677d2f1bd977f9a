"""The resources the stand-in serves and how it describes them: `/version`, legacy discovery
(`/api`, `/api/v1`, `/apis`), aggregated discovery (`apidiscovery.k8s.io/v2`, which kubectl asks
for first) and the OpenAPI v3 documents kubectl reads to decide on server-side field validation.

OpenAPI is minimal on purpose: kubectl's `--validate=strict` (the default) looks up the PATCH
operation of a kind in `/openapi/v3/api/v1` and, when it lists a `fieldValidation` query
parameter, leaves validation to the server. No strategic-merge-patch media type is listed, so
client-side `kubectl apply` computes its patch from kubectl's built-in Go types (as it does for a
kind missing from OpenAPI) instead of asking for schemas we do not serve."""

import hashlib
import json
from dataclasses import dataclass, field

GIT_VERSION = "v1.37.0-standin"


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    kind: str
    namespaced: bool
    short: tuple = ()
    categories: tuple = ()
    verbs: tuple = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    # subresource -> (kind, verbs)
    subresources: dict = field(default_factory=dict)


RESOURCES = {
    r.name: r
    for r in [
        Resource(
            "namespaces",
            "namespace",
            "Namespace",
            False,
            short=("ns",),
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            subresources={"status": ("Namespace", ("get", "patch", "update"))},
        ),
        Resource(
            "pods",
            "pod",
            "Pod",
            True,
            short=("po",),
            categories=("all",),
            subresources={
                "attach": ("PodAttachOptions", ("create", "get")),
                "exec": ("PodExecOptions", ("create", "get")),
                "log": ("Pod", ("get",)),
                "portforward": ("PodPortForwardOptions", ("create", "get")),
                "status": ("Pod", ("get", "patch", "update")),
            },
        ),
        Resource("secrets", "secret", "Secret", True),
        Resource("configmaps", "configmap", "ConfigMap", True, short=("cm",)),
        Resource("events", "event", "Event", True, short=("ev",)),
    ]
}

BY_KIND = {r.kind: r for r in RESOURCES.values()}


def version():
    return {
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(address):
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group_list():
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}


def api_resource_list():
    resources = []
    for r in RESOURCES.values():
        entry = {
            "name": r.name,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short:
            entry["shortNames"] = list(r.short)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub, (kind, verbs) in r.subresources.items():
            resources.append(
                {
                    "name": f"{r.name}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": kind,
                    "verbs": list(verbs),
                }
            )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources}


AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept):
    """Whether an Accept header asks for `apidiscovery.k8s.io/v2` (kubectl lists it first)."""
    for clause in accept.split(","):
        params = {
            k.strip(): v.strip()
            for k, _, v in (p.partition("=") for p in clause.split(";")[1:])
        }
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("v") == "v2"
            and params.get("as") == "APIGroupDiscoveryList"
        ):
            return True
    return False


def aggregated(legacy_core):
    """`/api` (the core group) or `/apis` (no named groups) as an APIGroupDiscoveryList."""
    items = []
    if legacy_core:
        resources = []
        for r in RESOURCES.values():
            entry = {
                "resource": r.name,
                "responseKind": {"group": "", "version": "v1", "kind": r.kind},
                "scope": "Namespaced" if r.namespaced else "Cluster",
                "singularResource": r.singular,
                "verbs": list(r.verbs),
            }
            if r.short:
                entry["shortNames"] = list(r.short)
            if r.categories:
                entry["categories"] = list(r.categories)
            if r.subresources:
                entry["subresources"] = [
                    {
                        "subresource": sub,
                        "responseKind": {"group": "", "version": "v1", "kind": kind},
                        "verbs": list(verbs),
                    }
                    for sub, (kind, verbs) in r.subresources.items()
                ]
            resources.append(entry)
        items.append(
            {
                "metadata": {"name": "", "creationTimestamp": None},
                "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
_QUERY = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]


def openapi_v3_core():
    """`/openapi/v3/api/v1`: one PATCH operation per kind, enough for kubectl's checks."""
    paths = {}
    for r in RESOURCES.values():
        prefix = "/api/v1/namespaces/{namespace}/" if r.namespaced else "/api/v1/"
        gvk = {"group": "", "version": "v1", "kind": r.kind}
        content = {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES}
        paths[prefix + r.name + "/{name}"] = {
            "patch": {
                "operationId": f"patchCoreV1{'Namespaced' if r.namespaced else ''}{r.kind}",
                "parameters": list(_QUERY),
                "requestBody": {"content": content, "required": True},
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()


def openapi_v3_root():
    return {
        "paths": {
            "api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={_hash(openapi_v3_core())}"}
        }
    }
