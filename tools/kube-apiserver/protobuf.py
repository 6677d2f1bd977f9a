"""Reads the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) of the kinds
kubectl's typed clients send it for: `kubectl create configmap|secret|namespace` post protobuf
bodies (client-go's generated clients prefer it for built-in types). Decoding only: answers are
JSON, which those clients accept.

The envelope is `k8s\\x00` then a runtime.Unknown {typeMeta, raw}; `raw` is the object. Field
numbers are those of k8s.io/api core/v1 and apimachinery meta/v1 generated.proto."""

import base64
import datetime

MAGIC = b"k8s\x00"

_TIME = {1: ("seconds", "int"), 2: ("nanos", "int")}
_MANAGED = {
    1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
    4: ("time", "time"), 6: ("fieldsType", "string"), 8: ("subresource", "string"),
}
_OWNER = {
    5: ("apiVersion", "string"), 1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
    6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool"),
}
_META = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
    4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
    7: ("generation", "int"), 8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map:string"),
    12: ("annotations", "map:string"), 13: ("ownerReferences", ("list", _OWNER)),
    14: ("finalizers", "list:string"), 17: ("managedFields", ("list", _MANAGED)),
}
KINDS = {
    "ConfigMap": {1: ("metadata", _META), 4: ("immutable", "bool"), 2: ("data", "map:string"), 3: ("binaryData", "map:bytes")},
    "Secret": {
        1: ("metadata", _META), 5: ("immutable", "bool"), 2: ("data", "map:bytes"),
        4: ("stringData", "map:string"), 3: ("type", "string"),
    },
    "Namespace": {
        1: ("metadata", _META),
        2: ("spec", {1: ("finalizers", "list:string")}),
        3: ("status", {1: ("phase", "string")}),
    },
}


class DecodeError(Exception):
    pass


def _varint(data, at):
    value = shift = 0
    while True:
        if at >= len(data):
            raise DecodeError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(data):
    """(number, wire type, value) for each field: ints for varints, bytes for the rest."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise DecodeError("truncated field")
            value, at = data[at : at + length], at + length
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise DecodeError(f"wire type {wire}")
        yield number, wire, value


def _time(data):
    t = message(data, _TIME)
    if not t.get("seconds"):
        return None
    moment = datetime.datetime.fromtimestamp(t.get("seconds", 0), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def message(data, schema):
    out = {}
    for number, _, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, dict):
            out[name] = message(value, kind)
        elif isinstance(kind, tuple):
            out.setdefault(name, []).append(message(value, kind[1]))
        elif kind == "string":
            out[name] = value.decode()
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "int":
            out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "time":
            out[name] = _time(value)
        elif kind == "list:string":
            out.setdefault(name, []).append(value.decode())
        elif kind.startswith("map:"):
            entry = {n: v for n, _, v in fields(value)}
            key = entry.get(1, b"").decode()
            raw = entry.get(2, b"")
            out.setdefault(name, {})[key] = raw.decode() if kind == "map:string" else base64.b64encode(raw).decode()
    # Go's JSON omits zero values (omitempty) where protobuf writes them out.
    return {k: v for k, v in out.items() if v not in ("", 0, None, False, {})}


def decode(body):
    """The JSON form of a protobuf-encoded object, or DecodeError."""
    if not body.startswith(MAGIC):
        raise DecodeError("missing the k8s protobuf envelope")
    unknown = {n: v for n, _, v in fields(body[len(MAGIC):])}
    type_meta = {n: v.decode() for n, _, v in fields(unknown.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if kind not in KINDS:
        raise DecodeError(f"protobuf bodies of kind {kind!r} are not supported by the stand-in; send JSON")
    obj = message(unknown.get(2, b""), KINDS[kind])
    obj["apiVersion"] = api_version or "v1"
    obj["kind"] = kind
    return obj
