"""Double opt-in from the hosted page to a subscribed customer: nothing is subscribed before
the emailed link is used, the link's GET only asks, its POST confirms once, an expired or
unknown link says so; single opt-in subscribes at once (but not an address that left)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from tests.signup_forms.support import (
    BROWSER,
    confirm_path,
    count,
    customer_by_email,
    make_form,
    outbox_to,
    post_form,
    run_burst_worker,
    topic_ids,
)
from webapp.extensions import db
from webapp.infra.queues import redis_connection
from webapp.infra.types import utcnow
from webapp.models import (
    AutomationEnrollment,
    ConsentRecord,
    Customer,
    CustomerActivity,
    CustomerTopic,
    PendingSignup,
    SignupForm,
    Tenant,
)
from webapp.services import customers, signup_forms, workflows
from webapp.services.outbox import read_message

ADA = {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace", "field_favourite_genre": "Jazz"}


def signup_workflow(tenant_id: int) -> int:
    flow = workflows.create_workflow(tenant_id, {"name": "Welcome new fans", "trigger_type": "signup",
                                                 "steps": [{"type": "add_tag", "config": {"tag": "welcomed"}}]})
    workflows.set_active(tenant_id, flow.id, True)
    return flow.id


def test_double_opt_in_from_submission_to_subscribed_customer(client, runner, tenant_a):
    form = make_form(tenant_a.id)
    jazz, surveys = topic_ids(form)
    flow = signup_workflow(tenant_a.id)

    submitted = post_form(client, form, {**ADA, "topic": [str(surveys)]})  # jazz unticked, surveys ticked

    assert submitted.status_code == 200
    assert "Check your inbox" in submitted.get_data(as_text=True)
    assert customer_by_email(tenant_a.id, "ada@example.com") is None  # nothing subscribed yet
    pending = db.session.scalar(select(PendingSignup))
    assert pending.email == "ada@example.com" and pending.ip_address == "203.0.113.7"
    assert pending.user_agent == BROWSER and pending.wording == form.consent_text
    assert pending.token_hash is None and pending.emailed_at is None

    run_burst_worker(runner)

    [email] = outbox_to("ada@example.com")
    readable = read_message(email.raw)
    assert email.subject == "Confirm your subscription to Arena Alpha"
    assert "Confirm my subscription" in readable.html and "Arena Alpha" in readable.text
    path = confirm_path("ada@example.com")
    assert path.rsplit("/", 1)[1] not in (db.session.scalar(select(PendingSignup.token_hash)) or "")  # hashed

    opened = client.get(path)  # a link scanner, or the person: nothing happens yet
    assert opened.status_code == 200 and "Confirm my subscription" in opened.get_data(as_text=True)
    assert "frame-ancestors 'none'" in opened.headers["Content-Security-Policy"]
    assert customer_by_email(tenant_a.id, "ada@example.com") is None

    confirmed = client.post(path, environ_base={"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Phone"})

    assert confirmed.status_code == 200
    assert form.success_message in confirmed.get_data(as_text=True)
    ada = customer_by_email(tenant_a.id, "ada@example.com")
    assert (ada.first_name, ada.last_name, ada.email_status) == ("Ada", "Lovelace", "subscribed")
    assert ada.attributes == {"favourite_genre": "Jazz"}
    choices = dict(db.session.execute(select(CustomerTopic.topic_id, CustomerTopic.subscribed)).all())
    assert choices == {jazz: False, surveys: True}
    records = db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert [(r.topic_id, r.granted) for r in records] == [(None, True), (jazz, False), (surveys, True)]
    for record in records:
        assert record.source == "form" and record.wording == form.consent_text
        assert (record.ip_address, record.user_agent) == ("203.0.113.7", BROWSER)
        assert "198.51.100.20" in record.context and "Newsletter" in record.context
    types = db.session.scalars(select(CustomerActivity.type).where(CustomerActivity.customer_id == ada.id)).all()
    assert "signup" in types
    signup = db.session.scalar(select(CustomerActivity).where(CustomerActivity.type == "signup"))
    assert signup.properties == {"source": "form", "form_id": form.id, "form_name": "Newsletter"}
    assert db.session.scalar(select(AutomationEnrollment.customer_id).where(
        AutomationEnrollment.workflow_id == flow)) == ada.id
    db.session.expire_all()
    stored = db.session.get(SignupForm, form.id)
    assert (stored.submissions_count, stored.confirmations_count) == (1, 1)


def test_a_second_click_says_already_confirmed_and_changes_nothing(client, runner, tenant_a):
    form = make_form(tenant_a.id)
    signup_workflow(tenant_a.id)
    post_form(client, form, ADA)
    run_burst_worker(runner)
    path = confirm_path("ada@example.com")
    assert client.post(path).status_code == 200
    before = (count(ConsentRecord), count(CustomerActivity), count(AutomationEnrollment), count(CustomerTopic))

    again = client.post(path)

    assert again.status_code == 200 and "Already confirmed" in again.get_data(as_text=True)
    assert "Already confirmed" in client.get(path).get_data(as_text=True)
    assert (count(ConsentRecord), count(CustomerActivity), count(AutomationEnrollment), count(CustomerTopic)) == before
    assert db.session.get(SignupForm, form.id).confirmations_count == 1


def test_two_clicks_at_once_subscribe_once(client, runner, tenant_a, app, run_in_threads):
    form = make_form(tenant_a.id)
    post_form(client, form, ADA)
    run_burst_worker(runner)
    secret = confirm_path("ada@example.com").rsplit("/", 1)[1]

    results = run_in_threads(app, 2, lambda i: signup_forms.confirm(secret, ip_address="198.51.100.1",
                                                                     user_agent="x")[0])

    assert sorted(results) == ["confirmed", "done"]
    assert count(Customer) == 1
    db.session.expire_all()
    assert db.session.scalar(select(SignupForm.confirmations_count)) == 1


def test_an_expired_link_says_so_offers_the_form_and_subscribes_nobody(client, runner, tenant_a):
    form = make_form(tenant_a.id)
    post_form(client, form, ADA)
    run_burst_worker(runner)
    path = confirm_path("ada@example.com")
    db.session.execute(update(PendingSignup).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()

    shown, posted = client.get(path), client.post(path)

    for response in (shown, posted):
        assert response.status_code == 410
        page = response.get_data(as_text=True)
        assert "This link has expired" in page and f'href="/f/{form.public_id}"' in page
    assert customer_by_email(tenant_a.id, "ada@example.com") is None


def test_an_unknown_link_is_a_404_page(client, tenant_a):
    for response in (client.get("/f/confirm/not-a-real-secret"), client.post("/f/confirm/not-a-real-secret")):
        assert response.status_code == 404
        assert "This link is not valid" in response.get_data(as_text=True)
    assert count(Customer) == 0


def test_the_confirmation_email_is_sent_once_however_often_its_job_runs(client, runner, tenant_a):
    form = make_form(tenant_a.id)
    post_form(client, form, ADA)
    pending_id = db.session.scalar(select(PendingSignup.id))

    assert signup_forms.send_confirmation(pending_id) == "sent"
    assert signup_forms.send_confirmation(pending_id) == "nothing to send"
    run_burst_worker(runner)  # the job the submission queued, too

    assert len(outbox_to("ada@example.com")) == 1


def test_confirmation_emails_go_out_at_the_organisations_sending_rate(client, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.send_rate_per_second = 2  # a slot every half second, shared with its campaigns
    form = make_form(tenant_a.id)
    for i in range(3):
        post_form(client, form, {**ADA, "email": f"fan{i}@example.com"}, address=f"203.0.113.{i + 1}")
    ids = db.session.scalars(select(PendingSignup.id).order_by(PendingSignup.id)).all()
    db.session.commit()

    started = time.monotonic()
    assert [signup_forms.send_confirmation(pending_id) for pending_id in ids] == ["sent"] * 3

    assert time.monotonic() - started >= 0.9  # three slots half a second apart


def test_the_sweep_sends_what_a_lost_job_did_not(client, runner, tenant_a):
    from webapp.tasks.signup_forms import send_unsent_confirmations

    form = make_form(tenant_a.id)
    post_form(client, form, ADA)
    redis_connection().flushall()  # Redis lost the queued job
    db.session.execute(update(PendingSignup).values(created_at=utcnow() - timedelta(minutes=3)))
    db.session.commit()

    assert send_unsent_confirmations() == 1
    run_burst_worker(runner)

    assert len(outbox_to("ada@example.com")) == 1
    assert send_unsent_confirmations() == 0


def test_the_same_address_gets_at_most_one_confirmation_email_per_interval(client, runner, tenant_a):
    form = make_form(tenant_a.id)

    first = post_form(client, form, ADA)
    second = post_form(client, form, {**ADA, "email": "ada@example.com"}, address="203.0.113.99")

    # The second is answered the same (the form reveals nothing about the address) but stores nothing.
    assert "Check your inbox" in first.get_data(as_text=True) and "Check your inbox" in second.get_data(as_text=True)
    assert count(PendingSignup) == 1
    run_burst_worker(runner)
    assert len(outbox_to("ada@example.com")) == 1


def test_confirmed_customers_who_had_unsubscribed_are_subscribed_again_with_an_activity(client, runner, tenant_a):
    customers.upsert_customer(tenant_a.id, {"email": "ada@example.com", "first_name": "Ada",
                                            "email_status": "unsubscribed"})
    form = make_form(tenant_a.id)
    post_form(client, form, ADA)
    run_burst_worker(runner)

    client.post(confirm_path("ada@example.com"))

    ada = customer_by_email(tenant_a.id, "ada@example.com")
    assert ada.email_status == "subscribed"
    resubscribed = db.session.scalar(select(CustomerActivity).where(CustomerActivity.type == "resubscribed"))
    assert resubscribed.properties["previous_status"] == "unsubscribed"


def test_single_opt_in_subscribes_at_once_without_an_email(client, runner, tenant_a):
    form = make_form(tenant_a.id, double_opt_in=False)
    flow = signup_workflow(tenant_a.id)

    response = post_form(client, form, ADA)

    assert response.status_code == 200 and form.success_message in response.get_data(as_text=True)
    ada = customer_by_email(tenant_a.id, "ada@example.com")
    assert ada.email_status == "subscribed"
    assert db.session.scalar(select(AutomationEnrollment.customer_id).where(
        AutomationEnrollment.workflow_id == flow)) == ada.id
    record = db.session.scalar(select(ConsentRecord).where(ConsentRecord.topic_id.is_(None)))
    assert record.source == "form" and record.ip_address == "203.0.113.7" and "confirmed" not in record.context
    run_burst_worker(runner)
    assert outbox_to("ada@example.com") == []


def test_single_opt_in_still_asks_an_address_that_unsubscribed_to_confirm(client, runner, tenant_a):
    customers.upsert_customer(tenant_a.id, {"email": "ada@example.com", "email_status": "unsubscribed"})
    form = make_form(tenant_a.id, double_opt_in=False)

    response = post_form(client, form, ADA)

    assert "Check your inbox" in response.get_data(as_text=True)
    assert customer_by_email(tenant_a.id, "ada@example.com").email_status == "unsubscribed"
    run_burst_worker(runner)
    assert len(outbox_to("ada@example.com")) == 1


def test_a_topic_deleted_before_confirmation_is_left_out(client, runner, tenant_a):
    from webapp.models import Topic

    form = make_form(tenant_a.id)
    jazz, surveys = topic_ids(form)
    post_form(client, form, {**ADA, "topic": [str(jazz), str(surveys)]})
    run_burst_worker(runner)
    db.session.delete(db.session.get(Topic, surveys))
    db.session.commit()

    assert client.post(confirm_path("ada@example.com")).status_code == 200

    assert dict(db.session.execute(select(CustomerTopic.topic_id, CustomerTopic.subscribed)).all()) == {jazz: True}


def test_signups_never_confirmed_are_forgotten_a_month_after_their_link_expired(client, runner, tenant_a):
    from webapp.tasks.signup_forms import forget_unconfirmed_signups

    form = make_form(tenant_a.id)
    for i, days_ago in enumerate((31, 29)):
        post_form(client, form, {**ADA, "email": f"fan{i}@example.com"}, address=f"203.0.113.{i + 1}")
        db.session.execute(update(PendingSignup).where(PendingSignup.email == f"fan{i}@example.com")
                           .values(expires_at=utcnow() - timedelta(days=days_ago)))
    post_form(client, form, {**ADA, "email": "kept@example.com"}, address="203.0.113.9")
    db.session.execute(update(PendingSignup).where(PendingSignup.email == "kept@example.com")
                       .values(confirmed_at=utcnow(), expires_at=utcnow() - timedelta(days=90)))
    db.session.commit()

    assert forget_unconfirmed_signups() == 1

    assert sorted(db.session.scalars(select(PendingSignup.email))) == ["fan1@example.com", "kept@example.com"]
