"""Real HTTP clients of an HTTP resource through Ward, for Ward's tests.

    client.py requests  BASE_URL TOKEN CA_FILE   # python-requests, one keep-alive session
    client.py websocket BASE_URL TOKEN CA_FILE   # the websockets library

BASE_URL is Ward's URL of the resource (https://127.0.0.1:PORT/RESOURCE). Each mode runs a
fixed exchange against tools/http-peer and prints what came back as one JSON line.
"""

import json
import ssl
import sys


def with_requests(base, token, ca):
    import requests

    s = requests.Session()
    # Not REQUESTS_CA_BUNDLE (which would override `verify`), nor proxies from the environment.
    s.trust_env = False
    s.verify = ca
    s.headers["Authorization"] = f"Bearer {token}"
    got = {}
    got["echo"] = s.get(f"{base}/echo/py", params={"x": "1"}).json()
    got["post"] = s.post(f"{base}/echo/py", json={"card": "4111 1111 1111 1111"}).json()
    with s.get(f"{base}/stream", params={"n": "3", "delay": "50"}, stream=True) as r:
        got["lines"] = [line.decode() for line in r.iter_lines() if line]
    got["secret"] = s.get(f"{base}/secret").text
    denied = s.delete(f"{base}/echo/orders/7")
    got["denied"] = {"status": denied.status_code, "body": denied.json()}
    return got


def with_websockets(base, token, ca):
    from websockets.sync.client import connect

    ctx = ssl.create_default_context(cafile=ca)
    url = base.replace("https://", "wss://") + "/ws"
    got = []
    with connect(url, ssl=ctx, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for message in ["hello", "secret", b"\x00\x01binary"]:
            ws.send(message)
            reply = ws.recv(timeout=10)
            got.append(reply if isinstance(reply, str) else {"binary": reply.hex()})
        ws.ping(b"are you there").wait(timeout=10)
    return {"replies": got}


def main():
    mode, base, token, ca = sys.argv[1:5]
    run = {"requests": with_requests, "websocket": with_websockets}[mode]
    print(json.dumps(run(base, token, ca)))


if __name__ == "__main__":
    main()
