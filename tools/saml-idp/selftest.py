#!/usr/bin/env python3
"""Self test: idp.py and craft.py against pysaml2's own SP (Saml2Client).

    python3 selftest.py

Starts idp.py, plays a fake SP (entity http://127.0.0.1:SPPORT/sp, ACS
http://127.0.0.1:SPPORT/acs) whose ACS just records what is posted to it,
runs SP-initiated logins (by hand and, when node is available, with
../oidc-idp/browser.mjs) and checks each crafted attack.  Exits non-zero on
the first failure.
"""

import base64
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from samlcommon import xmlsec_binary  # first: silences a pysaml2 import warning
import requests
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.sigver import CryptoBackendXmlSec1


HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "..", "oidc-idp", "browser.mjs")
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"

USERS = [
    {"username": "alice", "password": "pw", "groups": ["analysts", "dev"], "email": "alice@example.test"},
    {"username": "bob", "password": "pw", "groups": ["dev"], "sign": "assertion"},
    {"username": "carol", "password": "pw", "groups": [], "sign": "response"},
    {"username": "dave", "password": "pw", "groups": [], "sign": "none"},
]


def check(condition, message):
    if not condition:
        print(f"FAIL {message}", flush=True)
        sys.exit(1)
    print(f"ok   {message}", flush=True)


class Acs(BaseHTTPRequestHandler):
    """The fake SP's ACS: records the posted form, answers a plain page; GET serves the SP metadata."""
    posted = []
    metadata = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        Acs.posted.append(dict(urllib.parse.parse_qsl(body)))
        data = b"<html><body>signed in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # the SP metadata, for the sp_metadata_url variant
        data = Acs.metadata.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def sp_metadata(entity_id, acs_url):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{acs_url}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


def sp_client(entity_id, acs_url, idp_metadata_file):
    """pysaml2's SP, trusting the IdP metadata; wants signed assertions, response signature optional."""
    conf = SPConfig()
    conf.load({
        "entityid": entity_id,
        "xmlsec_binary": xmlsec_binary(),
        "metadata": {"local": [idp_metadata_file]},
        "allow_unknown_attributes": True,
        "accepted_time_diff": 30,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
            "authn_requests_signed": False,
            "want_assertions_signed": True,
            "want_response_signed": False,
            "allow_unsolicited": False,
        }},
    })
    return Saml2Client(config=conf)


def accept(client, saml_response, request_id):
    """(name_id, attributes) if pysaml2's SP accepts the response, else (None, reason)."""
    try:
        resp = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"})
    except Exception as err:
        return None, f"{type(err).__name__}: {str(err)[:120]}"
    if resp is None:
        return None, "parse returned None"
    return resp.name_id.text, resp.get_identity()


def login_by_hand(idp_base, client, idp_entity, username, password="pw"):
    """SP-initiated login with plain HTTP: returns (request_id, acs action, SAMLResponse, RelayState)."""
    request_id, info = client.prepare_for_authenticate(entityid=idp_entity, relay_state="rs-42",
                                                       binding=BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"]
    assert location.startswith(f"{idp_base}/sso/redirect?"), location
    page = requests.get(location, timeout=10).text
    check('<meta name="idp-page" content="login">' in page, f"{username}: login page")
    session = re.search(r'name="session" value="([^"]+)"', page).group(1)
    res = requests.post(f"{idp_base}/sso/login", data={"session": session, "username": username, "password": "nope"})
    check(res.status_code == 200 and '<p class="error">Invalid username or password.</p>' in res.text,
          f"{username}: wrong password shows the login page again with an error")
    res = requests.post(f"{idp_base}/sso/login", data={"session": session, "username": username, "password": password})
    check(res.status_code == 200 and "<script>" in res.text, f"{username}: auto-post page")
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', res.text).group(1))
    saml_response = re.search(r'name="SAMLResponse" value="([^"]+)"', res.text).group(1)
    relay_state = html.unescape(re.search(r'name="RelayState" value="([^"]*)"', res.text).group(1))
    return request_id, action, saml_response, relay_state


def main():
    logging.basicConfig(level=logging.CRITICAL)  # pysaml2 logs every rejected signature at length
    tmp = tempfile.mkdtemp(prefix="saml-idp-selftest-")
    acs_server = ThreadingHTTPServer(("127.0.0.1", 0), Acs)
    threading.Thread(target=acs_server.serve_forever, daemon=True).start()
    sp_base = f"http://127.0.0.1:{acs_server.server_address[1]}"
    sp_entity, acs_url = f"{sp_base}/sp", f"{sp_base}/acs"

    Acs.metadata = sp_metadata(sp_entity, acs_url)
    config = {"port": 0, "entity_id": None, "sp_metadata_file": os.path.join(tmp, "sp-metadata.xml"),
              "out_dir": tmp, "users": USERS}
    with open(os.path.join(tmp, "idp.json"), "w") as f:
        json.dump(config, f)
    idp = subprocess.Popen([sys.executable, os.path.join(HERE, "idp.py"), os.path.join(tmp, "idp.json")],
                           stdout=subprocess.PIPE, text=True)
    try:
        ready = idp.stdout.readline().strip()
        check(ready.startswith("ready http://127.0.0.1:"), f"idp.py printed {ready!r}")
        idp_base = ready.split()[1]
        idp_entity = f"{idp_base}/metadata"
        for name in ("idp-metadata.xml", "idp-key.pem", "idp-cert.pem"):
            check(os.path.exists(os.path.join(tmp, name)), f"{name} written")
        check(requests.get(f"{idp_base}/metadata", timeout=10).status_code == 200, "GET /metadata")
        # The SP metadata appears only after the IdP started (as with Ward).
        with open(config["sp_metadata_file"], "w") as f:
            f.write(Acs.metadata)
        client = sp_client(sp_entity, acs_url, os.path.join(tmp, "idp-metadata.xml"))

        # --- SP-initiated login by hand, then pysaml2's SP validates the Response.
        request_id, action, saml_response, relay_state = login_by_hand(idp_base, client, idp_entity, "alice")
        check(action == acs_url and relay_state == "rs-42", "response posts to the ACS with the RelayState")
        xml = etree.fromstring(base64.b64decode(saml_response))
        check(xml.find(f"{{{DS}}}Signature") is not None and xml.find(f"{{{SAML}}}Assertion/{{{DS}}}Signature")
              is not None, "response and assertion are both signed")
        name_id, identity = accept(client, saml_response, request_id)
        check(name_id == "alice", f"pysaml2 SP accepts alice's response (NameID {name_id!r})")
        check(sorted(identity.get("groups", [])) == ["analysts", "dev"]
              and identity.get("email") == ["alice@example.test"] and identity.get("uid") == ["alice"],
              f"attributes {identity}")

        # --- per-user signing modes (SP wants signed assertions).
        for user, accepted in (("bob", True), ("carol", False), ("dave", False)):
            request_id, _, saml_response, _ = login_by_hand(idp_base, client, idp_entity, user)
            name_id, why = accept(client, saml_response, request_id)
            check((name_id == user) == accepted,
                  f"{user} ({USERS[[u['username'] for u in USERS].index(user)]['sign']}): "
                  f"{'accepted' if name_id else 'rejected: ' + str(why)}")

        # --- the same login through the scripted browser of the OIDC tools.
        if shutil.which("node"):
            request_id, info = client.prepare_for_authenticate(entityid=idp_entity, relay_state="rs-browser",
                                                               binding=BINDING_HTTP_REDIRECT)
            start = dict(info["headers"])["Location"]
            out = subprocess.run(["node", BROWSER, "code", "--url", start, "--username", "alice", "--password", "pw"],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 0, f"browser.mjs completes the login (stderr: {out.stderr.strip()!r})")
            result = json.loads(out.stdout)
            posted = Acs.posted[-1]
            check(result["url"] == acs_url and posted.get("RelayState") == "rs-browser",
                  f"browser.mjs posted the response to the ACS ({result['url']})")
            check(accept(client, posted["SAMLResponse"], request_id)[0] == "alice",
                  "pysaml2 SP accepts the response delivered by browser.mjs")
            out = subprocess.run(["node", BROWSER, "code", "--url", start, "--username", "alice", "--password", "bad"],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 1 and "Invalid username or password" in out.stderr,
                  f"browser.mjs reports a wrong password ({out.stderr.strip()!r})")
        else:
            print("skip browser.mjs (no node)")

        # --- craft.py attacks against pysaml2's SP.
        def craft(attack):
            request_id = f"_req{os.urandom(8).hex()}"
            out = subprocess.run([sys.executable, os.path.join(HERE, "craft.py"),
                                  "--key", os.path.join(tmp, "idp-key.pem"), "--cert", os.path.join(tmp, "idp-cert.pem"),
                                  "--issuer", idp_entity, "--audience", sp_entity, "--recipient", acs_url,
                                  "--in-response-to", request_id, "--username", "alice", "--groups", "analysts,dev",
                                  "--attack", attack], capture_output=True, text=True, check=True)
            return request_id, out.stdout.strip()

        request_id, saml_response = craft("none")
        name_id, identity = accept(client, saml_response, request_id)
        check(name_id == "alice" and sorted(identity["groups"]) == ["analysts", "dev"], "craft none: accepted")
        for attack in ("unsigned", "wrong-audience", "expired", "tampered", "other-key"):
            request_id, saml_response = craft(attack)
            name_id, why = accept(client, saml_response, request_id)
            check(name_id is None, f"craft {attack}: rejected ({why})")
        # pysaml2's SP is not the reference for these two (Ward must reject them): just report.
        for attack in ("wrong-recipient", "wrong-in-response-to"):
            request_id, saml_response = craft(attack)
            name_id, why = accept(client, saml_response, request_id)
            print(f"info craft {attack}: pysaml2 SP {'ACCEPTED' if name_id else 'rejected (' + why + ')'}")

        idp_cert = os.path.join(tmp, "idp-cert.pem")
        xmlsec = CryptoBackendXmlSec1(xmlsec_binary())
        for attack in ("xsw-sibling", "xsw-wrapped", "xsw-extensions"):
            request_id, saml_response = craft(attack)
            raw = base64.b64decode(saml_response)
            doc = etree.fromstring(raw)
            # What a naive SP reads: the first saml:Assertion child of the Response.
            naive = doc.find(f"{{{SAML}}}Assertion/{{{SAML}}}Subject/{{{SAML}}}NameID").text
            signed = [a for a in doc.iter(f"{{{SAML}}}Assertion") if a.find(f"{{{DS}}}Signature") is not None
                      and a.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID").text == "alice"]
            check(len(signed) == 1 and naive == "mallory" and doc.find(f"{{{DS}}}Signature") is None,
                  f"craft {attack}: unsigned Response, first Assertion child is mallory's, alice's signed one present")
            valid = xmlsec.validate_signature(raw, idp_cert, "pem", f"{SAML}:Assertion", signed[0].get("ID"))
            check(valid, f"craft {attack}: alice's assertion signature still verifies")
            name_id, why = accept(client, saml_response, request_id)
            print(f"info craft {attack}: pysaml2 SP {'ACCEPTED as ' + name_id if name_id else 'rejected'}"
                  f"{'' if name_id else ' (' + why + ')'}")
            check(name_id != "mallory", f"craft {attack}: pysaml2 SP does not sign in mallory")
        # --- an IdP that fetches the SP metadata from a URL instead of a file.
        url_config = dict(config, sp_metadata_file=None, sp_metadata_url=f"{sp_base}/sp-metadata",
                          out_dir=os.path.join(tmp, "by-url"))
        with open(os.path.join(tmp, "idp-url.json"), "w") as f:
            json.dump(url_config, f)
        idp2 = subprocess.Popen([sys.executable, os.path.join(HERE, "idp.py"), os.path.join(tmp, "idp-url.json")],
                                stdout=subprocess.PIPE, text=True)
        try:
            idp2_base = idp2.stdout.readline().split()[1]
            client2 = sp_client(sp_entity, acs_url, os.path.join(tmp, "by-url", "idp-metadata.xml"))
            request_id, _, saml_response, _ = login_by_hand(idp2_base, client2, f"{idp2_base}/metadata", "alice")
            check(accept(client2, saml_response, request_id)[0] == "alice", "sp_metadata_url: alice accepted")
        finally:
            idp2.terminate()
            idp2.wait(timeout=10)
    finally:
        idp.terminate()
        code = idp.wait(timeout=10)
        acs_server.shutdown()
    check(code == 0, "idp.py exits 0 on SIGTERM")
    shutil.rmtree(tmp, ignore_errors=True)
    print("selftest passed")


if __name__ == "__main__":
    main()
