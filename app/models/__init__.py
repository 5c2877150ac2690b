"""Persistence: one module per table family. Import models from here."""

from .audit import AuditEntry
from .events import InstanceTimer, Message, MessageSubscription
from .instance import HumanTask, HumanTaskCandidate, ProcessInstance
from .ops import Heartbeat
from .people import Delegation, Notification, OutOfOffice, TaskComment, TaskDraft
from .process import Deployment, DeploymentFile, ProcessVersion
from .user import User, UserRole

__all__ = [
    "AuditEntry",
    "Delegation",
    "Deployment",
    "DeploymentFile",
    "Heartbeat",
    "HumanTask",
    "HumanTaskCandidate",
    "InstanceTimer",
    "Message",
    "MessageSubscription",
    "Notification",
    "OutOfOffice",
    "ProcessInstance",
    "ProcessVersion",
    "TaskComment",
    "TaskDraft",
    "User",
    "UserRole",
]

from ..projects import models as project_models  # noqa: E402,F401 - PMO project records (and their operators)
