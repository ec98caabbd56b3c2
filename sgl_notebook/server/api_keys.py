"""API keys: what ``api_key=`` / ``--api-key`` mean, in one place.

- ``None`` or ``""``: no key; the server answers anyone.
- ``"auto"``: a fresh random key, made here (``sgl-`` + 32 URL-safe characters).
- anything else: that key, as given.

A key travels to the server on its command line as one ``--api-key=KEY`` argument, so a key that
starts with "-" is still read as the value and not as a flag.
"""

from __future__ import annotations

import secrets

__all__ = ["resolve_api_key", "api_key_flag", "generate_api_key"]

AUTO = "auto"


def generate_api_key() -> str:
    """A fresh random key that never starts with "-" (it is passed on a command line)."""
    return "sgl-" + secrets.token_urlsafe(24)


def resolve_api_key(api_key: str | None) -> str | None:
    """The key a server gets for ``api_key=`` (``"auto"`` makes one up; ``""`` means none).

    >>> resolve_api_key(None) is None and resolve_api_key("") is None
    True
    >>> resolve_api_key("secret")
    'secret'
    >>> resolve_api_key("auto").startswith("sgl-")
    True
    """
    if not api_key:
        return None
    return generate_api_key() if api_key == AUTO else api_key


def api_key_flag(api_key: str) -> str:
    """The one argv item that hands ``api_key`` to a server (SGLang, vLLM, the CPU engine).

    >>> api_key_flag("-starts-with-dash")
    '--api-key=-starts-with-dash'
    """
    return f"--api-key={api_key}"
