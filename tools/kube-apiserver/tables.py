"""`meta.k8s.io/v1` Tables, which `kubectl get` asks for (`Accept: application/json;as=Table;...`)
and prints as they come: the columns are the real server's for each kind."""

import datetime

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept):
    return any(
        "as=Table" in clause and "g=meta.k8s.io" in clause for clause in (accept or "").split(",")
    )


def _col(name, type_="string", format_="", description="", priority=0):
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


_NAME = _col("Name", format_="name", description="Name must be unique within a namespace.")
_AGE = _col("Age", description="CreationTimestamp is a timestamp representing the server time when this object was created.")

COLUMNS = {
    "pods": [
        _NAME,
        _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", description="The aggregate status of the containers in this pod."),
        _col("Restarts", description="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        _AGE,
        _col("IP", description="IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority=1),
        _col("Node", description="NodeName is a request to schedule this pod onto a specific node.", priority=1),
        _col("Nominated Node", description="nominatedNodeName is set when this pod preempts other pods on the node.", priority=1),
        _col("Readiness Gates", description="If specified, all readiness gates will be evaluated for pod readiness.", priority=1),
    ],
    "configmaps": [_NAME, _col("Data", "integer", description="Data contains the configuration data."), _AGE],
    "secrets": [
        _NAME,
        _col("Type", description="Used to facilitate programmatic handling of secret data."),
        _col("Data", "integer", description="Data contains the secret data."),
        _AGE,
    ],
    "namespaces": [_NAME, _col("Status", description="The status of the namespace"), _AGE],
    "events": [
        _col("Last Seen"),
        _col("Type"),
        _col("Reason"),
        _col("Object"),
        _col("Message"),
    ],
}


def age(timestamp):
    """The real server's short durations: 5s, 3m12s, 2h5m, 4d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    seconds = max(0, int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _pod_cells(pod):
    spec, status = pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    reason = status.get("reason") or status.get("phase", "Pending")
    for s in statuses:
        state = s.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and reason == "Running":
            reason = state["terminated"].get("reason") or "Error"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        str(restarts),
        age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _cells(resource, obj):
    meta = obj["metadata"]
    if resource == "pods":
        return _pod_cells(obj)
    if resource == "configmaps":
        return [meta["name"], len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(meta.get("creationTimestamp"))]
    if resource == "secrets":
        return [meta["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}), age(meta.get("creationTimestamp"))]
    if resource == "namespaces":
        return [meta["name"], obj.get("status", {}).get("phase", "Active"), age(meta.get("creationTimestamp"))]
    involved = obj.get("involvedObject", {})
    return [
        age(obj.get("lastTimestamp") or meta.get("creationTimestamp")),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


def _row_object(obj, include):
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(resource, objects, resource_version=None, include="Metadata", headers=True):
    rows = []
    for obj in objects:
        row = {"cells": _cells(resource, obj)}
        partial = _row_object(obj, include)
        if partial is not None:
            row["object"] = partial
        rows.append(row)
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "rows": rows}
    if resource_version:
        out["metadata"]["resourceVersion"] = resource_version
    if headers:
        out["columnDefinitions"] = COLUMNS[resource]
    return out
