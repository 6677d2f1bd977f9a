"""The object store: every object of every resource under one resourceVersion counter (as etcd's
revision is), a bounded history of changes so a watch can start from a resourceVersion, and the
label and field selectors that filter lists and watches."""

import asyncio
import collections
import copy
import re

from status import bad_request, gone

HISTORY = 10_000


class Watch:
    """One open watch: the events it matches, queued for its response."""

    def __init__(self, resource, namespace, labels, fields):
        self.resource = resource
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue = asyncio.Queue()

    def matches(self, resource, obj):
        if resource != self.resource:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.labels(obj) and self.fields(obj)


class Store:
    def __init__(self):
        self.revision = 1
        # (resource, namespace or "", name) -> object
        self.objects = {}
        # (resource, namespace, name) -> patch.Ownership
        self.owners = {}
        self.history = collections.deque(maxlen=HISTORY)
        self.watches = set()

    def get(self, resource, namespace, name):
        return self.objects.get((resource, namespace or "", name))

    def list(self, resource, namespace=None, labels=None, fields=None):
        items = [
            o
            for (r, ns, _), o in sorted(self.objects.items())
            if r == resource and (not namespace or ns == namespace)
        ]
        return [o for o in items if (labels is None or labels(o)) and (fields is None or fields(o))]

    def put(self, resource, obj, event):
        """Stores `obj` (ADDED or MODIFIED) with the next resourceVersion; returns a copy."""
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        key = (resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.objects[key] = obj
        self._notify(resource, event, obj)
        return copy.deepcopy(obj)

    def delete(self, resource, namespace, name):
        key = (resource, namespace or "", name)
        obj = self.objects.pop(key, None)
        self.owners.pop(key, None)
        if obj is None:
            return None
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self._notify(resource, "DELETED", obj)
        return copy.deepcopy(obj)

    def _notify(self, resource, event, obj):
        snapshot = copy.deepcopy(obj)
        self.history.append((self.revision, resource, event, snapshot))
        for w in list(self.watches):
            if w.matches(resource, snapshot):
                w.queue.put_nowait((event, snapshot))

    def watch(self, resource, namespace, labels, fields, since):
        """A watch from resourceVersion `since` (None: now, with nothing replayed)."""
        w = Watch(resource, namespace, labels, fields)
        if since is not None:
            oldest = self.history[0][0] if self.history else self.revision + 1
            if since < oldest - 1 and since < self.revision:
                raise gone(f"too old resource version: {since} ({oldest - 1})")
            for rv, r, event, obj in self.history:
                if rv > since and w.matches(r, obj):
                    w.queue.put_nowait((event, copy.deepcopy(obj)))
        self.watches.add(w)
        return w

    def unwatch(self, w):
        self.watches.discard(w)


# ---- selectors ------------------------------------------------------------------------------

_REQ = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[A-Za-z0-9_.-]*))?\s*$"
)


def _split(selector):
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def label_selector(selector):
    """A predicate over objects for a labelSelector (`a=b,c!=d,e in (f,g),!h,i`)."""
    requirements = []
    for part in _split(selector or ""):
        m = _REQ.match(part)
        if not m:
            raise bad_request(f'unable to parse requirement: found \'{part}\', expected: identifier')
        neg, key, op, value = m["neg"], m["key"], (m["op"] or "").strip(), m["value"]
        if op in ("in", "notin"):
            values = {v.strip() for v in value.strip("()").split(",")}
        else:
            values = {value} if value is not None else set()
        requirements.append((neg, key, op, values))

    def matches(obj):
        labels = obj.get("metadata", {}).get("labels") or {}
        for neg, key, op, values in requirements:
            if not op:
                if bool(neg) == (key in labels):
                    return False
            elif op in ("=", "=="):
                if labels.get(key) not in values:
                    return False
            elif op == "!=":
                if key in labels and labels[key] in values:
                    return False
            elif op == "in":
                if labels.get(key) not in values:
                    return False
            elif op == "notin":
                if key in labels and labels[key] in values:
                    return False
        return True

    return matches


def field_selector(selector):
    """A predicate for a fieldSelector (`metadata.name=x,status.phase!=Running`)."""
    requirements = []
    for part in _split(selector or ""):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f'invalid selector: \'{selector}\'; can\'t understand \'{part}\'')
        requirements.append((m[1], m[2], m[3]))

    def matches(obj):
        for path, op, value in requirements:
            node = obj
            for step in path.split("."):
                node = node.get(step) if isinstance(node, dict) else None
            text = "" if node is None else str(node)
            if (op == "!=") == (text == value):
                return False
        return True

    return matches
