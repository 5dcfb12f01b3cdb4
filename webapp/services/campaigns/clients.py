"""Mail clients and devices of a campaign's opens and clicks, read from the hits' user agents.

The hit writer keeps a campaign's hits per user agent (campaign_agent_hits); each of a
report's user agents is read by services/user_agents.py (ua-parser, cached per process).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CampaignAgentHits
from webapp.services.user_agents import DEVICES, OTHER, describe_agent


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    total: int

    @property
    def percent(self) -> float:
        return 100 * self.count / self.total if self.total else 0.0


def _shares(counts: dict[str, int], order: tuple[str, ...] = ()) -> list[Share]:
    """Largest first ("Other" and "Unknown" last); empty when nothing was counted."""
    total = sum(counts.values())
    rank = {label: i for i, label in enumerate(order)}
    tail = (OTHER, "Unknown")
    items = sorted(((label, n) for label, n in counts.items() if n),
                   key=lambda item: (item[0] in tail, -item[1], rank.get(item[0], 0), item[0]))
    return [Share(label, n, total) for label, n in items]


def clients_and_devices(tenant_id: int, campaign_id: int, *, people_only: bool = True) -> dict[str, list[Share]]:
    """Mail clients of the campaign's opens, and devices of its opens and of its clicks, as
    shares of the hits (people's only unless `people_only` is False), from the campaign's
    rows of campaign_agent_hits (its primary key's prefix)."""
    rows = CampaignAgentHits
    stmt = select(rows.user_agent, rows.kind, rows.hits).where(rows.campaign_id == campaign_id,
                                                               rows.tenant_id == tenant_id)
    if people_only:
        stmt = stmt.where(rows.is_machine.is_(False))
    clients: dict[str, int] = {}
    devices: dict[str, dict[str, int]] = {"open": {}, "click": {}}
    for user_agent, kind, count in db.session.execute(stmt):
        agent = describe_agent(user_agent)
        if kind == "open":
            clients[agent.client] = clients.get(agent.client, 0) + count
        bucket = devices.setdefault(kind, {})
        bucket[agent.device] = bucket.get(agent.device, 0) + count
    return {"clients": _shares(clients), "open_devices": _shares(devices["open"], DEVICES),
            "click_devices": _shares(devices["click"], DEVICES)}
