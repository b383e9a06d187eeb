"""A real SMTP server for Lifeboat's alert tests: aiosmtpd with STARTTLS required (or, with MODE tls, TLS from the
first byte as on port 465), AUTH (PLAIN/LOGIN) required after TLS, and every accepted message written to
OUTDIR/<n>.eml. Prints READY when it listens; stops when stdin closes (its parent test went away).

usage: smtp-peer.py PORT CERT KEY USER PASSWORD OUTDIR [starttls|tls]
"""
import itertools
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
implicit = len(sys.argv) > 7 and sys.argv[7] == "tls"
counter = itertools.count(1)


class Keep:
    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        path = os.path.join(outdir, f"{n}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK kept as %d" % n


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
tls = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
controller = Controller(
    Keep(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=not implicit,
    **tls,
)
controller.start()
print("READY", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
