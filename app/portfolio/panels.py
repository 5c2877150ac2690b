"""The portfolio's panels on task pages: on a resource request, what approving it does to capacity.

Registered with the inbox's ``task_panels`` for the ``review_resources`` step of ``project_planning``
(one task per request of the plan). The figures are for whoever may see the capacity page
(``RESOURCE_ROLES``); anyone else who sees the task sees no panel. From the task's data the panel
reads only the request under review (``resource_request``); the project is the instance's business
key, and every figure comes from the allocation records.
"""

from __future__ import annotations

from app.inbox import task_panels
from app.inbox.task_panels import Panel, PanelRequest
from app.instances.models import TaskStatus
from app.portfolio import queries as portfolio
from app.projects.business_keys import project_id

PROCESS, STEP = "project_planning", "review_resources"


@task_panels.register(PROCESS, STEP)
def request_effect_panel(request: PanelRequest) -> Panel | None:
    """Utilisation before and after approving the request, by month, and the projects competing.

    Only on an open task: once it is decided the capacity page tells what happened.
    """
    if request.task.status != TaskStatus.READY or not request.actor.roles & portfolio.RESOURCE_ROLES:
        return None
    resource = portfolio.ResourceRequest.of(request.data.get("resource_request"))
    if resource is None:
        return Panel("portfolio/_request_effect.html", "Effect on capacity", {"effect": None})
    effect = portfolio.effect_of_request(resource, project_id(request.instance.business_key))
    return Panel("portfolio/_request_effect.html", "Effect on capacity", {"effect": effect})
