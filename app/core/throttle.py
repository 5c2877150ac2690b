"""Sign-in throttling (Flask-Limiter): failed attempts per username and per client address.

Only failures count (``deduct_when``), so people and test suites that sign in correctly many
times are never slowed; a guesser gets 429 with Retry-After after LOGIN_LIMIT_PER_USER failures
for one name or LOGIN_LIMIT_PER_ADDRESS failures from one address, on the web form and the API
alike (the two share the counters). Counters live in RATELIMIT_STORAGE_URI: ``memory://`` for
the embedded single process, ``redis://...`` when several processes serve (they must share them).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Options read once by Flask-Limiter are given here; everything else comes from the app config.
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    headers_enabled=False,  # Retry-After is set by the 429 answers themselves (not on every 200)
    in_memory_fallback_enabled=True,  # Redis down: keep throttling in this process, keep signing in
    swallow_errors=True,
)


def _username_key() -> str:
    """The name being tried, from the web form or the API's JSON body ('-' when there is none)."""
    name = request.form.get("username") if request.form else None
    if name is None:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    name = str(name or "").strip().lower()[:80]
    return f"user:{name or '-'}"


def _address_key() -> str:
    return f"addr:{get_remote_address() or '-'}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _per_user() -> str:
    return str(current_app.config.get("LOGIN_LIMIT_PER_USER") or "5 per minute")


def _per_address() -> str:
    return str(current_app.config.get("LOGIN_LIMIT_PER_ADDRESS") or "30 per minute")


login_per_user = limiter.shared_limit(_per_user, scope="login-user", key_func=_username_key,
                                      methods=["POST"], deduct_when=_failed)
login_per_address = limiter.shared_limit(_per_address, scope="login-address", key_func=_address_key,
                                         methods=["POST"], deduct_when=_failed)


def throttle_login(view):  # noqa: ANN001, ANN201 - a view decorator
    """Both sign-in limits on a view."""
    return login_per_user(login_per_address(view))


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"] or "memory://"
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "pmo-flow")
    # Always explicit: Flask-Limiter would otherwise carry the last app's choice over to the next.
    app.config["RATELIMIT_ENABLED"] = bool(app.config.get("RATELIMIT_ENABLED", True))
    limiter.init_app(app)


def retry_after(exc: Exception) -> int:
    """Seconds until the breached limit lets another attempt through (at least 1)."""
    import time

    limit = getattr(limiter, "current_limit", None)
    try:
        if limit is not None:
            return max(1, int(limit.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - the storage may be gone; the answer is still 429
        pass
    return 60
