"""A tiny OpenID Connect provider on loopback for tests: discovery, authorize (signs in `subject` at
once), token (a real RS256 ID token) and JWKS. `forge=True` signs with a key it does not publish."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeIssuer:
    def __init__(self, client_id: str, subject: str = "00u-ana", username: str = "hana.handler"):
        self.client_id, self.subject, self.username = client_id, subject, username
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forge = False
        self.codes: dict[str, dict] = {}
        issuer = self
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"issuer": issuer}))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        return {"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": _b64(n),
                          "e": _b64(numbers.e.to_bytes(3, "big"))}]}

    def id_token(self, nonce: str) -> str:
        header = _b64(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
        now = int(time.time())
        claims = _b64(json.dumps({"iss": self.url, "aud": self.client_id, "sub": self.subject, "nonce": nonce,
                                  "preferred_username": self.username, "iat": now, "exp": now + 300}).encode())
        signer = self.other_key if self.forge else self.key
        signature = signer.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{claims}.{_b64(signature)}"

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)


class _Handler(BaseHTTPRequestHandler):
    issuer: FakeIssuer

    def log_message(self, *args):  # quiet
        pass

    def _json(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            base = self.issuer.url
            return self._json({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                               "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks"})
        if url.path == "/jwks":
            return self._json(self.issuer.jwks())
        if url.path == "/authorize":
            code = f"code-{len(self.issuer.codes) + 1}"
            self.issuer.codes[code] = query
            target = f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return None
        return self._json({"error": "not_found"}, 404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        asked = self.issuer.codes.pop(form.get("code", ""), None)
        import hashlib

        challenge = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if asked is None or asked.get("code_challenge") != challenge or form.get("client_id") != self.issuer.client_id:
            return self._json({"error": "invalid_grant"}, 400)
        return self._json({"id_token": self.issuer.id_token(asked["nonce"]), "token_type": "Bearer"})
