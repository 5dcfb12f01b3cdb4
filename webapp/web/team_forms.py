"""Forms of the team page, the invitation and password reset pages."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.models import ROLES
from webapp.services.tenants import MIN_PASSWORD_LENGTH
from webapp.web.forms import Form

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]
PASSWORD_HINT = f"At least {MIN_PASSWORD_LENGTH} characters."


class InviteForm(Form):
    email = EmailField("Email", id="invite-email",
                       validators=[DataRequired(message="Enter the address to invite."), Length(max=320)])
    role = SelectField("Role", id="invite-role", choices=ROLE_CHOICES, default="marketer")


class MemberRoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES)


class AcceptInviteForm(Form):
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=200)],
                       description="How your team sees you in the app and the audit log.",
                       render_kw={"autocomplete": "name"})
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(max=200)],
                             description=PASSWORD_HINT, render_kw={"autocomplete": "new-password"})


class ForgotPasswordForm(Form):
    email = EmailField("Email", validators=[DataRequired(message="Enter the address you log in with."),
                                            Length(max=320)], render_kw={"autocomplete": "email"})


class ResetPasswordForm(Form):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)],
                                 description=PASSWORD_HINT + " Your other sessions will be logged out.",
                                 render_kw={"autocomplete": "new-password"})
