#!/usr/bin/env python3
"""One SCIM operation against Ward, through the scim2-client library, as an identity
provider's provisioning runs it. Prints the resource (or the result) as one JSON line.

    scim.py --url https://ward:8443 --token T --ca-file ca.pem create-user alice
    scim.py ... create-group dev alice bob      # a group and its members (user names)
    scim.py ... add-member dev alice | remove-member dev alice
    scim.py ... set-active alice false
    scim.py ... find-user alice | delete-user alice | delete-group dev

Re-executes itself with ./.venv/bin/python when the running python3 lacks scim2-client.
"""

import argparse
import json
import os
import ssl
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, ".venv", "bin", "python")

try:
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import Group, GroupMember, PatchOp, PatchOperation, SearchRequest, User
except ImportError:
    in_venv = os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(HERE, ".venv"))
    if os.path.exists(VENV_PYTHON) and not in_venv:
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
    raise

warnings.simplefilter("ignore", DeprecationWarning)


def client(args: argparse.Namespace) -> SyncSCIMClient:
    verify = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else True
    http = Client(
        base_url=args.url.rstrip("/") + "/scim/v2",
        headers={"Authorization": f"Bearer {args.token}"},
        verify=verify,
        timeout=30,
    )
    scim = SyncSCIMClient(http, resource_models=[User, Group])
    scim.discover(schemas=False)
    return scim


def one(scim: SyncSCIMClient, model, attribute: str, value: str):
    found = scim.query(model, query_parameters=SearchRequest(filter=f'{attribute} eq "{value}"'))
    resources = found.resources or []
    if len(resources) != 1:
        sys.exit(f"{len(resources)} {model.__name__} resources with {attribute} {value}")
    return resources[0]


def dump(resource) -> None:
    print(json.dumps(resource.model_dump(mode="json", by_alias=True, exclude_none=True)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--ca-file")
    p.add_argument("op")
    p.add_argument("names", nargs="*")
    args = p.parse_args()
    scim = client(args)
    op, names = args.op, args.names
    if op == "create-user":
        dump(scim.create(User(user_name=names[0], active=True)))
    elif op == "create-group":
        members = [GroupMember(value=one(scim, User, "userName", n).id) for n in names[1:]]
        dump(scim.create(Group(display_name=names[0], members=members or None)))
    elif op in ("add-member", "remove-member"):
        group = one(scim, Group, "displayName", names[0])
        user = one(scim, User, "userName", names[1])
        if op == "add-member":
            operation = PatchOperation[Group](
                op="add", path="members", value=[{"value": user.id}]
            )
        else:
            operation = PatchOperation[Group](op="remove", path=f'members[value eq "{user.id}"]')
        dump(scim.modify(Group, group.id, PatchOp[Group](operations=[operation])))
    elif op == "set-active":
        user = one(scim, User, "userName", names[0])
        active = names[1] == "true"
        operation = PatchOperation[User](op="replace", path="active", value=active)
        dump(scim.modify(User, user.id, PatchOp[User](operations=[operation])))
    elif op == "find-user":
        dump(one(scim, User, "userName", names[0]))
    elif op == "delete-user":
        scim.delete(User, one(scim, User, "userName", names[0]).id)
        print(json.dumps({"deleted": names[0]}))
    elif op == "delete-group":
        scim.delete(Group, one(scim, Group, "displayName", names[0]).id)
        print(json.dumps({"deleted": names[0]}))
    else:
        sys.exit(f"unknown op {op}")


if __name__ == "__main__":
    main()
