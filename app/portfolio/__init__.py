"""The PMO's portfolio view: dashboard, resource capacity, process analytics, reports and exports.

Read-only over the project, human-task and audit tables (aggregate SQL, never an instance). Importing
the package registers the ``pmo/SendPortfolioReport`` operator of the monthly report process.
"""

from app.portfolio import operations  # noqa: F401
