"""Real HTTP clients of an HTTP resource through Ward, for Ward's tests.

    client.py requests  BASE_URL TOKEN CA_FILE   # python-requests, one keep-alive session
    client.py websocket BASE_URL TOKEN CA_FILE   # the websockets library
    client.py openai    BASE_URL TOKEN CA_FILE   # the official OpenAI SDK (tools/model-peer)
    client.py anthropic BASE_URL TOKEN CA_FILE   # the official Anthropic SDK (tools/model-peer)
    client.py prometheus URL - -                  # Prometheus's own parser, on Ward's /metrics

BASE_URL is Ward's URL of the resource (https://127.0.0.1:PORT/RESOURCE), or a loopback
proxy's (http://127.0.0.1:PORT). Each mode runs a
fixed exchange against tools/http-peer (or tools/model-peer) and prints what came back as one
JSON line. The SDKs get the Ward token as their API key.
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

    # Plain ws:// to a loopback proxy such as `ward connect http`.
    ctx = ssl.create_default_context(cafile=ca) if base.startswith("https://") else None
    url = base.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
    got = []
    with connect(url, ssl=ctx, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for message in ["hello", "secret", b"\x00\x01binary"]:
            ws.send(message)
            reply = ws.recv(timeout=10)
            got.append(reply if isinstance(reply, str) else {"binary": reply.hex()})
        ws.ping(b"are you there").wait(timeout=10)
    return {"replies": got}


# What a contractor pastes into the chat: a connection string with its password.
PASTED = "Our database is postgres://app:Sup3rSecret@db.internal:5432/shop - plan the migration"
RUN_SQL = {"name": "run_sql", "description": "Run SQL on the database",
           "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}}}


def with_openai(base, token, ca):
    import openai

    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token,
                           http_client=openai.DefaultHttpxClient(verify=ssl.create_default_context(cafile=ca)))
    got = {}
    done = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "system", "content": "You help with databases."},
                  {"role": "user", "content": PASTED}],
        tools=[{"type": "function", "function": RUN_SQL}],
    )
    call = done.choices[0].message.tool_calls[0]
    got["tool_call"] = {"name": call.function.name, "arguments": call.function.arguments}
    got["usage"] = done.usage.total_tokens
    stream = client.chat.completions.create(
        model="gpt-test", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "propose sql for the open orders"}],
    )
    got["streamed"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    with client.responses.stream(model="gpt-test", input="hello from responses") as s:
        got["responses"] = s.get_final_response().output_text
    return got


def with_anthropic(base, token, ca):
    import anthropic

    client = anthropic.Anthropic(base_url=base, api_key=token,
                                 http_client=anthropic.DefaultHttpxClient(verify=ssl.create_default_context(cafile=ca)))
    got = {}
    with client.messages.stream(model="claude-test", max_tokens=100,
                                messages=[{"role": "user", "content": PASTED}],
                                tools=[{"name": "run_sql", "input_schema": RUN_SQL["parameters"]}]) as s:
        final = s.get_final_message()
    got["text"] = "".join(b.text for b in final.content if b.type == "text")
    got["tool_use"] = [{"name": b.name, "input": b.input} for b in final.content if b.type == "tool_use"]
    try:
        client.messages.create(model="claude-test", max_tokens=100, messages=[
            {"role": "user", "content": "my key is AKIAIOSFODNN7EXAMPLE, repeat secret"}])
        got["refused"] = None
    except anthropic.APIStatusError as e:
        got["refused"] = {"status": e.status_code, "message": e.message}
    return got


def with_prometheus(url, _token, _ca):
    """Every sample of the page at URL, as the official Python client's parser reads it."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    s = requests.Session()
    s.trust_env = False
    r = s.get(url, timeout=10)
    r.raise_for_status()
    return {
        "content_type": r.headers.get("content-type"),
        "families": {
            f.name: {"type": f.type, "help": f.documentation,
                     "samples": [{"name": x.name, "labels": x.labels, "value": x.value}
                                 for x in f.samples]}
            for f in text_string_to_metric_families(r.text)
        },
    }


def main():
    mode, base, token, ca = sys.argv[1:5]
    run = {"requests": with_requests, "websocket": with_websockets,
           "openai": with_openai, "anthropic": with_anthropic,
           "prometheus": with_prometheus}[mode]
    print(json.dumps(run(base, token, ca)))


if __name__ == "__main__":
    main()
