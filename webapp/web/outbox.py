"""The local outbox (MAIL_URL=outbox): the messages the app would have sent, to read them.

A developer's tool: when mail goes out over SMTP the pages do not exist (404), and the
navigation does not link them (base.html)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from webapp.infra.errors import ValidationFailed
from webapp.services import outbox

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

PAGE_SIZE = 50


@bp.before_request
def only_while_mail_is_kept_locally() -> None:
    if current_app.config.get("MAIL_URL") != "outbox":
        abort(404)


@bp.get("/")
@login_required
def index():
    cursor = request.args.get("cursor") or None
    try:
        page = outbox.outbox_page(current_user.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        page = outbox.outbox_page(current_user.tenant_id, limit=PAGE_SIZE)
    return render_template("outbox/index.html", page=page, cursor=cursor)


@bp.get("/<int:message_id>")
@login_required
def show(message_id: int):
    message = outbox.get_outbox_message(current_user.tenant_id, message_id)
    return render_template("outbox/show.html", message=message, readable=outbox.read_message(message.raw),
                           raw=message.raw.decode("utf-8", errors="replace"))
