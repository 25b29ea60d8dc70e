"""Internal activities check who called them from what the Temporal server recorded."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity
from temporalio.client import Client

from ticketing.core.errors import Forbidden
from ticketing.temporal.names import (
    ESCALATION_WORKFLOW,
    WATCHER_PREFIX,
)


@dataclass(frozen=True)
class Caller:
    """The calling workflow as the server describes it; never taken from the activity input."""

    workflow_type: str
    workflow_id: str

    @property
    def watched_number(self) -> str | None:
        """The ticket number a watcher's id binds it to (`escalation-<number>`)."""
        if self.workflow_type != ESCALATION_WORKFLOW:
            return None
        if not self.workflow_id.startswith(WATCHER_PREFIX):
            return None
        return self.workflow_id.removeprefix(WATCHER_PREFIX) or None


class CallerCheck:
    """Refuses an internal activity unless this plugin's own workflow, run on this plugin's task
    queue, scheduled it.

    Anyone with namespace access can schedule an activity by name on our task queue, and then
    `workflow_type` and `workflow_id` are the caller's own (a workflow may be registered under
    any name). Two facts a caller cannot choose: a local activity only runs inside the worker that
    runs its workflow (so the workflow is one of ours, on our queue); for a regular activity the
    server's description of the calling run gives its task queue, where only our workers poll.
    """

    def __init__(self, client: Client | None, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def require(self, allowed: frozenset[str], action: str) -> Caller:
        info = activity.info()
        if not info.workflow_type or not info.workflow_id or info.workflow_type not in allowed:
            raise Forbidden(action)
        if not info.is_local:
            await self._require_our_queue(info, action)
        return Caller(workflow_type=info.workflow_type, workflow_id=info.workflow_id)

    async def require_watcher(self, action: str) -> str:
        """The ticket number the calling watcher is bound to by its id."""
        number = (await self.require(frozenset({ESCALATION_WORKFLOW}), action)).watched_number
        if number is None:
            raise Forbidden(action)
        return number

    async def _require_our_queue(self, info: activity.Info, action: str) -> None:
        if self.client is None or info.workflow_namespace != self.client.namespace:
            raise Forbidden(action)
        handle = self.client.get_workflow_handle(
            info.workflow_id or "", run_id=info.workflow_run_id
        )
        # An RPC failure here is retried like any infrastructure failure.
        described = await handle.describe()
        if described.task_queue != self.task_queue or described.workflow_type != info.workflow_type:
            raise Forbidden(action)
