"""Helpers shared by idp.py, craft.py and selftest.py."""

import datetime
import shutil
import warnings

# pysaml2 7.5.5 touches cryptography's deprecated CFB mode when saml2 is imported;
# keep that warning out of the output (import this module before saml2).
warnings.filterwarnings("ignore", message="CFB has been moved")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def xmlsec_binary():
    """Path of the xmlsec1 binary pysaml2 (and craft.py) sign and verify with."""
    path = shutil.which("xmlsec1")
    if not path:
        raise SystemExit("xmlsec1 not found on PATH (apt-get install -y xmlsec1)")
    return path


def make_keypair(common_name, key_path, cert_path):
    """Writes a fresh RSA-2048 key and a self-signed certificate (valid one day) as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def cert_base64(cert_path):
    """The certificate's DER as base64 on one line (the form used in metadata and ds:KeyInfo)."""
    with open(cert_path) as f:
        lines = f.read().strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))
