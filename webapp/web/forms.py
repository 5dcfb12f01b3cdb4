"""WTForms for the marketer pages (CSRF comes with FlaskForm)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, EmailField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation

from webapp.models import EMAIL_STATUSES


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
    sender_email = EmailField("Sender email", validators=[Optional(), Email(), Length(max=320)],
                              description="On one of your sending domains.")
    postal_address = TextAreaField("Postal address", validators=[Optional(), Length(max=1000)],
                                   description="Shown in every email footer; required by law to send.")
    attribution_days = IntegerField(
        "Attribution window (days)", validators=[Optional()],
        description="A purchase within this many days of a click on a campaign (or an open, without a click) "
                    "counts as that campaign's revenue. 0 turns attribution off.")
    send_rate_per_second = IntegerField(
        "Sending rate (messages per second)", validators=[Optional()],
        description="How fast campaign and workflow emails go out, counted across every worker. Set it to what "
                    "your mail service allows you; messages are spread evenly over each second.")
    webhook_allowlist = TextAreaField("Webhook allowlist", validators=[Optional(), Length(max=2000)],
                                      description="Public hosts workflow webhooks may call over plain http, one per "
                                                  "line; every other webhook needs https. Private, loopback and "
                                                  "link-local addresses stay closed whatever is listed here: only "
                                                  "whoever runs this service can open them.")


class SendingDomainForm(FlaskForm):
    domain = StringField("Domain", id="sending-domain",
                         validators=[DataRequired(message="Enter a domain, e.g. mail.venue.com."), Length(max=253)])


class TokenForm(FlaskForm):
    # Its own id: the organisation form on the same page has a `name` field too.
    name = StringField("Token name", id="token-name", validators=[DataRequired(), Length(max=100)])
    role = SelectField("Access", choices=[SelectChoice("admin", "Read and write"),
                                          SelectChoice("viewer", "Read only")], default="admin")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200)],
                                 description="At least 10 characters. Your other sessions will be logged out.")


class CustomerForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=320)])
    first_name = StringField("First name", validators=[Optional(), Length(max=200)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=200)])
    external_id = StringField("External id", validators=[Optional(), Length(max=200)])
    timezone = StringField("Timezone", validators=[Optional(), Length(max=64)])
    email_status = SelectField("Email status", choices=[
        SelectChoice(status, status.capitalize()) for status in EMAIL_STATUSES])


def apply_domain_error(form: FlaskForm, field: str, message: str) -> None:
    """Show a service's validation message beside the field it names."""
    target = getattr(form, field, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors) + [message]
    else:
        form.form_errors.append(message)


# --- campaigns ---------------------------------------------------------------------------

def _tenant_zone() -> ZoneInfo | None:
    """The signed-in marketer's organisation timezone: schedule times are typed in it."""
    if not current_user or not current_user.is_authenticated:
        return None
    try:
        return ZoneInfo(current_user.tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class CampaignForm(FlaskForm):
    name = StringField("Campaign name", validators=[DataRequired(message="Give the campaign a name."),
                                                    Length(max=200)],
                       description="Only your team sees it.")
    # Choices are the tenant's segments, set by the view.
    segment_id = SelectField("Send to", choices=[], default="", invalid_choice_message="Choose one of your segments.")
    subject = StringField("Subject", validators=[DataRequired(message="Write a subject line."), Length(max=300)])
    preheader = StringField("Preheader", validators=[Optional(), Length(max=300)],
                            description="The preview text most inboxes show after the subject.")
    from_name = StringField("From name", validators=[Optional(), Length(max=200)])
    from_email = EmailField("From email", validators=[Optional(), Length(max=320)],
                            description="On one of your sending domains. Empty: the sender in Settings.")
    reply_to = EmailField("Reply-to", validators=[Optional(), Length(max=320)])
    html_content = TextAreaField("HTML content", validators=[DataRequired(message="Write the email's content."),
                                                             Length(max=500_000)])
    text_content = TextAreaField("Plain-text version", validators=[Optional(), Length(max=500_000)],
                                 description="Optional: made from the HTML when left empty.")
    utm_source = StringField("utm_source", validators=[Optional(), Length(max=100)],
                             description="Added to every tracked link that has no utm_source, e.g. newsletter.")
    utm_medium = StringField("utm_medium", validators=[Optional(), Length(max=100)], description="e.g. email")
    utm_campaign = StringField("utm_campaign", validators=[Optional(), Length(max=200)],
                               description="e.g. summer-line-up")


class TestSendForm(FlaskForm):
    emails = StringField("Send a test to", validators=[DataRequired(message="Enter at least one address."),
                                                       Length(max=4000)],
                         description="Up to 10 addresses, separated by commas. The subject starts with [TEST].")

    def addresses(self) -> list[str]:
        return [part.strip() for part in (self.emails.data or "").replace(";", ",").replace("\n", ",").split(",")
                if part.strip()]


def _date_and_time_given(form: FlaskForm, field: DateTimeLocalField) -> None:
    # An unreadable value already has its message (from the field); say it only once.
    if field.data is None and not field.errors:
        raise StopValidation("Pick a date and time.")


class ScheduleForm(FlaskForm):
    send_at = DateTimeLocalField("Send at", tz=_tenant_zone, validators=[_date_and_time_given],
                                 format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
                                 invalid_value_message="Pick a date and time.")


class ImportUploadForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired(message="Choose a CSV file to upload.")],
                     description="A header row, then one customer per row; comma, semicolon or tab "
                                 "separated; up to 50 MB.")
