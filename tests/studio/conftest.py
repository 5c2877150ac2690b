"""The studio's tests share the browser tests' Chromium (one per session) and pages."""

from __future__ import annotations

from tests.browser.conftest import browser, new_page  # noqa: F401 - fixtures, used by name
