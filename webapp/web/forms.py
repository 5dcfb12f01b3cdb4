"""WTForms for the marketer pages (CSRF comes with FlaskForm)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(message="Write something first."),
                                             Length(max=5000)])


class TagForm(FlaskForm):
    tag = StringField("Tag", validators=[DataRequired(message="Enter a tag."), Length(max=100)])


class TenantSettingsForm(FlaskForm):
    name = StringField("Organisation name", validators=[DataRequired(), Length(max=200)])
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)],
                           description="IANA name, e.g. Europe/London")
    sender_name = StringField("Sender name", validators=[Optional(), Length(max=200)])
    sender_email = EmailField("Sender email", validators=[Optional(), Email(), Length(max=320)])
    postal_address = TextAreaField("Postal address", validators=[Optional(), Length(max=1000)],
                                   description="Shown in every email footer; required by law to send.")


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    role = SelectField("Access", choices=[("admin", "Read and write"), ("viewer", "Read only")],
                       default="admin")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200)])


class CustomerForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=320)])
    first_name = StringField("First name", validators=[Optional(), Length(max=200)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=200)])
    external_id = StringField("External id", validators=[Optional(), Length(max=200)])
    timezone = StringField("Timezone", validators=[Optional(), Length(max=64)])
    email_status = SelectField("Email status", choices=[
        ("subscribed", "Subscribed"), ("unsubscribed", "Unsubscribed"),
        ("bounced", "Bounced"), ("complained", "Complained")])


def apply_domain_error(form: FlaskForm, field: str, message: str) -> None:
    """Show a service's validation message beside the field it names."""
    target = getattr(form, field, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors) + [message]
    else:
        form.form_errors.append(message)
