"""The checks .ci/deploy.sh runs on the Compose stack (deploy/compose) once it is up.

Real clients from the host (psql, ssh) through both replicas; a replica killed mid-session
(everything it acknowledged is in the store, and its session ends `incomplete` when it comes
back); a replica stopped cleanly (its session ends, not left open); metrics and readiness; the
SIEM's copy of every event against the store; and `ward verify`.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

PASSWORD = "alice-password-change-me"
REPLICAS = {
    "ward-1": {"pg": 6432, "ssh": 2222, "metrics": 9464, "container": "ward_ward-1_1"},
    "ward-2": {"pg": 6433, "ssh": 2223, "metrics": 9465, "container": "ward_ward-2_1"},
}


def step(text):
    print(f"-- {text}", flush=True)


def until(what, check, seconds=120):
    """Calls check() until it returns something true; fails naming `what` after `seconds`."""
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            got = check()
            if got:
                return got
        except Exception as e:  # noqa: BLE001 - a check that fails is tried again
            last = e
        time.sleep(0.5)
    sys.exit(f"deploy check failed: {what} (last error: {last})")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def run(*args, stdin=None, env=None, check=True):
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, timeout=120)
    if check and done.returncode != 0:
        sys.exit(f"deploy check failed: {' '.join(args)}: {done.stdout}{done.stderr}")
    return done


def pg_url(replica):
    return f"host=127.0.0.1 port={REPLICAS[replica]['pg']} user=alice dbname=shop sslmode=require"


def psql(replica, sql, check=True):
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    return run("psql", pg_url(replica), "-X", "-At", "-c", sql, env=env, check=check)


def ward(*args, replica="ward-1"):
    """`ward ARGS` inside a replica's container, on the shared store."""
    return run("podman", "exec", REPLICAS[replica]["container"], "ward", *args).stdout


def sessions(replica="ward-1"):
    return json.loads(ward("sessions", "list", "--json", replica=replica))


def events(session_id, replica="ward-1"):
    return json.loads(ward("sessions", "show", session_id, "--json", replica=replica))["events"]


def wait_up(replica):
    r = REPLICAS[replica]
    until(f"{replica} listens", lambda: all(port_open(r[p]) for p in ("pg", "ssh", "metrics")))
    until(f"{replica} is ready", lambda: http(f"http://127.0.0.1:{r['metrics']}/readyz") == "ready")


def http(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


def main():
    step("the init service made the keys, the schema and alice")
    until("init finished", lambda: run("podman", "wait", "ward_init_1", check=False).stdout.strip() == "0", 300)
    for replica in REPLICAS:
        wait_up(replica)

    step("psql and ssh through both replicas")
    askpass = "/tmp/ward-deploy-askpass.sh"
    with open(askpass, "w") as f:
        f.write(f"#!/bin/sh\necho '{PASSWORD}'\n")
    os.chmod(askpass, 0o700)
    ssh_env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    for replica, r in REPLICAS.items():
        # The example database may still be starting (its first start initializes it).
        rows = until(
            f"psql through {replica}",
            lambda: psql(replica, "SELECT name FROM customers ORDER BY id", check=False).stdout.split(),
        )
        assert rows == ["Ada", "Lovelace", "Alan", "Turing"], rows
        refused = psql(replica, "DROP TABLE customers", check=False)
        assert refused.returncode != 0 and "no-drops" in refused.stderr, refused.stderr
        said = run(
            "ssh", "-p", str(r["ssh"]), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "alice:web1@127.0.0.1", f"echo through {replica} as $(whoami)", env=ssh_env,
        ).stdout.strip()
        assert said == f"through {replica} as app", said

    step("ward-1 killed mid-session: what it acknowledged is in the store")
    client = subprocess.Popen(
        ["psql", pg_url("ward-1"), "-X", "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PGPASSWORD=PASSWORD),
    )
    acked = []
    for i in range(40):
        client.stdin.write(f"SELECT 'ack-{i}';\n")
        client.stdin.flush()
        line = client.stdout.readline().strip()
        assert line == f"ack-{i}", line
        acked.append(line)
    run("podman", "kill", "--signal", "KILL", REPLICAS["ward-1"]["container"])
    client.stdin.write("SELECT 'after the kill';\n")
    client.stdin.close()
    client.wait(timeout=30)
    assert client.returncode != 0, "psql noticed the replica was gone"
    if run("podman", "inspect", "-f", "{{.State.Running}}", REPLICAS["ward-1"]["container"]).stdout.strip() != "true":
        run("podman", "start", REPLICAS["ward-1"]["container"])
    wait_up("ward-1")

    def killed_session():
        for s in sessions("ward-2"):
            texts = json.dumps([e["payload"] for e in events(s["id"], "ward-2") if e["kind"] == "db.query"])
            if "ack-0" in texts:
                return s, texts
        return None

    session, texts = until("the killed session is in the store", killed_session)
    missing = [a for a in acked if a not in texts]
    assert not missing, f"acknowledged but not recorded: {missing}"
    ended = until(
        "the killed session ends incomplete once ward-1 is back",
        lambda: next((s for s in sessions("ward-2") if s["id"] == session["id"] and s["outcome"]), None),
    )
    assert ended["outcome"] == "incomplete", ended

    step("ward-2 stopped cleanly mid-session: its session ends, not left open")
    client = subprocess.Popen(
        ["psql", pg_url("ward-2"), "-X", "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PGPASSWORD=PASSWORD),
    )
    client.stdin.write("SELECT 'open on ward-2';\n")
    client.stdin.flush()
    assert client.stdout.readline().strip() == "open on ward-2"
    run("podman", "stop", "-t", "20", REPLICAS["ward-2"]["container"])
    client.stdin.close()
    client.wait(timeout=30)

    def stopped_session():
        for s in sessions("ward-1"):
            if s["outcome"] and "open on ward-2" in json.dumps(events(s["id"])):
                return s
        return None

    stopped = until("the stopped replica's session ended", stopped_session, 30)
    assert stopped["outcome"] == "incomplete", stopped
    run("podman", "start", REPLICAS["ward-2"]["container"])
    wait_up("ward-2")

    step("metrics")
    psql("ward-1", "SELECT 1")

    def counted():
        m = http(f"http://127.0.0.1:{REPLICAS['ward-1']['metrics']}/metrics")
        return m if 'ward_sessions_total{protocol="postgres",outcome="ok"}' in m else None

    metrics = until("ward-1 counts its session", counted)
    assert 'ward_upstream_connect_seconds_count{protocol="postgres"}' in metrics, metrics

    step("the SIEM holds every event of the store, each session's in order")
    store = {s["id"]: [(e["seq"], e["hash"]) for e in events(s["id"])] for s in sessions()}

    def siem_complete():
        text = run("podman", "exec", "ward_siem_1", "cat", "/var/log/ward/events.jsonl", check=False).stdout
        got = {}
        for line in text.splitlines():
            e = json.loads(line)
            seen = got.setdefault(e["session"], [])
            if (e["seq"], e["hash"]) not in seen:
                assert not seen or e["seq"] > seen[-1][0] or (e["seq"], e["hash"]) in seen, (e, seen[-1])
                seen.append((e["seq"], e["hash"]))
        return all(got.get(sid) == evs for sid, evs in store.items())

    until("the SIEM caught up with the store", siem_complete)
    print(f"   {len(store)} sessions, {sum(map(len, store.values()))} events")

    step("ward verify")
    print("   " + ward("verify", "--all").strip().splitlines()[-1])

    step("the Helm chart's Deployment under podman kube play, on the same store")
    kube_play()


def kube_play():
    """Renders the chart for this stack (.ci/kube-values.yaml) and runs it with `podman kube
    play` on the Compose network: Ward's pod serves psql on the store the replicas share.

    Two workarounds for podman 4.3, neither in the chart: a Secret's `data` reaches a volume
    still base64-encoded, so the keys go in as a ConfigMap here; and `secretKeyRef`s read podman
    secrets, made below from the same values a cluster's Secrets would hold."""
    import base64

    keys = run("podman", "volume", "mount", "ward_ward-keys").stdout.strip()
    files = {n: n for n in ["signing.key", "mask.key", "ssh_host_key", "ssh_client_key",
                            "ssh_upstream_ca", "ssh_user_ca"]}
    files.update({"tls.crt": "tls/cert.pem", "tls.key": "tls/key.pem"})
    key_data = {k: open(os.path.join(keys, p)).read() for k, p in files.items()}
    run("podman", "volume", "unmount", "ward_ward-keys")
    env_secrets = {
        "ward-store": {"url": "postgres://ward:ward-password-change-me@store:5432/audit"},
        "ward-shop": {"password": "app-password-change-me"},
    }
    for name, data in env_secrets.items():
        encoded = json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
        run("podman", "secret", "rm", name, check=False)
        run("podman", "secret", "create", name, "-", stdin=encoded)
    rendered = run(os.environ["HELM"], "template", "ward", "deploy/helm/ward",
                   "-f", ".ci/kube-values.yaml").stdout
    secret_volume = "secret: { secretName: ward-keys, defaultMode: 0440, optional: false }"
    assert secret_volume in rendered, rendered
    rendered = rendered.replace(secret_volume, "configMap: { name: ward-keys }")
    keys_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ward-keys"},
                "data": key_data}
    play = "/tmp/ward-kube-play.yaml"
    with open(play, "w") as f:
        f.write(json.dumps(keys_map) + "\n---\n" + rendered)
    run("podman", "volume", "rm", "-f", "ward-keys", "ward-config", check=False)
    try:
        run("podman", "kube", "play", "--network", "ward_default", play)
        until("the pod serves psql", lambda: psql_at(16432, "SELECT count(*) FROM customers") == "2")
        assert http("http://127.0.0.1:19464/readyz") == "ready"
        user = run("podman", "inspect", "ward-pod-0-ward", "--format", "{{.Config.User}}").stdout.strip()
        assert user == "10001:10001" or user == "10001", user
        print("   psql through the pod, ready, running as uid 10001")
    finally:
        run("podman", "kube", "down", play, check=False)
        run("podman", "volume", "rm", "-f", "ward-keys", "ward-config", check=False)
        for name in env_secrets:
            run("podman", "secret", "rm", name, check=False)


def psql_at(port, sql):
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    url = f"host=127.0.0.1 port={port} user=alice dbname=shop sslmode=require"
    return run("psql", url, "-X", "-At", "-c", sql, env=env, check=False).stdout.strip()


if __name__ == "__main__":
    main()
