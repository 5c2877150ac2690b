"""Persistence: one module per table family. Import models from here."""

from .audit import AuditEntry
from .instance import HumanTask, HumanTaskCandidate, ProcessInstance
from .process import Deployment, DeploymentFile, ProcessVersion
from .user import User, UserRole

__all__ = [
    "AuditEntry",
    "Deployment",
    "DeploymentFile",
    "HumanTask",
    "HumanTaskCandidate",
    "ProcessInstance",
    "ProcessVersion",
    "User",
    "UserRole",
]
