"""The Topics page: what campaigns are sent under and people choose on the preference
centre. Marketers add, edit, reorder and delete them; viewers read."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.infra.errors import Conflict, ValidationFailed
from webapp.services import topics
from webapp.services.consent import tenant_topics
from webapp.web.access import write_required
from webapp.web.forms import Form, apply_domain_error

bp = Blueprint("topics", __name__, url_prefix="/topics")

DEFAULT_CHOICES = [
    SelectChoice("yes", "Everyone gets it unless they say no (opt-out)"),
    SelectChoice("no", "Only people who say yes get it (opt-in)"),
]


class TopicForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Give the topic a name."),
                                           Length(max=topics.NAME_LENGTH)],
                       description="What people see on their preference page, e.g. “Jazz listings”.")
    description = TextAreaField("Description", validators=[Length(max=topics.DESCRIPTION_LENGTH)],
                                description="One line under the name: what they will get and how often.")
    default_subscribed = RadioField("Who gets it", choices=DEFAULT_CHOICES, default="yes")


def _values(form: TopicForm) -> dict:
    return {"name": form.name.data, "description": form.description.data,
            "default_subscribed": form.default_subscribed.data != "no"}


def _page(form: TopicForm | None = None, status: int = 200):
    tenant_id = current_user.tenant_id
    return render_template("topics/index.html", topics=tenant_topics(tenant_id),
                           counts=topics.subscriber_counts(tenant_id), form=form or TopicForm(formdata=None),
                           max_topics=topics.MAX_TOPICS), status


def _apply(form: TopicForm, exc: ValidationFailed | Conflict) -> None:
    field = exc.details[0]["field"] if exc.details else ""
    apply_domain_error(form, field, exc.details[0]["message"] if exc.details else exc.message)


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("")
@login_required
@write_required
def create():
    form = TopicForm()
    if form.validate_on_submit():
        try:
            topic = topics.create_topic(current_user.tenant_id, _values(form))
        except (ValidationFailed, Conflict) as exc:
            _apply(form, exc)
        else:
            flash(f"Topic “{topic.name}” added.", "success")
            return redirect(url_for("topics.index"))
    return _page(form, 422)


@bp.route("/<int:topic_id>/edit", methods=["GET", "POST"])
@login_required
@write_required
def edit(topic_id: int):
    topic = topics.get_topic(current_user.tenant_id, topic_id)
    form = TopicForm(obj=topic if request.method == "GET" else None)
    if request.method == "GET":
        form.default_subscribed.data = "yes" if topic.default_subscribed else "no"
    elif form.validate_on_submit():
        try:
            topics.update_topic(current_user.tenant_id, topic.id, _values(form))
        except (ValidationFailed, Conflict) as exc:
            _apply(form, exc)
        else:
            flash("Topic saved.", "success")
            return redirect(url_for("topics.index"))
    return render_template("topics/edit.html", topic=topic, form=form,
                           using=topics.campaigns_using(current_user.tenant_id, topic.id)), 422 if form.errors else 200


@bp.post("/<int:topic_id>/move")
@login_required
@write_required
def move(topic_id: int):
    topic = topics.get_topic(current_user.tenant_id, topic_id)
    form = Form()
    if form.validate_on_submit():
        step = -1 if request.form.get("direction") == "up" else 1
        topics.update_topic(current_user.tenant_id, topic.id, {"position": max(topic.position + step, 0)})
    return redirect(url_for("topics.index"))


@bp.post("/<int:topic_id>/delete")
@login_required
@write_required
def delete(topic_id: int):
    topic = topics.get_topic(current_user.tenant_id, topic_id)
    form = Form()
    if form.validate_on_submit():
        try:
            topics.delete_topic(current_user.tenant_id, topic.id)
        except Conflict as exc:
            flash(f"“{topic.name}” is not deleted: {exc.message}.", "error")
        else:
            flash(f"Topic “{topic.name}” deleted.", "success")
    return redirect(url_for("topics.index"))
