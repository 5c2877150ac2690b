"""Fixtures and helpers every test package may use (loaded by tests/conftest.py)."""
