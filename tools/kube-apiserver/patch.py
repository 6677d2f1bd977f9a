"""The four ways to PATCH an object (JSON merge patch, strategic merge patch, JSON patch,
server-side apply) and the field ownership (`managedFields`) that server-side apply keeps.

Strategic merge and apply know the list keys of the core/v1 kinds served here by field name
(containers by `name`, ports by `containerPort`, ...), which is what those kinds' Go struct tags
say; lists without a key are replaced whole (atomic), as for the real types."""

import copy
import json

from status import ApiError, bad_request

# field name -> merge key, for lists of objects (patchStrategy=merge / listType=map).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
}
# lists of scalars merged as sets (patchStrategy=merge).
MERGE_SETS = {"finalizers"}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_DELETE = object()


def strategic_merge(original, patch, field_name=None):
    """Kubernetes' strategic merge patch, with the `$patch`, `$retainKeys`,
    `$setElementOrder/` and `$deleteFromPrimitiveList/` directives."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key)
        else:
            result[key] = value
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        result = {k: v for k, v in result.items() if k in keep}
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, MERGE_KEYS.get(name))
    return result


def _merge_list(original, patch, field_name):
    original = original if isinstance(original, list) else []
    key = MERGE_KEYS.get(field_name)
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if key and all(isinstance(p, dict) for p in patch):
        result = copy.deepcopy(original)
        for item in patch:
            at = next(
                (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item.get(key)),
                None,
            )
            if item.get("$patch") == "delete":
                if at is not None:
                    del result[at]
            elif at is None:
                result.append({k: v for k, v in item.items() if not k.startswith("$")})
            else:
                result[at] = strategic_merge(result[at], item, field_name)
        return result
    if field_name in MERGE_SETS:
        return original + [p for p in patch if p not in original]
    return copy.deepcopy(patch)


def _reorder(items, order, key):
    def ident(item):
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    ranked = sorted(
        range(len(items)),
        key=lambda i: (wanted.index(ident(items[i])) if ident(items[i]) in wanted else len(wanted), i),
    )
    return [items[i] for i in ranked]


def json_patch(document, operations):
    """RFC 6902."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        kind = op.get("op")
        path = _pointer(op.get("path", ""))
        if kind in ("add", "replace"):
            doc = _put(doc, path, copy.deepcopy(op.get("value")), insert=kind == "add")
        elif kind == "remove":
            doc, _ = _take(doc, path)
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            if kind == "move":
                doc, value = _take(doc, source)
            else:
                value = copy.deepcopy(_get(doc, source))
            doc = _put(doc, path, value, insert=True)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value {op.get('path')} failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


def _pointer(text):
    if text == "":
        return []
    if not text.startswith("/"):
        raise bad_request(f"invalid JSON pointer {text!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _missing(path):
    return ApiError(
        422, "Invalid", f"the server rejected our request due to an error in our request: path /{'/'.join(path)} does not exist"
    )


def _get(doc, path):
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _missing(path)
    return node


def _put(doc, path, value, insert):
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        if not insert and last not in parent:
            raise _missing(path)
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if index < 0 or index > len(parent) or (not insert and index == len(parent)):
            raise _missing(path)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        raise _missing(path)
    return doc


def _take(doc, path):
    if not path:
        raise bad_request("cannot remove the whole document")
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return doc, parent.pop(int(last))
    raise _missing(path)


# ---- field ownership (server-side apply) -------------------------------------------------

# Fields the server sets; nobody owns them.
_UNOWNED = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
}


def field_paths(obj, prefix=(), field_name=None):
    """The leaf fields set in `obj`, each a tuple of fieldsV1 keys (`f:name`, `k:{...}`)."""
    paths = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = prefix + (f"f:{key}",)
            if path in _UNOWNED or (not prefix and key == "status"):
                continue
            sub = field_paths(value, path, key)
            if sub:
                paths |= sub
            elif not (isinstance(value, dict) and value):
                paths.add(path)  # a scalar, a list, or an empty map: the field itself
    elif isinstance(obj, list) and MERGE_KEYS.get(field_name) and all(isinstance(i, dict) for i in obj):
        key = MERGE_KEYS[field_name]
        for item in obj:
            element = prefix + ("k:" + json.dumps({key: item.get(key)}, separators=(",", ":")),)
            paths.add(element + (".",))
            paths |= field_paths(item, element, None)
    return paths


def value_at(obj, path):
    node = obj
    for part in path:
        if part == ".":
            return node
        if part.startswith("f:") and isinstance(node, dict):
            if part[2:] not in node:
                return _DELETE
            node = node[part[2:]]
        elif part.startswith("k:") and isinstance(node, list):
            ((key, want),) = json.loads(part[2:]).items()
            node = next((i for i in node if isinstance(i, dict) and i.get(key) == want), _DELETE)
            if node is _DELETE:
                return node
        else:
            return _DELETE
    return node


def remove_at(obj, path):
    """Removes the field at `path` (a list element for a `k:` path ending in '.')."""
    if path and path[-1] == ".":
        path = path[:-1]
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        ((key, want),) = json.loads(last[2:]).items()
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get(key) == want)]


def fields_v1(paths):
    tree = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def _merge_applied(live, applied, field_name=None):
    if isinstance(applied, dict) and isinstance(live, dict):
        result = copy.deepcopy(live)
        for key, value in applied.items():
            result[key] = _merge_applied(live.get(key), value, key)
        return result
    key = MERGE_KEYS.get(field_name)
    if key and isinstance(applied, list) and isinstance(live, list):
        result = copy.deepcopy(live)
        for item in applied:
            at = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
            if at is None:
                result.append(copy.deepcopy(item))
            else:
                result[at] = _merge_applied(result[at], item, None)
        return result
    return copy.deepcopy(applied)


class Ownership:
    """Which manager owns which fields of one object: {(manager, operation): {path: time}}."""

    def __init__(self, entries=None):
        self.entries = entries or {}

    def copy(self):
        return Ownership({k: dict(v) for k, v in self.entries.items()})

    def record_update(self, manager, before, after, now):
        """A create/update/patch by `manager`: it takes every field whose value it changed."""
        changed = {
            p
            for p in field_paths(after)
            if before is None or value_at(before, p) != value_at(after, p)
        }
        present = field_paths(after)
        for owner in list(self.entries):
            kept = {p: t for p, t in self.entries[owner].items() if p in present and p not in changed}
            self.entries[owner] = kept
        if changed:
            self.entries.setdefault((manager, "Update"), {}).update({p: now for p in changed})
        self._prune()

    def apply(self, manager, live, applied, force, now):
        """Server-side apply of `applied` onto `live` (None when creating): the new object."""
        wanted = field_paths(applied)
        conflicts = []
        if live is not None:
            for owner, fields in self.entries.items():
                if owner[0] == manager:
                    continue
                for path in wanted & set(fields):
                    if value_at(live, path) != value_at(applied, path):
                        conflicts.append((owner[0], path))
        if conflicts and not force:
            raise _conflict_error(conflicts)
        result = copy.deepcopy(live) if live is not None else {}
        mine = self.entries.get((manager, "Apply"), {})
        others = set().union(*[set(f) for o, f in self.entries.items() if o != (manager, "Apply")]) if self.entries else set()
        for path in sorted(set(mine) - wanted - others, key=len, reverse=True):
            remove_at(result, path)
        result = _merge_applied(result, applied)
        for owner, path in conflicts:
            for (name, op), fields in self.entries.items():
                if name == owner:
                    fields.pop(path, None)
        self.entries[(manager, "Apply")] = {p: now for p in wanted}
        self._prune()
        return result

    def _prune(self):
        self.entries = {k: v for k, v in self.entries.items() if v}

    def managed_fields(self):
        out = []
        for (manager, operation), fields in self.entries.items():
            out.append(
                {
                    "manager": manager,
                    "operation": operation,
                    "apiVersion": "v1",
                    "time": max(fields.values()),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1(fields),
                }
            )
        return out


def _pretty(path):
    out = ""
    for part in path:
        if part == ".":
            continue
        out += "." + part[2:] if part.startswith("f:") else "[" + part[2:].strip("{}").replace('"', "").replace(":", "=") + "]"
    return out


def _conflict_error(conflicts):
    lines = [f'conflict with "{owner}" using v1: {_pretty(path)}' for owner, path in conflicts]
    if len(lines) == 1:
        message = f"Apply failed with 1 conflict: {lines[0]}"
    else:
        message = f"Apply failed with {len(lines)} conflicts: " + "\n".join(lines)
    causes = [
        {"reason": "FieldManagerConflict", "message": f'conflict with "{owner}" using v1', "field": _pretty(path)}
        for owner, path in conflicts
    ]
    return ApiError(409, "Conflict", message, {"causes": causes})
