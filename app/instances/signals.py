"""What an instance command announces to the domains above it, inside its own transaction.

The command executor must not know who listens (the inbox routes new tasks to out-of-office
stand-ins and notifies people; others may follow), so it sends blinker signals and they connect.
Receivers run synchronously in the command's transaction: what they write commits or rolls back
with the step.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: None; session, rows (the HumanTask rows the step just created)
tasks_created = _signals.signal("tasks-created")

# sender: None; session, instance, task (its HumanTask row), actor (username), data (accepted)
task_completed = _signals.signal("task-completed")
