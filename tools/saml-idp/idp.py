#!/usr/bin/env python3
"""A loopback SAML 2.0 Identity Provider for Ward's integration tests.

    python3 idp.py CONFIG.json

Built on pysaml2's IdP (saml2.server.Server).  SP-initiated login only:
the SP sends an AuthnRequest with the HTTP-Redirect binding to /sso/redirect,
the user signs in on an HTML form, and the IdP answers with a signed Response
delivered by the HTTP-POST binding (an auto-submitting form) to the request's
AssertionConsumerServiceURL.  See README.md for CONFIG and the pages.

Prints `ready http://127.0.0.1:PORT` once the metadata is written and the
socket listens; runs until SIGTERM/SIGINT.
"""

import base64
import html
import json
import os
import secrets
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from samlcommon import cert_base64, make_keypair, xmlsec_binary  # first: silences a pysaml2 import warning
import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import AttributeConverterNOOP
from saml2.config import IdPConfig
from saml2.saml import AUTHN_PASSWORD, NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256


# user "sign" option -> (sign_response, sign_assertion)
SIGN_MODES = {"both": (True, True), "assertion": (False, True), "response": (True, False), "none": (False, False)}


class Idp:
    def __init__(self, config, port):
        self.users = {u["username"]: u for u in config.get("users", [])}
        for user in self.users.values():
            if user.get("sign", "both") not in SIGN_MODES:
                raise SystemExit(f"user {user['username']}: sign must be one of {sorted(SIGN_MODES)}")
        self.base = f"http://127.0.0.1:{port}"
        self.entity_id = config.get("entity_id") or f"{self.base}/metadata"
        self.sp_metadata_file = config.get("sp_metadata_file")
        self.sp_metadata_url = config.get("sp_metadata_url")
        self.sp_ca_file = config.get("sp_ca_file")
        out_dir = config["out_dir"]
        os.makedirs(out_dir, exist_ok=True)
        self.key_file = os.path.join(out_dir, "idp-key.pem")
        self.cert_file = os.path.join(out_dir, "idp-cert.pem")
        self.metadata_file = os.path.join(out_dir, "idp-metadata.xml")
        self.xmlsec = xmlsec_binary()
        self.sessions = {}  # session id -> (parsed AuthnRequest, RelayState)
        self.lock = threading.Lock()

        make_keypair("Ward test SAML IdP", self.key_file, self.cert_file)
        self.metadata = self.metadata_xml()
        with open(self.metadata_file, "w") as f:
            f.write(self.metadata)

    def metadata_xml(self):
        """Our EntityDescriptor: the signing certificate and the HTTP-Redirect SSO endpoint."""
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{html.escape(self.entity_id)}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_base64(self.cert_file)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>{NAMEID_FORMAT_UNSPECIFIED}</md:NameIDFormat>
    <md:NameIDFormat>{NAMEID_FORMAT_PERSISTENT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{self.base}/sso/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""

    def sp_metadata(self):
        """The SP's metadata, read afresh on every request (Ward publishes it only once it runs)."""
        if self.sp_metadata_file and os.path.exists(self.sp_metadata_file):
            with open(self.sp_metadata_file) as f:
                return f.read()
        if self.sp_metadata_url:
            res = requests.get(self.sp_metadata_url, timeout=10, verify=self.sp_ca_file or True)
            res.raise_for_status()
            return res.text
        raise RuntimeError("no SP metadata yet (sp_metadata_file missing and no sp_metadata_url)")

    def server(self):
        """A pysaml2 IdP that knows the SP's current metadata (cheap enough to build per request)."""
        conf = IdPConfig()
        conf.load({
            "entityid": self.entity_id,
            "xmlsec_binary": self.xmlsec,
            "key_file": self.key_file,
            "cert_file": self.cert_file,
            "metadata": {"inline": [self.sp_metadata()]},
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                "want_authn_requests_signed": False,
                # Attributes go out with their plain names (groups, email, uid) in the basic name format.
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC,
                                       "attribute_restrictions": None}},
            }},
        })
        # No attribute name mapping: "groups" stays "groups" instead of an OID.
        conf.attribute_converters = [AttributeConverterNOOP(NAME_FORMAT_BASIC)]
        return Server(config=conf)

    def start_login(self, saml_request, relay_state):
        """Parses an HTTP-Redirect AuthnRequest (base64 of deflated XML) and opens a login session."""
        request = self.server().parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        session = secrets.token_urlsafe(16)
        with self.lock:
            self.sessions[session] = (request.message, relay_state)
        return session

    def finish_login(self, session, username, password):
        """Returns (acs_url, base64 SAMLResponse, RelayState), or None for bad credentials.

        Raises KeyError for an unknown session."""
        with self.lock:
            request, relay_state = self.sessions[session]
        user = self.users.get(username)
        if not user or user.get("password") != password:
            return None
        with self.lock:
            self.sessions.pop(session, None)  # one response per AuthnRequest

        server = self.server()
        # Destination = the request's ACS URL, checked against the SP metadata (POST binding).
        args = server.response_args(request, [BINDING_HTTP_POST])
        policy = request.name_id_policy
        fmt = NAMEID_FORMAT_PERSISTENT if policy is not None and policy.format == NAMEID_FORMAT_PERSISTENT \
            else NAMEID_FORMAT_UNSPECIFIED
        sign_response, sign_assertion = SIGN_MODES[user.get("sign", "both")]
        identity = {"uid": [username], "groups": list(user.get("groups", []))}
        if user.get("email"):
            identity["email"] = [user["email"]]
        response = server.create_authn_response(
            identity,
            in_response_to=args["in_response_to"],
            destination=args["destination"],
            sp_entity_id=args["sp_entity_id"],
            name_id=NameID(format=fmt, text=username),
            authn={"class_ref": AUTHN_PASSWORD},
            sign_response=sign_response,
            sign_assertion=sign_assertion,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        return args["destination"], base64.b64encode(str(response).encode()).decode(), relay_state


def login_page(session, error=False):
    message = '<p class="error">Invalid username or password.</p>\n' if error else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta name="idp-page" content="login"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
{message}<form method="post" action="/sso/login">
<input type="hidden" name="session" value="{html.escape(session)}">
<label>Username <input type="text" name="username" autofocus></label>
<label>Password <input type="password" name="password"></label>
<input type="submit" value="Sign in">
</form>
</body></html>
"""


def post_page(acs_url, saml_response, relay_state):
    # No <meta name="idp-page">: browser.mjs auto-submits a single-form page with a
    # .submit() script only when the page carries no idp-page marker (it fails on
    # unknown markers), so this page is marked with name="saml-page" instead.
    relay = f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">\n' if relay_state else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta name="saml-page" content="post"><title>Signing in</title></head>
<body>
<form method="post" action="{html.escape(acs_url)}">
<input type="hidden" name="SAMLResponse" value="{saml_response}">
{relay}<noscript><input type="submit" value="Continue"></noscript>
</form>
<script>document.forms[0].submit()</script>
</body></html>
"""


def error_page(message):
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta name="idp-page" content="error"><title>Error</title></head>
<body><p class="error">{html.escape(message)}</p></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    idp = None  # set in main()

    def log_message(self, fmt, *args):
        sys.stderr.write("idp: " + fmt % args + "\n")

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/metadata":
            return self.send(200, self.idp.metadata, "application/samlmetadata+xml")
        if url.path == "/sso/redirect":
            if "SAMLRequest" not in query:
                return self.send(400, error_page("missing SAMLRequest"))
            try:
                session = self.idp.start_login(query["SAMLRequest"], query.get("RelayState", ""))
            except Exception as err:  # a bad request or no SP metadata: show why
                return self.send(400, error_page(f"bad AuthnRequest: {type(err).__name__}: {err}"))
            return self.send(200, login_page(session))
        self.send(404, error_page("not found"))

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/sso/login":
            return self.send(404, error_page("not found"))
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        session = form.get("session", "")
        try:
            result = self.idp.finish_login(session, form.get("username", ""), form.get("password", ""))
        except KeyError:
            return self.send(400, error_page("unknown or used login session"))
        except Exception as err:
            return self.send(500, error_page(f"cannot build response: {type(err).__name__}: {err}"))
        if result is None:
            return self.send(200, login_page(session, error=True))
        self.send(200, post_page(*result))


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: idp.py CONFIG.json")
    with open(sys.argv[1]) as f:
        config = json.load(f)
    httpd = ThreadingHTTPServer(("127.0.0.1", int(config.get("port", 0))), Handler)
    httpd.daemon_threads = True
    Handler.idp = Idp(config, httpd.server_address[1])

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread: do it from another.
        threading.Thread(target=httpd.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ready {Handler.idp.base}", flush=True)
    httpd.serve_forever()
    httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
