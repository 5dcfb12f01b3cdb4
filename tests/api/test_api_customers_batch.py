"""POST /customers/batch, set-based where it can be: whatever the mix of new and known
customers, names, attributes, tags, clashing external ids, consent and signups, each item's
answer and every stored customer are what POST /customers one at a time gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.sql_support import sql_sent
from webapp.extensions import db
from webapp.models import Customer, CustomerTag, WebhookDelivery

people = st.sampled_from(["ann", "bob", "cat", "dan", "eve", "fay"])
externals = st.sampled_from([None, None, "x-1", "x-2", "x-3"])
items = st.fixed_dictionaries({"who": st.one_of(st.none(), people), "external_id": externals},
                              optional={"first_name": st.sampled_from(["Ann", "Bo", "  Cy  "]),
                                        "attributes": st.dictionaries(st.sampled_from(["tier", "club", "age"]),
                                                                      st.one_of(st.integers(0, 9), st.text(max_size=3)),
                                                                      max_size=2),
                                        "tags": st.lists(st.sampled_from(["vip", "Season Ticket", "press"]),
                                                         max_size=2),
                                        "email_status": st.sampled_from(["subscribed", "unsubscribed"]),
                                        "signup": st.just(True)})


def _body(item: dict) -> dict:
    body = {k: v for k, v in item.items() if k not in ("who", "external_id")}
    if item["who"]:
        body["email"] = f"{item['who']}@x.com"
    if item["external_id"] is not None:
        body["external_id"] = item["external_id"]
    return body


def _stored(tenant_id: int) -> list:
    db.session.expire_all()
    tags: dict[int, list[str]] = {}
    for customer_id, tag in db.session.execute(select(CustomerTag.customer_id, CustomerTag.tag)
                                               .where(CustomerTag.tenant_id == tenant_id)):
        tags.setdefault(customer_id, []).append(tag)
    return sorted((c.email, c.external_id, c.first_name, c.email_status, sorted((c.attributes or {}).items()),
                   sorted(tags.get(c.id, []))) for c in db.session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_id)))


def _answers(results: list[dict], ids: dict[int, str]) -> list:
    return [(r["status"], ids.get(r.get("id")), r.get("error")) for r in results]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(items, max_size=4), sent=st.lists(items, min_size=1, max_size=8))
def test_a_batch_answers_and_stores_what_one_request_per_item_does(api, api_b, tenant_a, tenant_b, before, sent):
    note(f"before={before!r} sent={sent!r}")
    for tenant in (tenant_a, tenant_b):
        db.session.execute(Customer.__table__.delete().where(Customer.tenant_id == tenant.id))
    db.session.commit()
    for item in before:  # customers both tenants already have
        for client in (api, api_b):
            client.post("/customers", json=_body(item))
    answer = api.post("/customers/batch", json={"customers": [_body(i) for i in sent]})
    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["results"]
    one_by_one = []
    for item in sent:
        response = api_b.post("/customers", json=_body(item))
        answer = response.get_json()
        one_by_one.append({"status": response.status_code, "id": answer.get("id"),
                           **({"error": answer["error"]} if "error" in answer else {})})
    emails = {tenant: dict(db.session.execute(select(Customer.id, Customer.email)
                                              .where(Customer.tenant_id == tenant)).all())
              for tenant in (tenant_a.id, tenant_b.id)}
    assert _answers(results, emails[tenant_a.id]) == _answers(one_by_one, emails[tenant_b.id])
    assert _stored(tenant_a.id) == _stored(tenant_b.id)


def test_plain_upserts_go_set_based_and_say_where_they_came_from(api, tenant_a):
    """Profiles, attributes and tags for 40 customers (half known): one INSERT of customers,
    not forty; the new ones' customer.created webhooks say they came through the API."""
    endpoint = api.post("/webhook-endpoints", json={"url": "https://hooks.example.com/crm",
                                                    "event_types": ["customer.created"]})
    assert endpoint.status_code == 201, endpoint.get_json()
    for n in range(0, 40, 2):
        assert api.post("/customers", json={"email": f"c{n}@x.com"}).status_code == 201
    db.session.execute(WebhookDelivery.__table__.delete())
    db.session.commit()
    body = [{"email": f"c{n}@x.com", "first_name": f"C{n}", "attributes": {"n": n}, "tags": ["fan"]}
            for n in range(40)]
    with sql_sent() as sent:
        results = api.post("/customers/batch", json={"customers": body}).get_json()["results"]
    assert [r["status"] for r in results] == [200, 201] * 20
    assert len([s for s in sent if s.lstrip().upper().startswith("INSERT INTO CUSTOMERS")
                or "INSERT INTO customers" in s]) == 1
    stored = {c.email: (c.first_name, c.attributes) for c in db.session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_a.id))}
    assert stored == {f"c{n}@x.com": (f"C{n}", {"n": n}) for n in range(40)}
    sources = [d.payload["data"]["source"] for d in db.session.scalars(select(WebhookDelivery))]
    assert sources == ["api"] * 20
