"""A stand-in for Google's OIDC signer: an RSA key made at start, its certificate in the format of
https://www.googleapis.com/oauth2/v1/certs (``{key id: PEM certificate}``), and ID tokens like the ones Pub/Sub
push attaches (RS256, ``iss`` https://accounts.google.com, ``aud``, ``email``, ``email_verified``, ``exp``)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

GOOGLE_ISSUER = "https://accounts.google.com"


class OidcSigner:
    def __init__(self, *, key_id: str | None = None) -> None:
        self.key_id = key_id or secrets.token_hex(20)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._signer = crypt.RSASigner.from_string(self._private_pem, key_id=self.key_id)
        self.certificate_pem = _self_signed(self._key).decode("ascii")

    @property
    def private_key_pem(self) -> str:
        return self._private_pem.decode("ascii")

    def certs(self) -> dict[str, str]:
        return {self.key_id: self.certificate_pem}

    def mint(
        self,
        *,
        audience: str,
        email: str,
        email_verified: Any = True,
        issuer: str = GOOGLE_ISSUER,
        lifetime: int = 3600,
        issued_at: float | None = None,
        **extra: Any,
    ) -> str:
        now = int(issued_at if issued_at is not None else time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "azp": secrets.token_hex(10),
            "sub": str(secrets.randbelow(10**20)),
            "email": email,
            "email_verified": email_verified,
            "iat": now,
            "exp": now + lifetime,
            **extra,
        }
        return jwt.encode(self._signer, {k: v for k, v in claims.items() if v is not None}).decode("ascii")


def _self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fte-local-oidc")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
