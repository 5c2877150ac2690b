"""In-process caches keyed by database ids; cleared when an app is created on a new database."""

from app.services import definitions, forms


def clear_all() -> None:
    definitions.clear_spec_cache()
    forms._file_json.cache_clear()
