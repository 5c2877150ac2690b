"""Persistence: one module per table family. Import models from here."""

from .audit import AuditEntry
from .events import InstanceTimer, Message, MessageSubscription
from .instance import HumanTask, HumanTaskCandidate, ProcessInstance
from .process import Deployment, DeploymentFile, ProcessVersion
from .user import User, UserRole

__all__ = [
    "AuditEntry",
    "Deployment",
    "DeploymentFile",
    "HumanTask",
    "HumanTaskCandidate",
    "InstanceTimer",
    "Message",
    "MessageSubscription",
    "ProcessInstance",
    "ProcessVersion",
    "User",
    "UserRole",
]
