"""The team page (members, roles, invitations) and the page an invitation link opens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.services import team, tenants
from webapp.services.audit import Actor, Target
from webapp.services.audit import record as record_event
from webapp.services.team import LinkUnusable
from webapp.web.access import admin_required
from webapp.web.audit import note
from webapp.web.forms import apply_domain_error, run_form
from webapp.web.team_forms import AcceptInviteForm, InviteForm, MemberRoleForm

bp = Blueprint("team", __name__)


def _page(invite_form: InviteForm | None = None, role_errors: dict[int, list[str]] | None = None,
          member_errors: dict[int, list[str]] | None = None, status: int = 200):
    return render_template(
        "team/index.html", members=team.list_members(current_user.tenant_id),
        invites=team.list_invites(current_user.tenant_id), invite_form=invite_form or InviteForm(formdata=None),
        roles=team.ROLE_DESCRIPTIONS, role_errors=role_errors or {}, member_errors=member_errors or {},
        invite_days=team.INVITE_DAYS, now=utcnow()), status


def _member_target(user) -> Target:
    return Target("member", user.id, user.display_name)


def _invite_target(invite) -> Target:
    return Target("invite", invite.id, invite.email)


@bp.get("/settings/team")
@login_required
@admin_required
def index():
    return _page()


@bp.post("/settings/team/invites")
@login_required
@admin_required
def invite():
    form = InviteForm()
    row = run_form(form, lambda: team.invite(current_user.tenant_id, current_user, form.email.data, form.role.data))
    if row is not None:
        note("member.invited", _invite_target(row), {"role": [None, row.role]})
        flash(f"Invitation sent to {row.email}. The link works for {team.INVITE_DAYS} days.", "success")
        return redirect(url_for("team.index"))
    return _page(invite_form=form, status=422)


@bp.post("/settings/team/invites/<int:invite_id>/resend")
@login_required
@admin_required
def resend_invite(invite_id: int):
    try:  # another tenant's id: NotFound, a 404 page
        row = team.resend_invite(current_user.tenant_id, current_user, invite_id)
    except ValidationFailed as exc:
        flash(exc.reason[:1].upper() + exc.reason[1:] + ".", "error")
    else:
        note("member.invited", _invite_target(row), {"role": [None, row.role]})
        flash(f"A new invitation went to {row.email}; the earlier link no longer works.", "success")
    return redirect(url_for("team.index"))


@bp.post("/settings/team/invites/<int:invite_id>/revoke")
@login_required
@admin_required
def revoke_invite(invite_id: int):
    try:
        row = team.revoke_invite(current_user.tenant_id, current_user, invite_id)
    except ValidationFailed as exc:
        flash(exc.reason[:1].upper() + exc.reason[1:] + ".", "error")
    else:
        note("invite.revoked", _invite_target(row))
        flash(f"The invitation of {row.email} was revoked: its link no longer works.", "success")
    return redirect(url_for("team.index"))


@bp.post("/settings/team/members/<int:user_id>/role")
@login_required
@admin_required
def change_role(user_id: int):
    member = team.get_member(current_user.tenant_id, user_id)  # another tenant's: a 404
    form = MemberRoleForm()
    changed = run_form(form, lambda: team.change_role(current_user.tenant_id, current_user, member.id,
                                                      form.role.data), field="role")
    if changed is not None:
        member, previous = changed
        if previous != member.role:
            note("member.role_changed", _member_target(member), {"role": [previous, member.role]})
            flash(f"{member.display_name} is now {member.role}.", "success")
        return redirect(url_for("team.index"))
    return _page(role_errors={member.id: form.role.errors}, status=422)


@bp.post("/settings/team/members/<int:user_id>/remove")
@login_required
@admin_required
def remove_member(user_id: int):
    member = team.get_member(current_user.tenant_id, user_id)  # another tenant's: a 404
    target = _member_target(member)
    try:
        team.remove_member(current_user.tenant_id, current_user, member.id)
    except ValidationFailed as exc:
        return _page(member_errors={member.id: [exc.reason]}, status=422)
    note("member.removed", target)
    flash(f"{target.label} was removed from the team and signed out.", "success")
    return redirect(url_for("team.index"))


# --- accepting an invitation ----------------------------------------------------------------

@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str):
    """No session needed: the link is the credential. It asks for a name and a password,
    creates the login and signs this browser in."""
    try:
        found = team.invite_for_link(token)
    except LinkUnusable as exc:
        return render_template("team/link_unusable.html", title="Invitation", message=str(exc)), 410
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            user = team.accept_invite(token, form.name.data, form.password.data)
        except LinkUnusable as exc:
            return render_template("team/link_unusable.html", title="Invitation", message=str(exc)), 410
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)  # "email": above the form
        else:
            if current_user.is_authenticated:
                tenants.end_session(current_user._get_current_object())
            tenants.start_session(user, request.remote_addr)
            login_user(user)
            record_event(user.tenant_id, Actor.of_user(user, request.remote_addr), "member.joined",
                         changes={"role": [None, user.role]})
            flash(f"Welcome to {user.tenant.name}, {user.display_name}.", "success")
            return redirect(url_for("dashboard.index"))
    status = 422 if form.errors else 200
    return render_template("team/accept.html", form=form, invite=found, token=token), status
