"""Ed25519 approval signatures through the `cryptography` library (issue 17).

A private key is a PEM file (PKCS#8, unencrypted, owner-only); a public key is shown and
stored as 64 hex digits (its raw 32 bytes), short enough to paste into a policy.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from batch.errors import ConfigError

ENV_APPROVER_KEY = "PAYBATCH_APPROVER_KEY"
PUBLIC_KEY_HEX_LENGTH = 64


def generate_key(path: Path) -> str:
    """Write a new private key to `path` (refusing to overwrite one); its public key, hex."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: a file is already there; keygen never overwrites") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = public_key_hex(key)
    path.with_name(path.name + ".pub").write_text(public + "\n")
    return public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file, or one clear ConfigError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the approver key ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key (make one with `paybatch keygen`)")
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key of a private key, as hex."""
    return key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ).hex()


def normalise_public_key(text: str) -> str:
    """A public key given by a user (hex, or a file holding it), checked, as lower-case hex."""
    value = text.strip()
    candidate = Path(value)
    if len(value) != PUBLIC_KEY_HEX_LENGTH and candidate.is_file():
        value = candidate.read_text().strip()
    value = value.lower()
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
    except ValueError:
        raise ConfigError(
            f"{text!r} is not an Ed25519 public key (64 hex digits, as `paybatch keygen` prints)"
        ) from None
    return value


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The signature of `message`, hex."""
    return key.sign(message).hex()


def verify(public_key: str, message: bytes, signature: str) -> bool:
    """Whether `signature` (hex) is `public_key`'s (hex) signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True
