"""The PMO's portfolio view: dashboard, resource capacity, process analytics, reports and exports.

Read-only over the project, human-task and audit tables (aggregate SQL, never an instance). Importing
the package registers the ``pmo/SendPortfolioReport`` operator of the monthly report process and the
resource request's panel on the task page (``panels.py``).
"""

from app.portfolio import operations, panels  # noqa: F401
