"""The PMO project records and the service-task operators the lifecycle processes call.

Importing this package registers the models (tables), the ``pmo/...`` operators and the resolver
of the ``project:<id>`` business keys (the inbox's and the task page's project labels and card).
``create_app`` imports every domain's models, so every web, CLI and worker process registers them.
"""

from app.projects import business_keys, models, operators  # noqa: F401
