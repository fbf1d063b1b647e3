"""HTTPS for the sandbox: TextLink is only reachable over TLS, so a test of a client's
HTTPS path (certificate checks, TLS connection reuse) needs a sandbox that speaks it.

:func:`self_signed_certificate` makes a throwaway certificate for ``127.0.0.1``,
``::1`` and ``localhost`` with the ``openssl`` command (the standard library cannot make
one); a client trusts it by using the certificate file as its CA (``verify=cafile`` for
``requests``). :func:`server_context` loads any certificate for the server.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path


class CertificateError(RuntimeError):
    """No self-signed certificate could be made (``openssl`` missing or failing)."""


def self_signed_certificate(directory: Path, *, days: int = 2) -> tuple[str, str]:
    """Write ``cert.pem`` and ``key.pem`` (an EC P-256 key) into ``directory``: a
    self-signed certificate for the loopback addresses, valid ``days`` days. Returns their
    paths ``(cert, key)``; the certificate is also the CA file a client must trust."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("The sandbox needs the openssl command to make a certificate.")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", str(days), "-keyout", str(key), "-out", str(cert),
        "-subj", "/CN=TextLink sandbox",
        "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", b"") or b""
        raise CertificateError(
            f"openssl could not make a certificate: {err} {detail.decode(errors='replace')}"
        ) from err
    return str(cert), str(key)


def server_context(cert: str, key: str | None = None) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or newer) serving ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


__all__ = ["CertificateError", "self_signed_certificate", "server_context"]
