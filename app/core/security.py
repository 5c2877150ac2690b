"""The secret key, the request-body limit, security headers and cookie flags.

Why a small hook and not Flask-Talisman: Talisman has had no release for years, its CSP handling
predates ``frame-ancestors`` in practice, and what PMO Flow needs is six fixed headers plus one
HTTPS-aware cookie flag, which fit in a few readable lines that the tests pin down.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

# Keys that must never sign anything: the value config/pmo.toml used to ship, and none at all.
WEAK_SECRET_KEYS = frozenset({"", "dev-only-change-me"})
SECRET_KEY_FILE = "secret_key"
GENERATED = "instance"  # SECRET_KEY_SOURCE when the key came from the instance folder

# Scripts and styles come from /static and /vendor only: no inline script, style or handler,
# no eval. bpmn-js styles its SVG through the CSSOM, which style-src allows, so no
# 'unsafe-inline' is needed (tests/browser/test_integrity_csp.py: no violation in Chromium).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class InsecureSecretKey(ValueError):
    """Raised when a server reachable by others would sign sessions with a public or empty key."""


def under_gunicorn() -> bool:
    """gunicorn's arbiter sets SERVER_SOFTWARE before it loads the app."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn")


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def refusal(reason: str) -> str:
    return (f"SECRET_KEY is not set ({reason}): anyone can forge sessions and API tokens with a public "
            "or empty key. Set SECRET_KEY to a long random value, the same for every process, e.g. "
            "export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")


def resolve_secret_key(app: Flask) -> None:
    """Keep a configured key; otherwise use (once created) a random key in the instance folder.

    The embedded mode thus never signs with a published value. Under gunicorn the app refuses to
    load without a configured key: its workers may run on several machines that must share it.
    """
    key = str(app.config.get("SECRET_KEY") or "")
    if key not in WEAK_SECRET_KEYS:
        app.config["SECRET_KEY_SOURCE"] = "setting"
        return
    if under_gunicorn():
        raise InsecureSecretKey(refusal("running under gunicorn"))
    app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
    app.config["SECRET_KEY_SOURCE"] = GENERATED


def instance_secret_key(folder: Path) -> str:
    """The key in ``folder/secret_key`` (mode 0600), created atomically the first time."""
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)  # atomic: two processes starting at once end with one key
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if len(key) < 32:
        raise InsecureSecretKey(f"{path} holds no usable key; delete it to have a new one made")
    return key


class _SessionInterface(SecureCookieSessionInterface):
    """``SESSION_COOKIE_SECURE = "auto"``: Secure exactly when the request came over HTTPS
    (behind a proxy, set PROXY_COUNT so X-Forwarded-Proto is believed)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        setting = app.config.get("SESSION_COOKIE_SECURE")
        if isinstance(setting, str):
            if setting.lower() == "auto":
                return bool(request) and request.is_secure
            return setting.lower() in {"1", "true", "yes", "on", "always"}
        return bool(setting)


def _refuse_large_body() -> None:
    """Refuse a declared body over the limit before anything reads it (chunked bodies are cut
    by werkzeug's limited stream at the same size)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the request body is larger than the limit of {limit:,} bytes "
                                    "(MAX_UPLOAD_BYTES)")


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def configure(app: Flask) -> None:
    """Apply everything above to ``app`` (called by the factory, before the blueprints)."""
    resolve_secret_key(app)
    limit = app.config.get("MAX_UPLOAD_BYTES")
    # Flask defines MAX_CONTENT_LENGTH (None), so a setdefault never applied the setting.
    app.config["MAX_CONTENT_LENGTH"] = int(limit) if limit else None
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.session_interface = _SessionInterface()
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    app.before_request(_refuse_large_body)
    app.after_request(_security_headers)
