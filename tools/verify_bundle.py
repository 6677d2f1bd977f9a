#!/usr/bin/env python3
"""Verifies a Ward export bundle (`ward export ID --out FILE`) independently of Ward.

Written from docs/evidence.md, not from Ward's Rust code, so that an auditor can check a bundle
with tools they trust. It needs Python 3.8+ and the `cryptography` package (Ed25519):

    python3 -m pip install cryptography
    python3 tools/verify_bundle.py BUNDLE --key ed25519:BASE64 [--key ...]
    python3 tools/verify_bundle.py --self-test

It prints one line per check and a final line that starts with `verified`, `open` or `FAILED`.
Exit status: 0 when the session is verified up to its signed end, 1 when any check fails or the
session has no signed end (`open`: live, cut off, or its newest events removed; 0 instead with
--allow-open), 2 on a usage error or a file that is not a bundle.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import uuid

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - reported at startup
    Ed25519PublicKey = None

FORMAT = "ward.bundle.v1"
SESSION_TAG = b"ward.session.v1\x00"
EVENT_TAG = b"ward.event.v1\x00"
LEAF_TAG = b"ward.leaf.v1\x00"
CHECKPOINT_TAG = b"ward.checkpoint.v1\x00"
KEY_TAG = b"ward.key.v1\x00"
ZERO_HASH = bytes(32)


class Malformed(Exception):
    """A field of the bundle is not what the format says."""


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def u64(n):
    return struct.pack(">Q", n)


def i64(n):
    return struct.pack(">q", n)


# --- Ed25519, strict ---------------------------------------------------------------------------
# `cryptography` (OpenSSL) checks RFC 8032 signatures and rejects S >= L. Ward verifies strictly
# (ed25519-dalek `verify_strict`): it also refuses a public key or an R of small order, which
# OpenSSL accepts. Those two checks need a little curve arithmetic, done here with integers.

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(b):
    """The Edwards point (x, y) encoded by 32 bytes, or None when there is none."""
    y = int.from_bytes(b, "little") & (2**255 - 1)
    sign = b[31] >> 7
    y %= P
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if x & 1 != sign:
        x = (P - x) % P
    return (x, y)


def point_add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return (x3, y3)


def small_order(point):
    """Whether [8]point is the neutral element (0, 1)."""
    q = point
    for _ in range(3):
        q = point_add(q, q)
    return q == (0, 1)


def valid_public_key(raw):
    point = decode_point(raw) if len(raw) == 32 else None
    return point is not None and not small_order(point)


def verify_signature(public, message, signature):
    """Ed25519 with Ward's strict rules: 64 bytes, S < L, neither A nor R of small order."""
    if len(signature) != 64 or not valid_public_key(public):
        return False
    r = decode_point(signature[:32])
    if r is None or small_order(r) or int.from_bytes(signature[32:], "little") >= L:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# --- Keys ----------------------------------------------------------------------------------------


def parse_public_key(text):
    """`ed25519:<base64 of 32 bytes>` to the raw key, or None."""
    text = text.strip()
    if not text.startswith("ed25519:"):
        return None
    try:
        raw = base64.b64decode(text[len("ed25519:") :], validate=True)
    except ValueError:
        return None
    return raw if valid_public_key(raw) else None


def key_text(raw):
    return "ed25519:" + base64.b64encode(raw).decode()


def key_id(raw):
    return sha256(raw)


def fingerprint(kid):
    return "SHA256:" + base64.b64encode(kid).decode().rstrip("=")


def endorsement_message(new_key, created_at_ns):
    return KEY_TAG + new_key + i64(created_at_ns)


# --- The event chain, leaves, the Merkle tree (RFC 9162) and checkpoints ------------------------


def genesis(session):
    return sha256(SESSION_TAG, session)


def event_hash(prev, seq, at_ns, kind, payload):
    return sha256(
        EVENT_TAG, prev, u64(seq), i64(at_ns), struct.pack(">I", len(kind)), kind, sha256(payload)
    )


def leaf_bytes(session, events, head, ended):
    return LEAF_TAG + session + u64(events) + head + (b"\x01" if ended else b"\x00")


def leaf_hash(data):
    return sha256(b"\x00", data)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def merkle_root(hashes):
    """RFC 9162 §2.1.1 MTH over already-hashed leaves."""
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(merkle_root(hashes[:k]), merkle_root(hashes[k:]))


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2: whether `path` proves `leaf` is leaf `index` of a tree of `size`."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def checkpoint_body(seq, at_ns, prev, kid, leaf_count, root):
    return CHECKPOINT_TAG + u64(seq) + i64(at_ns) + prev + kid + u64(leaf_count) + root


# --- Reading the bundle strictly ----------------------------------------------------------------


def no_duplicate_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Malformed(f"the key `{k}` appears twice in one object")
        obj[k] = v
    return obj


def fields(obj, where, required, optional=()):
    if not isinstance(obj, dict):
        raise Malformed(f"{where} is not an object")
    missing = [k for k in required if k not in obj]
    unknown = [k for k in obj if k not in required and k not in optional]
    if missing or unknown:
        raise Malformed(f"{where}: missing {missing}, unknown {unknown}")
    return obj


def uint(v, where):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**64:
        raise Malformed(f"{where} is not an unsigned 64-bit integer")
    return v


def ns(v, where):
    """An i64 written as a decimal string."""
    digits = v[1:] if isinstance(v, str) and v.startswith("-") else v
    if not isinstance(digits, str) or not digits.isascii() or not digits.isdigit():
        raise Malformed(f"{where} is not a decimal string")
    n = int(v)
    if not -(2**63) <= n < 2**63:
        raise Malformed(f"{where} is out of the i64 range")
    return n


def hexbytes(v, where, size=None):
    if not isinstance(v, str) or len(v) % 2 or not all(c in "0123456789abcdefABCDEF" for c in v):
        raise Malformed(f"{where} is not hex")
    b = bytes.fromhex(v)
    if size is not None and len(b) != size:
        raise Malformed(f"{where} is {len(b)} bytes, not {size}")
    return b


def text(v, where):
    if not isinstance(v, str):
        raise Malformed(f"{where} is not a string")
    return v


def utf8(s, where):
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(f"{where} is not valid Unicode text") from None


# --- Verification -------------------------------------------------------------------------------


class Checks:
    """Prints each check as it is made and keeps the first failure."""

    def __init__(self, out):
        self.out = out
        self.failure = None

    def line(self, topic, result, message):
        print(f"{topic:<10} {result:<4} {message}", file=self.out)

    def ok(self, topic, message):
        self.line(topic, "ok", message)

    def note(self, topic, message):
        self.line(topic, "--", message)

    def warn(self, topic, message):
        self.line(topic, "WARN", message)

    def fail(self, topic, status, message):
        self.line(topic, "FAIL", message)
        if self.failure is None:
            self.failure = f"{status}: {message}"


def trusted_keys(bundle_keys, anchors, checks):
    """Anchors, plus every listed key endorsed (directly or through a chain) by a trusted one."""
    trusted = {key_id(k): "given with --key" for k in anchors}
    listed = []
    for i, k in enumerate(bundle_keys):
        where = f"keys[{i}]"
        fields(k, where, ("public_key", "created_at_ns", "endorsed_by", "endorsement"))
        raw = parse_public_key(text(k["public_key"], f"{where}.public_key"))
        if raw is None:
            raise Malformed(f"{where}.public_key is not a valid `ed25519:<base64>` key")
        created = ns(k["created_at_ns"], f"{where}.created_at_ns")
        by = k["endorsed_by"]
        sig = k["endorsement"]
        by = None if by is None else hexbytes(by, f"{where}.endorsed_by", 32)
        sig = None if sig is None else hexbytes(sig, f"{where}.endorsement")
        listed.append((raw, created, by, sig))
    by_id = {key_id(a): a for a in anchors}
    changed = True
    while changed:
        changed = False
        for raw, created, by, sig in listed:
            kid = key_id(raw)
            if kid in trusted or by is None or sig is None or by not in trusted:
                continue
            if verify_signature(by_id[by], endorsement_message(raw, created), sig):
                trusted[kid] = f"endorsed by {fingerprint(by)}"
                by_id[kid] = raw
                changed = True
    for raw, _, by, sig in listed:
        kid = key_id(raw)
        if kid in trusted:
            checks.ok("key", f"{fingerprint(kid)}  {key_text(raw)}  trusted: {trusted[kid]}")
        elif by is not None and by in trusted:
            checks.warn("key", f"{fingerprint(kid)}  its endorsement by {fingerprint(by)} does not verify")
        else:
            checks.note("key", f"{fingerprint(kid)}  {key_text(raw)}  not trusted")
    for a in anchors:
        if all(key_id(a) != key_id(raw) for raw, _, _, _ in listed):
            checks.note("key", f"{fingerprint(key_id(a))}  given with --key, not in the bundle's list")
    return by_id


def check_checkpoints(bundle, session, trusted, checks):
    """Checks signature, inclusion proof and links; returns the leaves of valid checkpoints."""
    signed = []  # (events, head, ended, checkpoint seq)
    seen = {}  # seq -> checkpoint hash

    def broken(message):
        checks.fail("checkpoint", "CHECKPOINT BROKEN", message)

    for i, c in enumerate(bundle["checkpoints"]):
        where = f"checkpoints[{i}]"
        fields(c, where, ("seq", "at_ns", "prev", "key_id", "leaf_count", "root", "signature", "leaf", "proof"))
        leaf = fields(c["leaf"], f"{where}.leaf", ("index", "events", "head", "ended"))
        if not isinstance(leaf["ended"], bool):
            raise Malformed(f"{where}.leaf.ended is not a boolean")
        if not isinstance(c["proof"], list):
            raise Malformed(f"{where}.proof is not a list")
        seq = uint(c["seq"], f"{where}.seq")
        prev = hexbytes(c["prev"], f"{where}.prev", 32)
        kid = hexbytes(c["key_id"], f"{where}.key_id", 32)
        count = uint(c["leaf_count"], f"{where}.leaf_count")
        root = hexbytes(c["root"], f"{where}.root", 32)
        body = checkpoint_body(seq, ns(c["at_ns"], f"{where}.at_ns"), prev, kid, count, root)
        signature = hexbytes(c["signature"], f"{where}.signature")
        index = uint(leaf["index"], f"{where}.leaf.index")
        events = uint(leaf["events"], f"{where}.leaf.events")
        head = hexbytes(leaf["head"], f"{where}.leaf.head", 32)
        path = [hexbytes(p, f"{where}.proof[{j}]", 32) for j, p in enumerate(c["proof"])]
        digest = sha256(body)
        name = f"checkpoint {seq}"
        if seq in seen:
            if seen[seq] != digest:
                broken(f"{name}: two different checkpoints with this seq")
            continue
        seen[seq] = digest
        if kid not in trusted:
            broken(f"{name}: signed by key {fingerprint(kid)}, which is not trusted")
            continue
        if not verify_signature(trusted[kid], body, signature):
            broken(f"{name}: the signature does not verify with key {fingerprint(kid)}")
            continue
        if seq == 0 and prev != ZERO_HASH:
            broken(f"{name}: the first checkpoint's prev is not zero")
            continue
        lh = leaf_hash(leaf_bytes(session, events, head, leaf["ended"]))
        if not verify_inclusion(lh, index, count, path, root):
            broken(f"{name}: the session's leaf is not in its Merkle tree (inclusion proof fails)")
            continue
        if events == 0:
            broken(f"{name}: signs a head of 0 events")
            continue
        ended = ", ended" if leaf["ended"] else ""
        checks.ok(
            "checkpoint",
            f"{name}  hash {digest.hex()}  signed by {fingerprint(kid)}; "
            f"leaf {index} of {count} included: {events} events{ended}",
        )
        signed.append((events, head, leaf["ended"], seq))
    # The bundle holds only the checkpoints that cover this session; where two consecutive ones
    # are both present, the later must name the earlier's hash as its prev.
    for seq, digest in sorted(seen.items()):
        successor = next((c for c in bundle["checkpoints"] if c["seq"] == seq + 1), None)
        if successor is None:
            continue
        if hexbytes(successor["prev"], "prev", 32) != digest:
            broken(f"checkpoint {seq + 1} does not link to checkpoint {seq}")
        else:
            checks.ok("checkpoint", f"checkpoint {seq + 1} links to checkpoint {seq}")
    return signed


def walk_events(bundle, session, signed, checks):
    """Recomputes the chain from genesis and holds it against the signed heads."""
    at_count = {}
    for events, head, _, seq in signed:
        at_count.setdefault(events, []).append((head, seq))
    ends = [(events, seq) for events, _, ended, seq in signed if ended]
    end = min(ends) if ends else None
    head, n = genesis(session), 0

    def broken(topic, status, message):
        checks.fail(topic, status, message)
        return n

    for i, e in enumerate(bundle["events"]):
        where = f"events[{i}]"
        fields(e, where, ("seq", "at_ns", "kind", "prev_hash", "hash"), ("payload", "payload_base64"))
        if ("payload" in e) == ("payload_base64" in e):
            raise Malformed(f"{where} needs exactly one of payload, payload_base64")
        if "payload" in e:
            payload = utf8(text(e["payload"], f"{where}.payload"), f"{where}.payload")
        else:
            try:
                payload = base64.b64decode(text(e["payload_base64"], where), validate=True)
            except ValueError:
                raise Malformed(f"{where}.payload_base64 is not base64") from None
        seq = uint(e["seq"], f"{where}.seq")
        at_ns = ns(e["at_ns"], f"{where}.at_ns")
        kind = utf8(text(e["kind"], f"{where}.kind"), f"{where}.kind")
        prev = hexbytes(e["prev_hash"], f"{where}.prev_hash")
        stored = hexbytes(e["hash"], f"{where}.hash")
        if seq > n:
            return broken("events", "MISSING EVENTS", f"events {n}..{seq - 1} are missing (next present: seq {seq})")
        if seq < n:
            return broken("events", "TAMPERED", f"seq {seq} repeated or out of order after seq {n - 1}")
        if end is not None and n >= end[0]:
            return broken("events", "TAMPERED", f"seq {seq} follows the session's end, signed by checkpoint {end[1]}")
        if prev != head:
            return broken("events", "TAMPERED", f"seq {seq}: prev_hash does not link to the event before")
        head = event_hash(head, seq, at_ns, kind, payload)
        if stored != head:
            return broken("events", "TAMPERED", f"seq {seq}: content does not match its hash")
        n += 1
        for signed_head, cp in at_count.get(n, []):
            if signed_head != head:
                return broken("heads", "TAMPERED", f"seq {seq}: differs from the head that checkpoint {cp} signed")
    checks.ok("events", f"{n} events: seq 0..{n - 1} continuous, every link and hash recomputed from genesis")
    return n


def check_summary(bundle, signed, found, checks):
    """Holds the unsigned `session` summary against the signed record.

    It fails where the summary accounts for more than is here: more events than present, or an
    end that no checkpoint signs (Ward signs every end in the transaction that records it). Other
    differences are reported as warnings: a live session may gain events during its export.
    """
    s = bundle["session"]
    count = s.get("event_count")
    if isinstance(count, int) and not isinstance(count, bool):
        if found < count:
            checks.fail("summary", "MISSING EVENTS", f"the session summary counts {count} events; {found} are present")
        elif found > count:
            checks.warn("summary", f"{found} events, but the session summary counts {count}")
    if s.get("ended_at") is not None and not any(ended for _, _, ended, _ in signed):
        checks.fail("summary", "TAMPERED", "the session summary says it ended, but no trusted checkpoint signs its end")

    def payload_of(kind):
        for e in bundle["events"]:
            if isinstance(e, dict) and e.get("kind") == kind and isinstance(e.get("payload"), str):
                try:
                    return json.loads(e["payload"])
                except ValueError:
                    return None
        return None

    start, end = payload_of("session.start"), payload_of("session.end")
    pairs = []
    if isinstance(start, dict):
        ident = start.get("identity") if isinstance(start.get("identity"), dict) else {}
        pairs += [
            ("id", start.get("id")),
            ("user", ident.get("subject")),
            ("groups", ident.get("groups")),
            ("auth_method", ident.get("method")),
            ("resource", start.get("resource")),
            ("protocol", start.get("protocol")),
            ("client_addr", start.get("client_addr")),
        ]
    if isinstance(end, dict):
        pairs += [(k, end.get(k)) for k in ("outcome", "bytes_up", "bytes_down")]
    differ = [k for k, v in pairs if k in s and s[k] != v]
    if differ:
        checks.warn("summary", f"the unsigned session summary differs from the signed events in {differ}")


def verify(bundle, anchors, out, allow_open=False):
    """Verifies a parsed bundle; returns the exit status."""
    checks = Checks(out)
    session_text = "?"
    try:
        fields(bundle, "the bundle", ("format", "exported_at", "session", "events", "checkpoints", "keys"))
        if not all(isinstance(bundle[k], list) for k in ("events", "checkpoints", "keys")):
            raise Malformed("events, checkpoints and keys must be lists")
        # The summary is not signed, and may gain fields: only `id` is required.
        if not isinstance(bundle["session"], dict) or "id" not in bundle["session"]:
            raise Malformed("session is not an object with an id")
        session_text = text(bundle["session"]["id"], "session.id")
        try:
            session = uuid.UUID(session_text).bytes
        except ValueError:
            raise Malformed("session.id is not a UUID") from None
        checks.note(
            "bundle",
            f"{FORMAT}, session {session_text}, {len(bundle['events'])} events, "
            f"{len(bundle['checkpoints'])} checkpoint(s), {len(bundle['keys'])} key(s)",
        )
        trusted = trusted_keys(bundle["keys"], anchors, checks)
        signed = check_checkpoints(bundle, session, trusted, checks)
        found = walk_events(bundle, session, signed, checks)
    except Malformed as e:
        checks.fail("bundle", "MALFORMED", str(e))
        print(f"FAILED {session_text}: {checks.failure}", file=out)
        return 1
    most = max(signed, default=None)
    if checks.failure is None:
        if most is not None and most[0] > found:
            checks.fail("count", "MISSING EVENTS", f"checkpoint {most[3]} signed {most[0]} events; only {found} are present")
        else:
            checks.ok("count", f"signed event count {most[0] if most else 0} is not more than the {found} events present")
        ends = [s for s in signed if s[2]]
        if ends and checks.failure is None:
            checks.ok("end", f"checkpoint {min(ends)[3]} signed the session's end at {min(ends)[0]} events; no event follows it")
    if checks.failure is None:
        check_summary(bundle, signed, found, checks)
    if checks.failure is not None:
        print(f"FAILED {session_text}: {checks.failure}", file=out)
        return 1
    if most is None:
        print(f"FAILED {session_text}: UNSIGNED: no trusted checkpoint signs any of its {found} events", file=out)
        return 1
    # The newest signed head; its checkpoint is the one with the highest seq among them.
    last = max((s for s in signed if s[0] == most[0]), key=lambda s: s[3])
    ends = [s for s in signed if s[2]]
    if ends and most[0] == found:
        print(f"verified {session_text}: {found} events, the last signed by checkpoint {last[3]}", file=out)
        return 0
    # Without a signed end, a session whose newest events were removed together with the
    # checkpoint leaves that covered them looks exactly like a live one: never complete.
    print(
        f"open {session_text}: {found} events and no signed end (live, cut off, or its newest events removed); "
        f"the last {found - most[0]} not signed yet, the first {most[0]} signed by checkpoint {last[3]}",
        file=out,
    )
    return 0 if allow_open else 1


# --- Test vectors (docs/evidence.md; the same values are asserted by Ward's `cargo test`) -------


def self_test(out):
    session = uuid.UUID("0192f0c1-0000-7000-8000-000000000001").bytes
    at = 1_700_000_000_000_000_000
    g = genesis(session)
    h = event_hash(g, 0, at, b"session.start", b"{}")
    leaf = leaf_hash(leaf_bytes(session, 3, b"\x11" * 32, True))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = checkpoint_body(0, at, ZERO_HASH, key_id(public), 1, merkle_root([leaf]))
    signature = private.sign(body)
    got = {
        "genesis": g.hex(),
        "event hash": h.hex(),
        "leaf hash": leaf.hex(),
        "public key": key_text(public),
        "checkpoint hash": sha256(body).hex(),
        "signature": signature.hex(),
        "empty tree root": merkle_root([]).hex(),
    }
    want = {
        "genesis": "998729fa62374417067ac5322710df7ff4e64debc003b6c62cd40c94c34ba5df",
        "event hash": "06a9da76ffa3651556d680c0b8c47f44ab438928a6d5223ab3d0ad62eadc7227",
        "leaf hash": "fe930711d55f38a99de3787dae1d49e884d457a733a70e7951764edba2ae69a8",
        "public key": "ed25519:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=",
        "checkpoint hash": "2d59e7642a03339e4111b4b09d56da92bfb473aa6653390380c0d070d2ee1b38",
        "signature": "4fd6ba8ef59c939e1a7c06c5abcab7b4ceb23bb2aae54cae2ca978f77c00879f"
        "4666f7f0ad711ed213a4c08e379f3b49f16d79166ff1a9197eb8d7520d4bfc0e",
        "empty tree root": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    failed = 0
    for name, value in want.items():
        good = got[name] == value
        failed += not good
        print(f"{'ok' if good else 'FAIL':<4} {name}: {got[name]}", file=out)
    signature_ok = verify_signature(public, body, signature)
    tweaked_ok = verify_signature(public, body[:-1] + bytes([body[-1] ^ 1]), signature)
    identity_key = (1).to_bytes(32, "little")  # the neutral element: a small-order key
    weak_ok = verify_signature(identity_key, body, signature)
    failed += not signature_ok or tweaked_ok or weak_ok
    print(f"{'ok' if signature_ok and not tweaked_ok and not weak_ok else 'FAIL':<4} strict Ed25519", file=out)
    # Every audit path of every tree of 1..33 leaves verifies, at its index only.
    proofs_ok = True
    for n in range(1, 34):
        leaves = [leaf_hash(bytes([i])) for i in range(n)]
        root = merkle_root(leaves)
        for i in range(n):
            path = _audit_path(leaves, i)
            proofs_ok &= verify_inclusion(leaves[i], i, n, path, root)
            if n > 1:
                proofs_ok &= not verify_inclusion(leaves[(i + 1) % n], i, n, path, root)
    failed += not proofs_ok
    print(f"{'ok' if proofs_ok else 'FAIL':<4} RFC 9162 inclusion proofs, trees of 1..33 leaves", file=out)
    print("self-test passed" if not failed else f"self-test FAILED ({failed})", file=out)
    return 0 if not failed else 1


def _audit_path(leaves, m):
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), leaf upwards."""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return _audit_path(leaves[:k], m) + [merkle_root(leaves[k:])]
    return _audit_path(leaves[k:], m - k) + [merkle_root(leaves[:k])]


# --- Command line -------------------------------------------------------------------------------


def anchor(value):
    """`--key`: a public key, or a file holding a line `ed25519:...`."""
    raw = parse_public_key(value)
    if raw is None and os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip().startswith("ed25519:")]
        raw = parse_public_key(lines[0]) if lines else None
    if raw is None:
        raise argparse.ArgumentTypeError(f"not an Ed25519 public key: {value} (expected `ed25519:<base64>`, 32 bytes)")
    return raw


def main(argv):
    parser = argparse.ArgumentParser(description="Verify a Ward export bundle offline (docs/evidence.md).")
    parser.add_argument("bundle", nargs="?", help="the JSON file `ward export` wrote")
    parser.add_argument(
        "--key",
        action="append",
        type=anchor,
        default=[],
        help="a public key to trust, `ed25519:<base64>` or a file holding one (repeatable); "
        "keys it endorsed on rotation are trusted too",
    )
    parser.add_argument(
        "--allow-open",
        action="store_true",
        help="exit 0 for a session without a signed end (a live one); it is still reported as open",
    )
    parser.add_argument("--self-test", action="store_true", help="check the test vectors of docs/evidence.md")
    args = parser.parse_args(argv)
    if Ed25519PublicKey is None:
        print("verify_bundle.py: the `cryptography` package is missing: python3 -m pip install cryptography", file=sys.stderr)
        return 2
    if args.self_test:
        return self_test(sys.stdout)
    if args.bundle is None or not args.key:
        parser.error("give a bundle and at least one --key (get it out of band with `ward keys show`)")
    try:
        with open(args.bundle, "rb") as f:
            raw = f.read()
    except OSError as e:
        print(f"verify_bundle.py: {e}", file=sys.stderr)
        return 2
    try:
        bundle = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, Malformed) as e:
        print(f"verify_bundle.py: {args.bundle}: not a Ward export bundle: {e}", file=sys.stderr)
        return 2
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        print(f"verify_bundle.py: {args.bundle}: not a Ward export bundle (format is not `{FORMAT}`)", file=sys.stderr)
        return 2
    return verify(bundle, args.key, sys.stdout, args.allow_open)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
