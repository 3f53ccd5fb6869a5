"""DSSE envelopes (https://github.com/secure-systems-lab/dsse) signed with
Ed25519: the pre-authentication encoding, signing, verifying, and the key
files. Pure (no database), so a consumer's check and ours are the same code.

An envelope is `{"payload": b64(body), "payloadType": T, "signatures":
[{"keyid": K, "sig": b64(Ed25519(PAE(T, body)))}]}`, where
PAE(T, body) = "DSSEv1 " + len(T) + " " + T + " " + len(body) + " " + body.
The key id is the hex SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentinel.errors import ConfigError

PAYLOAD_TYPE = "application/vnd.sentinel.run-completion+json"
SIGNATURE_BYTES = 64


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """The Ed25519 private key of SENTINEL_SIGNING_KEY_FILE (PEM, PKCS#8)."""
        key = _load_pem(path, private=True)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"SENTINEL_SIGNING_KEY_FILE: {path} is not an Ed25519 private key")
        return cls(key)

    def sign(self, payload: bytes, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
        signature = self.private_key.sign(pae(payload_type, payload))
        return envelope(payload, payload_type, [{"keyid": self.key_id, "sig": _b64(signature)}])


def envelope(
    payload: bytes, payload_type: str = PAYLOAD_TYPE, signatures: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """An envelope; with no signatures, an unsigned one (no key configured)."""
    return {"payload": _b64(payload), "payloadType": payload_type, "signatures": signatures or []}


def payload_of(env: Mapping[str, Any]) -> bytes:
    return base64.b64decode(str(env.get("payload", "")), validate=True)


def verify(env: Mapping[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """None when a signature by `public_key` verifies over the envelope's
    payload and type; else why not, in one line."""
    payload_type = env.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        return f"payload type {payload_type!r}, not {PAYLOAD_TYPE}"
    try:
        body = payload_of(env)
    except (binascii.Error, ValueError):
        return "the payload is not base64"
    signatures = env.get("signatures") or []
    if not signatures:
        return "unsigned (no SENTINEL_SIGNING_KEY_FILE when it was written)"
    wanted = key_id(public_key)
    others: list[str] = []
    for signature in signatures:
        keyid = str(signature.get("keyid") or "")
        if keyid and keyid != wanted:
            others.append(keyid)
            continue
        try:
            raw = base64.b64decode(str(signature.get("sig", "")), validate=True)
        except (binascii.Error, ValueError):
            return "the signature is not base64"
        if len(raw) != SIGNATURE_BYTES:
            return f"the signature is {len(raw)} bytes, not {SIGNATURE_BYTES}: truncated or padded"
        try:
            public_key.verify(raw, pae(PAYLOAD_TYPE, body))
        except InvalidSignature:
            return (
                "the signature does not match the payload: the payload or the signature was changed"
            )
        return None
    return f"signed by key {_short(others[0])}, not by the given key {_short(wanted)} (wrong key)"


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """A new private key file, readable by its owner only; never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists already: not overwriting a key") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem(key))


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key file, or a private one (its public half)."""
    try:
        key: Any = _load_pem(path, private=True)
        if isinstance(key, Ed25519PrivateKey):
            return key.public_key()
    except ConfigError:
        pass
    key = _load_pem(path, private=False)
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public or private key")
    return key


def _load_pem(path: Path, *, private: bool) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, binascii.Error):
        kind = "private" if private else "public"
        raise ConfigError(f"{path} is not a PEM {kind} key (unencrypted)") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _short(keyid: str) -> str:
    return keyid[:16]
