"""Domain rules. Blueprints, the CLI and Celery tasks call these; these never read the request."""
