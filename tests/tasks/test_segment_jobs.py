"""The segment jobs: the periodic sweep queues time-relative segments by name, and a
recalculation job stays inside its tenant."""

from __future__ import annotations

from webapp.infra.queues import get_queue
from webapp.services import segments
from webapp.services.customers import upsert_customer
from webapp.tasks.segments import recalculate_segment, recalculate_time_relative_segments

RECENT = [{"type": "last_order_at", "operator": "within_last_days", "value": 30}]
VIP = [{"type": "tag", "operator": "has", "value": "vip"}]


def test_the_sweep_queues_only_time_relative_segments_by_job_name(tenant_a):
    recent = segments.create_segment(tenant_a.id, "Bought this month", RECENT)
    segments.create_segment(tenant_a.id, "VIPs", VIP)
    queue = get_queue("bulk")
    queue.empty()

    assert recalculate_time_relative_segments() == 1
    [job] = queue.jobs
    assert job.id == f"segment-recalc-{recent.id}"
    assert job.func_name == "webapp.tasks.segments.recalculate_segment"
    assert job.args == (tenant_a.id, recent.id)
    # A second sweep while the first one's job waits does not queue the work twice.
    recalculate_time_relative_segments()
    assert len(queue.jobs) == 1


def test_the_recalculation_job_counts_members_and_refuses_another_tenants_segment(tenant_a, tenant_b):
    vips = segments.create_segment(tenant_a.id, "VIPs", VIP)
    upsert_customer(tenant_a.id, {"email": "ada@example.com", "tags": ["vip"]})

    result = recalculate_segment(tenant_a.id, vips.id)
    assert result["member_count"] == 1 and result["id"] == vips.id
    assert recalculate_segment(tenant_b.id, vips.id) is None
    segments.delete_segment(tenant_a.id, vips.id)
    assert recalculate_segment(tenant_a.id, vips.id) is None
