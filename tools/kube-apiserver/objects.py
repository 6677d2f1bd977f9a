"""What the API server does to an object on its way into the store: server-set metadata
(uid, creationTimestamp, generateName), each kind's defaults (a pod's restartPolicy, a secret's
type and stringData), and the validation that answers 422 Invalid as the real one words it."""

import base64
import datetime
import random
import re
import uuid

from status import ApiError, bad_request, invalid

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _random_suffix():
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


def prepare_create(resource, kind, obj, namespace):
    """Server-set metadata and the kind's defaults for a new object; raises 400/422."""
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was not a JSON object")
    obj["apiVersion"] = "v1"
    obj["kind"] = kind
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if namespace is not None:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + _random_suffix()
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    _DEFAULTS[resource](obj)
    validate(resource, kind, obj)
    return obj


def prepare_update(resource, kind, old, new, subresource=None):
    """Carries server-set fields over to an updated object and checks what may not change."""
    if not isinstance(new, dict):
        raise bad_request("the body of the request was not a JSON object")
    new["apiVersion"] = "v1"
    new["kind"] = kind
    meta = new.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
        else:
            meta.pop(key, None)
    name = old["metadata"]["name"]
    if meta.get("name") != name:
        raise bad_request(f'the name of the object ({meta.get("name")}) does not match the name on the URL ({name})')
    if subresource == "status":
        new = dict(old, status=new.get("status", old.get("status")))
        new["metadata"] = dict(old["metadata"])
        return new
    if "status" in old:
        new["status"] = old["status"]
    _DEFAULTS[resource](new)
    validate(resource, kind, new)
    if resource == "pods":
        _pod_update_allowed(old, new)
        if old.get("spec") != new.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
    if resource in ("secrets", "configmaps") and old.get("immutable"):
        for field in ("data", "binaryData", "stringData"):
            if old.get(field) != new.get(field):
                raise invalid(kind, name, [(field, "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")])
    return new


def validate(resource, kind, obj):
    meta = obj["metadata"]
    name = meta.get("name")
    causes = []
    if not name:
        causes.append(("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
    else:
        pattern, help_text = (_DNS1123_LABEL, _LABEL_HELP) if resource == "namespaces" else (_DNS1123_SUBDOMAIN, _SUBDOMAIN_HELP)
        if len(name) > (63 if resource == "namespaces" else 253) or not pattern.match(name):
            causes.append(("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {help_text}'))
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            causes.append((f"metadata.{field}", "FieldValueInvalid", "Invalid value: must be a map of strings"))
    if resource == "pods":
        containers = (obj.get("spec") or {}).get("containers")
        if not containers:
            causes.append(("spec.containers", "FieldValueRequired", "Required value"))
        for i, c in enumerate(containers or []):
            if not c.get("name"):
                causes.append((f"spec.containers[{i}].name", "FieldValueRequired", "Required value"))
            if not c.get("image"):
                causes.append((f"spec.containers[{i}].image", "FieldValueRequired", "Required value"))
    if resource in ("configmaps", "secrets"):
        for field in ("data", "binaryData"):
            for key in (obj.get(field) or {}):
                if not _KEY.match(key):
                    causes.append(
                        (f"{field}[{key}]", "FieldValueInvalid", f'Invalid value: "{key}": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\' (e.g. \'key.name\',  or \'KEY_NAME\',  or \'key-name\', regex used for validation is \'[-._a-zA-Z0-9]+\')')
                    )
    if causes:
        raise invalid(kind, name or meta.get("generateName", ""), causes)


def _pod_update_allowed(old, new):
    """The real API server lets an update change a pod's images and little else."""

    def mutable_stripped(spec):
        spec = dict(spec or {})
        spec["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get("containers", [])]
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        spec.pop("terminationGracePeriodSeconds", None)
        return spec

    if mutable_stripped(old.get("spec")) != mutable_stripped(new.get("spec")):
        name = old["metadata"]["name"]
        raise invalid(
            "Pod",
            name,
            [
                (
                    "spec",
                    "FieldValueForbidden",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                    "(allow it to be set to 1 if it was previously negative)",
                )
            ],
        )


def _namespace(obj):
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")


def _secret(obj):
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except Exception:
            raise ApiError(400, "BadRequest", f"illegal base64 data at input byte 0 (data[{k}])")


def _configmap(obj):
    pass


def _event(obj):
    obj.setdefault("involvedObject", {})
    obj.setdefault("reason", "")
    obj.setdefault("type", "Normal")


def _pod(obj):
    meta = obj["metadata"]
    meta.setdefault("generation", 1)
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    for c in spec.get("containers") or []:
        image = c.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("resources", {})
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")
    obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})


_DEFAULTS = {
    "namespaces": _namespace,
    "secrets": _secret,
    "configmaps": _configmap,
    "events": _event,
    "pods": _pod,
}
