"""Building blocks for the signup form tests: a form with topics, posting it as a person
would (a fill token from some seconds ago), reading the confirmation email from the outbox,
and the rows a submission may have written."""

from __future__ import annotations

import re
import time

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import (
    ConsentRecord,
    Customer,
    CustomerActivity,
    OutboxMessage,
    PendingSignup,
    SignupForm,
    Topic,
)
from webapp.services import signup_forms
from webapp.services.outbox import read_message

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


def make_topic(tenant_id: int, name: str, default: bool = True, description: str | None = None) -> Topic:
    topic = Topic(tenant_id=tenant_id, name=name, default_subscribed=default, description=description)
    db.session.add(topic)
    db.session.commit()
    return topic


def make_form(tenant_id: int, **data) -> SignupForm:
    """A newsletter form asking for a first name and a favourite genre, offering two topics
    (the first ticked), double opt-in unless said otherwise."""
    if "topics" not in data:
        jazz = make_topic(tenant_id, "Jazz listings")
        surveys = make_topic(tenant_id, "Surveys", default=False)
        data["topics"] = [{"id": jazz.id, "checked": True}, {"id": surveys.id, "checked": False}]
    data.setdefault("fields", {"first_name": "required", "last_name": "optional", "custom": [
        {"key": "favourite_genre", "label": "Favourite genre", "kind": "select", "options": ["Jazz", "Rock"]}]})
    return signup_forms.create_form(tenant_id, {"name": "Newsletter", **data})


def topic_ids(form: SignupForm) -> list[int]:
    return [entry["id"] for entry in form.topics]


def post_form(client, form: SignupForm, data: dict, *, age: float = 10, address: str = "203.0.113.7",
              token: str | None = None):
    """POST the hosted form as a browser that showed it `age` seconds ago."""
    body = {"form_token": token if token is not None else signup_forms.fill_token(form, time.time() - age), **data}
    return client.post(f"/f/{form.public_id}", data=body,
                       environ_base={"REMOTE_ADDR": address, "HTTP_USER_AGENT": BROWSER})


def run_burst_worker(runner) -> None:
    db.session.commit()
    result = runner.invoke(args=["crm", "worker", "--burst", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


def outbox_to(address: str) -> list[OutboxMessage]:
    db.session.commit()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == address)
                                   .order_by(OutboxMessage.id)))


def confirm_path(address: str) -> str:
    """The confirmation link's path in the newest email to `address`, from its text part."""
    messages = outbox_to(address)
    assert messages, f"no email to {address}"
    found = re.search(r"https?://[^/\s]+(/f/confirm/[A-Za-z0-9_\-]+)", read_message(messages[-1].raw).text)
    assert found, read_message(messages[-1].raw).text
    return found.group(1)


def count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


def customer_by_email(tenant_id: int, email: str) -> Customer | None:
    db.session.expire_all()
    return db.session.scalar(select(Customer).where(Customer.tenant_id == tenant_id, Customer.email == email))


def nothing_stored() -> bool:
    """No signup, customer, consent record or email exists."""
    return all(count(model) == 0 for model in (PendingSignup, Customer, ConsentRecord, OutboxMessage,
                                               CustomerActivity))
