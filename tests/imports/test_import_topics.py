"""Topics through imports and exports: a topics column (names separated by ; or |) sets the
topics each customer gets, unknown names reject the row, email status changes and topic
choices are consent records from the import, and the CSV export's topics column round-trips."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ConsentRecord, CustomerActivity, CustomerImportRejection
from webapp.services import consent, customers, exports, imports, topics


@pytest.fixture
def jazz_and_surveys(tenant_a):
    jazz = topics.create_topic(tenant_a.id, {"name": "Jazz listings"})
    surveys = topics.create_topic(tenant_a.id, {"name": "Surveys", "default_subscribed": False})
    return jazz.id, surveys.id


def _run(tenant_id: int, text: str) -> dict:
    customer_import = imports.create_import(tenant_id, "fans.csv", text.encode(), start=True)
    assert customer_import.mapping[-1] == "topics", customer_import.mapping
    return imports.run_import(customer_import.id)


def _states(tenant_id: int, email: str) -> dict[int, bool]:
    customer = customers.find_customer(tenant_id, email=email)
    return consent.topic_states(tenant_id, customer.id)


def test_a_topics_column_sets_exactly_the_topics_each_row_names(tenant_a, jazz_and_surveys):
    jazz, surveys = jazz_and_surveys
    customers.upsert_customer(tenant_a.id, {"email": "old@x.com"})
    counts = _run(tenant_a.id, "email,topics\nann@x.com,Surveys\nbob@x.com,jazz listings | SURVEYS\n"
                               "cy@x.com,\nold@x.com,Surveys;Jazz listings\n")
    assert counts == {"created": 3, "updated": 1, "rejected": 0}
    assert _states(tenant_a.id, "ann@x.com") == {jazz: False, surveys: True}
    assert _states(tenant_a.id, "bob@x.com") == {jazz: True, surveys: True}
    assert _states(tenant_a.id, "cy@x.com") == {jazz: True, surveys: False}  # empty cell: defaults
    assert _states(tenant_a.id, "old@x.com") == {jazz: True, surveys: True}

    ann = customers.find_customer(tenant_a.id, email="ann@x.com")
    records = db.session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == ann.id)
                                 .order_by(ConsentRecord.topic_name)).all()
    assert [(r.topic_name, r.granted, r.source, r.context) for r in records] == [
        ("Jazz listings", False, "import", "import of fans.csv"), ("Surveys", True, "import", "import of fans.csv")]
    activity_types = set(db.session.scalars(select(CustomerActivity.type).where(
        CustomerActivity.customer_id == ann.id)))
    assert {"topic_subscribed", "topic_unsubscribed"} <= activity_types


def test_an_unknown_topic_name_rejects_the_row_with_the_reason(tenant_a, jazz_and_surveys):
    counts = _run(tenant_a.id, "email,topics\nann@x.com,Surveys\nbob@x.com,Opera;Surveys\n")
    assert counts == {"created": 1, "updated": 0, "rejected": 1}
    [rejection] = db.session.scalars(select(CustomerImportRejection)).all()
    assert (rejection.line, rejection.field) == (3, "topics") and "Opera" in rejection.reason
    assert customers.find_customer(tenant_a.id, email="bob@x.com") is None


def test_an_imported_email_status_change_is_a_consent_record(tenant_a):
    customers.upsert_customer(tenant_a.id, {"email": "ann@x.com"})
    customer_import = imports.create_import(tenant_a.id, "status.csv",
                                            b"email,email_status\nann@x.com,unsubscribed\nbob@x.com,subscribed\n",
                                            start=True)
    imports.run_import(customer_import.id)
    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert sorted((r.customer_id, r.topic_id, r.granted, r.source) for r in records) == sorted([
        (customers.find_customer(tenant_a.id, email="ann@x.com").id, None, False, "import"),
        (customers.find_customer(tenant_a.id, email="bob@x.com").id, None, True, "import")])


def test_the_export_has_a_topics_column_that_imports_back(tenant_a, tenant_b, jazz_and_surveys):
    jazz, surveys = jazz_and_surveys
    ann, _ = customers.upsert_customer(tenant_a.id, {"email": "ann@x.com", "topics": [surveys]})
    customers.upsert_customer(tenant_a.id, {"email": "bob@x.com"})

    _, pieces = exports.export_customers(tenant_a.id)
    rows = list(csv.DictReader(io.StringIO("".join(pieces))))
    assert {r["email"]: r["topics"] for r in rows} == {"ann@x.com": "Surveys", "bob@x.com": "Jazz listings"}

    # Into another organisation with the same topic names: the same choices.
    topics.create_topic(tenant_b.id, {"name": "Jazz listings"})
    topics.create_topic(tenant_b.id, {"name": "Surveys", "default_subscribed": False})
    text = "email,topics\n" + "".join(f"{r['email']},{r['topics']}\n" for r in rows)
    assert _run(tenant_b.id, text)["created"] == 2
    names = {t.id: t.name for t in consent.tenant_topics(tenant_b.id)}
    for email, expected in (("ann@x.com", {"Surveys"}), ("bob@x.com", {"Jazz listings"})):
        states = _states(tenant_b.id, email)
        assert {names[t] for t, on in states.items() if on} == expected


def test_the_customers_data_export_has_topic_choices_and_consent_records(api, tenant_a, jazz_and_surveys):
    jazz, surveys = jazz_and_surveys
    ann = api.post("/customers", json={"email": "ann@x.com", "topics": [jazz]}).get_json()
    api.patch(f"/customers/{ann['id']}", json={"email_status": "unsubscribed"})

    data = api.get(f"/customers/{ann['id']}/export").get_json()

    assert data["topics"] == [
        {"topic_id": jazz, "topic": "Jazz listings", "subscribed": True, "their_choice": True},
        {"topic_id": surveys, "topic": "Surveys", "subscribed": False, "their_choice": True}]
    assert [(c["what"], c["granted"], c["source"]) for c in data["consent"]] == [
        ("Jazz listings", True, "api"), ("Surveys", False, "api"), ("all marketing", False, "api")]
