"""metav1.Status errors, shaped as the real API server sends them (reason, code, details), so
kubectl prints them as it does for a real cluster ("Error from server (NotFound): ...")."""

import json

from aiohttp import web


class ApiError(Exception):
    """A failure the API answers with a `metav1.Status` body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    def response(self):
        return web.Response(
            status=self.code,
            text=json.dumps(self.status()),
            content_type="application/json",
        )


def _details(resource, name=None, group=""):
    details = {"kind": resource}
    if name:
        details = {"name": name, **details}
    if group:
        details["group"] = group
    return details


def not_found(resource, name):
    return ApiError(404, "NotFound", f'{resource} "{name}" not found', _details(resource, name))


def already_exists(resource, name):
    return ApiError(
        409, "AlreadyExists", f'{resource} "{name}" already exists', _details(resource, name)
    )


def conflict(resource, name, why):
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource} "{name}": {why}',
        _details(resource, name),
    )


def stale(resource, name):
    return conflict(
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user, verb, resource, namespace=None, name=None, subresource=None, group=""):
    """`pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the
    namespace "n"`, as the RBAC authorizer words it."""
    what = f"{resource}/{subresource}" if subresource else resource
    subject = f'{resource} "{name}"' if name else resource
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{what}" '
        f'in API group "{group}" {where}'
    )
    return ApiError(403, "Forbidden", message, _details(resource, name, group))


def invalid(kind, name, causes):
    """422: `causes` is a list of (field, reason, message)."""
    listed = "; ".join(f"{field}: {message}" for field, _, message in causes)
    if len(causes) > 1:
        listed = "[" + ", ".join(f"{field}: {message}" for field, _, message in causes) + "]"
    details = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": reason, "message": message, "field": field}
            for field, reason, message in causes
        ],
    }
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {listed}', details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type):
    return ApiError(
        415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got "{content_type}")'
    )


def gone(message):
    return ApiError(410, "Expired", message)


def success(details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body
