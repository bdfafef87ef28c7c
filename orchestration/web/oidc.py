"""Sign-in through the insurer's identity provider: OpenID Connect authorization code flow with PKCE.

The provider proves who the person is; Claimflow's identity store still decides what they may
do (roles), so an identity without an active Claimflow user is refused. The ID token's RS256
signature is checked against the provider's published keys (JWKS), and its issuer, audience,
expiry and nonce against this sign-in. Settings: `CLAIMFLOW_OIDC_ISSUER`, `CLAIMFLOW_OIDC_CLIENT_ID`,
`CLAIMFLOW_OIDC_CLIENT_SECRET` (secret, environment only), redirect `<CLAIMFLOW_PUBLIC_URL>/auth/callback`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from connectors.identity import AuthError

CLOCK_SKEW_SECONDS = 60


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _b64_int(data: str) -> int:
    return int.from_bytes(_b64(data), "big")


class OidcClient:
    """One relying party at one issuer."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str, timeout: float = 10):
        if not issuer or not client_id:
            raise AuthError("OIDC needs CLAIMFLOW_OIDC_ISSUER and CLAIMFLOW_OIDC_CLIENT_ID")
        self.issuer = issuer.rstrip("/")
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.timeout = timeout
        self._config: dict | None = None
        self._keys: dict | None = None

    @classmethod
    def from_environment(cls, issuer: str, client_id: str, redirect_uri: str) -> OidcClient:
        return cls(issuer, client_id, os.environ.get("CLAIMFLOW_OIDC_CLIENT_SECRET", ""), redirect_uri)

    def _get(self, url: str) -> dict:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise AuthError(f"the identity provider did not answer ({type(err).__name__})") from None

    @property
    def config(self) -> dict:
        """The provider's discovery document (fetched once)."""
        if self._config is None:
            config = self._get(f"{self.issuer}/.well-known/openid-configuration")
            if config.get("issuer", "").rstrip("/") != self.issuer:
                raise AuthError("the identity provider's discovery document names another issuer")
            self._config = config
        return self._config

    def authorization_url(self) -> tuple[str, dict]:
        """Where to send the browser, and what the session keeps to check the answer."""
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": "openid profile email", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        return f"{self.config['authorization_endpoint']}?{query}", {"state": state, "nonce": nonce,
                                                                   "verifier": verifier}

    def finish(self, code: str, state: str, pending: dict | None) -> dict:
        """Exchange the code and verify the ID token; its claims (`sub`, `preferred_username`...)."""
        if not pending or not state or not secrets.compare_digest(state, pending.get("state", "")):
            raise AuthError("the sign-in answer does not belong to this browser session (state mismatch)")
        if not code:
            raise AuthError("the identity provider sent no authorization code")
        body = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "client_id": self.client_id, "client_secret": self.client_secret, "code_verifier": pending["verifier"],
        }).encode()
        request = urllib.request.Request(self.config["token_endpoint"], data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                tokens = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            raise AuthError("the identity provider refused the authorization code") from None
        return self.verify(tokens.get("id_token", ""), pending["nonce"])

    def verify(self, id_token: str, nonce: str) -> dict:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce check out."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        try:
            head_b64, claims_b64, sig_b64 = id_token.split(".")
            header, claims = json.loads(_b64(head_b64)), json.loads(_b64(claims_b64))
        except ValueError:
            raise AuthError("the ID token is malformed") from None
        if header.get("alg") != "RS256":  # never "none", never an HMAC keyed with a public key
            raise AuthError(f"the ID token is signed with {header.get('alg')!r}, expected RS256")
        key = self._key(header.get("kid"))
        public = rsa.RSAPublicNumbers(_b64_int(key["e"]), _b64_int(key["n"])).public_key()
        try:
            public.verify(_b64(sig_b64), f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise AuthError("the ID token's signature is not the identity provider's") from None
        now = time.time()
        audience = claims.get("aud")
        if claims.get("iss", "").rstrip("/") != self.issuer:
            raise AuthError("the ID token comes from another issuer")
        if self.client_id not in (audience if isinstance(audience, list) else [audience]):
            raise AuthError("the ID token is meant for another application")
        if float(claims.get("exp", 0)) < now - CLOCK_SKEW_SECONDS:
            raise AuthError("the ID token has expired")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AuthError("the ID token answers another sign-in (nonce mismatch)")
        if not claims.get("sub"):
            raise AuthError("the ID token names no subject")
        return claims

    def _key(self, kid: str | None) -> dict:
        for refresh in (False, True):  # a key rotated since the last fetch: fetch once more
            if self._keys is None or refresh:
                self._keys = {k.get("kid"): k for k in self._get(self.config["jwks_uri"]).get("keys", [])
                              if k.get("kty") == "RSA"}
            if kid in self._keys or (kid is None and len(self._keys) == 1):
                return self._keys[kid] if kid in self._keys else next(iter(self._keys.values()))
        raise AuthError("the ID token is signed with a key the identity provider does not publish")
