"""The audit log: each action a tenant's owners must be able to trace is recorded once, from
the pages and from the API alike, with who, when, from where and what changed; owners read
it as sentences, newest first, filtered by action or person."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Tenant
from webapp.services import audit
from webapp.services.audit import Actor

from .conftest import IMPORT_CSV, link_secret, log_in


def events(tenant_id: int, action: str | None = None) -> list[AuditEvent]:
    db.session.commit()
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id).order_by(AuditEvent.id)
    return list(db.session.scalars(stmt.where(AuditEvent.action == action) if action else stmt))


def only(tenant_id: int, action: str) -> AuditEvent:
    found = events(tenant_id, action)
    assert len(found) == 1, [e.action for e in events(tenant_id)]
    return found[0]


# --- what is recorded --------------------------------------------------------------------------

def test_signing_in_and_out_is_recorded_with_the_address_but_a_failed_attempt_is_not(new_client, tenant_a,
                                                                                    password):
    browser = new_client()
    assert log_in(browser, tenant_a.owner_email, "wrong-password").status_code == 401
    assert events(tenant_a.id) == []

    log_in(browser, tenant_a.owner_email, password)
    browser.post("/logout", data={"csrf_token": _csrf(browser)})

    signed_in, signed_out = events(tenant_a.id)
    assert (signed_in.action, signed_out.action) == ("signed_in", "signed_out")
    assert signed_in.actor_label == tenant_a.owner_email and signed_in.actor_kind == "user"
    assert signed_in.address == "127.0.0.1"


def _csrf(client) -> str:
    from .pages import csrf_from

    return csrf_from(client.get("/dashboard").get_data(as_text=True))


def test_a_settings_change_is_recorded_as_a_diff(owner_a, tenant_a):
    owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "Europe/London"})

    event = only(tenant_a.id, "settings.changed")
    assert event.changes == {"timezone": ["UTC", "Europe/London"]}
    assert "Changed timezone from UTC to Europe/London" in owner_a.get("/settings/audit/").get_data(as_text=True)


def test_a_settings_change_over_the_api_is_recorded_as_the_token_s_diff(api, tenant_a):
    assert api.patch("/settings", json={"currency": "EUR", "locale": "fr_FR"}).status_code == 200
    assert api.patch("/settings", json={"currency": "XXZ"}).status_code == 422

    event = only(tenant_a.id, "settings.changed")
    assert event.changes == {"currency": ["GBP", "EUR"], "locale": ["en_GB", "fr_FR"]}
    assert event.actor_kind == "token"


def test_a_refused_settings_change_records_nothing(owner_a, tenant_a):
    assert owner_a.post("/settings/tenant", {"name": "", "timezone": "Mars/Base"}).status_code == 422
    assert owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC"}).status_code == 302

    assert events(tenant_a.id, "settings.changed") == []  # and saving without a change is no event either


def test_a_brand_change_is_recorded_from_the_page_and_the_api(owner_a, api, tenant_a):
    from .conftest import BRAND_FORM

    owner_a.post("/settings/brand", {**BRAND_FORM, "primary_color": "#112233"})
    api.patch("/brand", json={"button_radius": 0})

    page, token = events(tenant_a.id, "brand.changed")
    assert page.changes["brand.primary_color"][1] == "#112233" and page.actor_kind == "user"
    assert list(token.changes) == ["brand.button_radius"] and token.changes["brand.button_radius"][1] == 0
    assert token.actor_kind == "token" and token.actor_label == "API token “Default”"


def test_tokens_created_and_revoked_are_recorded_without_their_secret(owner_a, tenant_a):
    response = owner_a.post("/settings/tokens", {"name": "Box office", "role": "marketer"})
    created = only(tenant_a.id, "token.created")
    owner_a.post(f"/settings/tokens/{created.target_id}/revoke")

    revoked = only(tenant_a.id, "token.revoked")
    assert (created.target_label, revoked.target_label) == ("Box office", "Box office")
    assert created.changes == {"role": [None, "marketer"]}
    secret = response.get_data(as_text=True).split('data-testid="new-token">')[1].split("<")[0]
    assert secret not in repr([(e.target_label, e.changes) for e in events(tenant_a.id)])


def test_the_team_changes_are_recorded(owner_a, new_client, tenant_a):
    owner_a.post("/settings/team/invites", {"email": "grace@example.com", "role": "viewer"})
    secret = link_secret("/invite/")
    browser = new_client()
    from .pages import csrf_from

    token = csrf_from(browser.get(f"/invite/{secret}").get_data(as_text=True))
    browser.post(f"/invite/{secret}", data={"name": "Grace Hopper", "password": "a-long-password", "csrf_token": token})
    grace = only(tenant_a.id, "member.joined").actor_user_id
    owner_a.post(f"/settings/team/members/{grace}/role", {"role": "marketer"})
    owner_a.post(f"/settings/team/members/{grace}/remove")

    assert only(tenant_a.id, "member.invited").target_label == "grace@example.com"
    assert only(tenant_a.id, "member.role_changed").changes == {"role": ["viewer", "marketer"]}
    removed = only(tenant_a.id, "member.removed")
    assert removed.target_label == "Grace Hopper"
    joined = only(tenant_a.id, "member.joined")
    assert joined.actor_user_id is None and joined.actor_label == "Grace Hopper"  # the name outlives the login
    html = owner_a.get("/settings/audit/").get_data(as_text=True)
    assert "Grace Hopper</strong> joined the team" in html
    assert "changed the role of <em" in html and "Changed role from viewer to marketer" in html


def test_a_password_reset_is_recorded(client, new_client, tenant_a, world_a):
    from .test_password_reset import ask, reset

    ask(client, "crew@alpha.example.com")
    reset(new_client(), link_secret("/password/reset/"))

    assert only(tenant_a.id, "password.reset").actor_label == "crew@alpha.example.com"


def test_campaigns_scheduled_sent_and_cancelled_are_recorded(owner_a, api, world_a, tenant_a):
    owner_a.post(f"/campaigns/{world_a['scheduled_campaign_id']}/cancel")
    owner_a.post(f"/campaigns/{world_a['campaign_id']}/send")
    api.post(f"/campaigns/{world_a['design_campaign_id']}/schedule", json={"send_at": "2099-01-01T09:00:00+00:00"})
    api.post(f"/campaigns/{world_a['design_campaign_id']}/cancel")

    assert [e.target_label for e in events(tenant_a.id, "campaign.cancelled")] == ["Spring scheduled",
                                                                                  "Spring blocks"]
    assert only(tenant_a.id, "campaign.sent").target_label == "Spring draft"
    assert only(tenant_a.id, "campaign.scheduled").actor_kind == "token"
    html = owner_a.get("/settings/audit/").get_data(as_text=True)
    assert 'owner@alpha.example.com</strong> cancelled campaign <em class="audit-target">Spring scheduled</em>' in html


def test_switching_a_workflow_on_and_off_is_recorded(owner_a, api, world_a, tenant_a):
    owner_a.post(f"/workflows/{world_a['workflow_id']}/toggle")  # it was on
    api.post(f"/workflows/{world_a['workflow_id']}/toggle", json={"active": True})
    api.post(f"/workflows/{world_a['workflow_id']}/toggle", json={"active": True})  # already on: no event

    assert [(e.action, e.actor_kind) for e in events(tenant_a.id) if e.action.startswith("workflow")] == [
        ("workflow.switched_off", "user"), ("workflow.switched_on", "token")]


def test_imports_exports_and_erasures_are_recorded(owner_a, api, world_a, tenant_a):
    mapping = {"map-0": "email", "map-1": "first_name", "map-2": "attribute"}
    owner_a.post(f"/customers/imports/{world_a['import_id']}/start", mapping)
    api.post("/customers/import", data={"file": (io.BytesIO(IMPORT_CSV), "fans.csv")},
             content_type="multipart/form-data")
    owner_a.get("/customers/export.csv")
    owner_a.get(f"/segments/{world_a['segment_id']}/members.csv")
    api.get(f"/customers/{world_a['customer_id']}/export")
    owner_a.post(f"/customers/{world_a['customer_id']}/delete")

    assert [e.target_label for e in events(tenant_a.id, "import.started")] == ["fans.csv", "fans.csv"]
    assert [e.target_label for e in events(tenant_a.id, "customers.exported")] == [
        "all customers", "the members of segment VIPs", "everything stored about ada@example.com"]
    erased = only(tenant_a.id, "customer.erased")
    assert erased.target_label is None and "ada" not in repr(erased.changes)  # the erased leave no name


# --- the page ----------------------------------------------------------------------------------

def test_the_log_reads_newest_first_with_time_and_address(owner_a, tenant_a):
    db.session.get(Tenant, tenant_a.id).timezone = "Europe/Berlin"
    db.session.commit()
    actor = Actor("user", "Ada Lovelace", address="203.0.113.9")
    audit.record(tenant_a.id, actor, "campaign.cancelled", target=audit.Target("campaign", 1, "Spring sale"))
    audit.record(tenant_a.id, actor, "workflow.switched_on", target=audit.Target("workflow", 1, "Welcome"))

    html = owner_a.get("/settings/audit/").get_data(as_text=True)

    assert html.index("switched on workflow") < html.index("cancelled campaign")
    assert "<strong>Ada Lovelace</strong> cancelled campaign <em class=\"audit-target\">Spring sale</em>" in html
    assert "203.0.113.9" in html and "Europe/Berlin" in html


def test_the_log_filters_by_action_and_person_and_pages_by_keyset(owner_a, tenant_a, add_user):
    crew = add_user(tenant_a.id, "crew2@alpha.example.com", "marketer")
    for i in range(55):
        audit.record(tenant_a.id, Actor.of_user(crew, "198.51.100.1"), "customers.exported",
                     target=audit.Target("customers", None, f"export {i}"))
    audit.record(tenant_a.id, Actor("system", "Someone else"), "campaign.sent", target=audit.Target("campaign", 1, "X"))

    first = owner_a.get(f"/settings/audit/?person={crew.id}").get_data(as_text=True)
    assert first.count('class="audit-row"') == 50 and "export 54" in first and "Someone else" not in first
    older = first.split('class="load-more"><a class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    second = owner_a.get(older).get_data(as_text=True)
    assert second.count('class="audit-row"') == 5 and "export 0" in second and "export 50" not in second
    sent = owner_a.get("/settings/audit/?action=campaign.sent").get_data(as_text=True)
    assert sent.count('class="audit-row"') == 1 and "Someone else" in sent


@pytest.mark.parametrize("query", ["?cursor=garbage", "?person=999999999999", "?action=nope", "?person=-1"])
def test_bad_filters_show_the_log_not_an_error(owner_a, query):
    assert owner_a.get(f"/settings/audit/{query}").status_code == 200


def test_only_owners_read_the_log(login, add_user, tenant_a, marketer_a, viewer_a):
    admin = login(add_user(tenant_a.id, "admin@alpha.example.com", "admin").email)

    for who in (admin, marketer_a, viewer_a):
        assert who.get("/settings/audit/").status_code == 403, who.email
    assert 'href="/settings/audit/"' not in admin.get("/settings/").get_data(as_text=True)


def test_a_tenant_never_reads_another_tenants_log(owner_a, owner_b, tenant_a):
    audit.record(tenant_a.id, Actor("user", "Ada Lovelace", address="203.0.113.9"), "campaign.sent",
                 target=audit.Target("campaign", 1, "Alpha secret launch"))

    html = owner_b.get("/settings/audit/").get_data(as_text=True)

    assert "Alpha secret launch" not in html and "203.0.113.9" not in html
    assert "owner@alpha.example.com" not in html


def test_the_log_escapes_what_people_typed(owner_a, tenant_a):
    audit.record(tenant_a.id, Actor("user", "<script>alert(1)</script>"), "campaign.sent",
                 target=audit.Target("campaign", 1, "<img src=x onerror=alert(1)>"),
                 changes={"name": ["<b>old</b>", "<i>new</i>"]})

    html = owner_a.get("/settings/audit/").get_data(as_text=True)

    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>old</b>" not in html
    assert "&lt;script&gt;" in html


# --- the diff ----------------------------------------------------------------------------------

@given(st.dictionaries(st.sampled_from(["smtp_password", "webhook_secret", "api_token", "name", "timezone"]),
                       st.text(max_size=20), min_size=1))
def test_a_diff_never_keeps_a_secret(after):
    changes = audit.diff({}, after)

    for field, values in changes.items():
        if field in ("smtp_password", "webhook_secret", "api_token"):
            assert values is None
        else:
            assert values == [None, after[field]]
