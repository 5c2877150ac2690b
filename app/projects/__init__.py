"""The PMO project records and the service-task operators the lifecycle processes call.

Importing this package registers the models (tables) and the ``pmo/...`` operators.
"""

from app.projects import models, operators  # noqa: F401
