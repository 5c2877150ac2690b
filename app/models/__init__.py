"""Persistence: one module per table family. Import models from here."""

from app.models.audit import AuditEntry
from app.models.events import InstanceTimer, Message, MessageSubscription
from app.models.instance import HumanTask, HumanTaskCandidate, ProcessInstance
from app.models.ops import Heartbeat
from app.models.people import Delegation, Notification, OutOfOffice, TaskComment, TaskDraft
from app.models.process import Deployment, DeploymentFile, ProcessVersion
from app.models.user import User, UserRole

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

from app.projects import models as project_models  # noqa: E402,F401 - PMO project records (and their operators)
