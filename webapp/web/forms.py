"""WTForms for the marketer pages (CSRF comes with FlaskForm), and the checks every submitted
value goes through: text the database cannot store, JSON nested past any sense."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import Form as WtfForm
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import ColorInput, NumberInput

from webapp.infra.errors import ValidationFailed
from webapp.infra.validation import field_path, text_problem
from webapp.models import EMAIL_STATUSES, EmailCampaign
from webapp.services import formatting
from webapp.services.campaigns.waves import LOCAL_TIME_FORMAT

T = TypeVar("T")

# --- text the database cannot store ------------------------------------------------------

# Text the database cannot store (services.validation.text_problem): NUL, and a lone
# surrogate, which a JSON escape ("\ud800") can carry though form data cannot (werkzeug keeps
# undecodable bytes percent-quoted in urlencoded bodies and replaces them in multipart ones).


class StorableValues:
    """request.form for views that read it directly (step editors, previews): reading a value
    the database cannot store raises ValidationFailed naming the field. Forms built on `Form`
    check their fields themselves."""

    def __init__(self, values: MultiDict) -> None:
        self._values = values

    def _checked(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and (reason := text_problem(value)):
            raise ValidationFailed(name, reason)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self._checked(name, self._values.get(name, default))

    def __getitem__(self, name: str) -> Any:
        return self._checked(name, self._values[name])

    def getlist(self, name: str) -> list[Any]:
        return [self._checked(name, value) for value in self._values.getlist(name)]


def _storable(form: FlaskForm, field: Any) -> None:
    for value in field.raw_data or ():
        text = value if isinstance(value, str) else getattr(value, "filename", None)  # an upload: its name
        if isinstance(text, str) and (reason := text_problem(text)):
            raise StopValidation(reason)


class Form(FlaskForm):
    """The base of every marketer form: each field refuses text the database cannot store
    before its own validators run, so the message stands beside the field and nothing is saved."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            field.validators = [_storable, *field.validators]
            return field


class SubForm(WtfForm):
    """A form nested in a Form (a FieldList row): the same check of every field, no CSRF
    token of its own (the page's covers it)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            field.validators = [_storable, *field.validators]
            return field


# --- JSON typed into a form --------------------------------------------------------------

# A segment definition nests two JSON levels per group (a list in an object), at most
# segments' MAX_DEPTH groups, plus a condition and its value: about ten. The bound leaves
# room for the definition's own, clearer message and stops `json.loads` and every recursive
# walk after it long before Python's recursion limit.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


class _Refused(ValueError):
    """A number JSON text may spell but nothing can store; its message is for the marketer."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"must not contain {name}: it is not a number")  # json.loads accepts NaN, Infinity


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):  # 1e999 reads as infinity
        raise _Refused(f"has a number too large to store ({text[:20]})")
    return number


def _unstorable_path(value: Any, path: str) -> tuple[str, str] | None:
    """(path, reason) of the first string or key in decoded JSON the database cannot store."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if reason := text_problem(item):
                return where, reason
        elif isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                if reason := text_problem(key):
                    return where, f"keys {reason}"
                stack.append((sub, field_path((key,), where)))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{i}]") for i, sub in reversed(list(enumerate(item))))
    return None


def decode_json_field(raw: str | None, field: str, default: str = "[]") -> Any:
    """The value of a JSON form field, or ValidationFailed naming `field` (or the spot inside it):
    unreadable, nested deeper than MAX_JSON_DEPTH, NaN or Infinity, or text that cannot be stored."""
    text = raw if raw and raw.strip() else default
    if reason := text_problem(text):
        raise ValidationFailed(field, reason)
    if _json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise ValidationFailed(field, f"nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _Refused as exc:
        raise ValidationFailed(field, str(exc)) from None
    except ValueError:  # malformed, or an integer of thousands of digits
        raise ValidationFailed(field, "is not valid JSON") from None
    if found := _unstorable_path(value, field):
        raise ValidationFailed(*found)
    return value


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class NoteForm(Form):
    text = TextAreaField("Note", validators=[DataRequired(message="Write something first."),
                                             Length(max=5000)])


class TagForm(Form):
    tag = StringField("Tag", validators=[DataRequired(message="Enter a tag."), Length(max=100)])


class TenantSettingsForm(Form):
    name = StringField("Organisation name", validators=[DataRequired(), Length(max=200)])
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)],
                           description="Start typing a city, e.g. London or New York, and pick it from the list",
                           render_kw={"list": "timezone-choices", "autocomplete": "off", "spellcheck": "false"})
    # Choices from Babel's data; the service checks the value (so the API refuses the same),
    # and a missing one leaves the setting as it was.
    currency = SelectField("Currency", choices=formatting.currency_choices, validate_choice=False,
                           validators=[Optional()], description="Revenue and order totals are shown in it.")
    locale = SelectField("Number format", choices=formatting.locale_choices, validate_choice=False,
                         validators=[Optional()],
                         description="The language and country whose way of writing amounts you read.")
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
    # When people get mail. Both of a pair empty: no cap / no quiet hours (the service checks values).
    frequency_cap_emails = IntegerField("Frequency cap: most emails per person", validators=[Optional()],
                                        widget=NumberInput(min=1, max=100),
                                        description="Marketing emails, 1 to 100. Leave both empty for no cap.")
    frequency_cap_days = IntegerField("Frequency cap: in how many days", validators=[Optional()],
                                      widget=NumberInput(min=1, max=90),
                                      description="1 to 90. Campaign recipients at the cap are skipped, with the "
                                                  "reason in the report; transactional workflow emails neither count "
                                                  "nor are capped.")
    quiet_hours_start = StringField("Quiet hours start", validators=[Optional(), Length(max=5)],
                                    render_kw={"type": "time"},
                                    description="e.g. 21:00. Leave both empty for no quiet hours.")
    quiet_hours_end = StringField("Quiet hours end", validators=[Optional(), Length(max=5)],
                                  render_kw={"type": "time"},
                                  description="e.g. 08:00. Workflow emails coming due in between, in each "
                                              "customer's local time, wait until then; transactional ones don't.")

    # Each pair is one setting; the service's field names map back to the inputs.
    SEND_WINDOW_FIELDS = {"frequency_cap.max_emails": "frequency_cap_emails",
                          "frequency_cap.days": "frequency_cap_days", "frequency_cap": "frequency_cap_emails",
                          "quiet_hours.start": "quiet_hours_start", "quiet_hours.end": "quiet_hours_end",
                          "quiet_hours": "quiet_hours_start"}

    def send_windows(self) -> dict[str, Any]:
        """The frequency cap and quiet hours as the settings service takes them; a pair
        half filled in names the missing half (ValidationFailed)."""
        cap = (self.frequency_cap_emails.data, self.frequency_cap_days.data)
        quiet = ((self.quiet_hours_start.data or "").strip(), (self.quiet_hours_end.data or "").strip())
        if (cap[0] is None) != (cap[1] is None):
            raise ValidationFailed("frequency_cap.days" if cap[1] is None else "frequency_cap.max_emails",
                                   "fill in both numbers, or neither for no cap")
        if bool(quiet[0]) != bool(quiet[1]):
            raise ValidationFailed("quiet_hours.end" if not quiet[1] else "quiet_hours.start",
                                   "fill in both times, or neither for no quiet hours")
        return {"frequency_cap": {"max_emails": cap[0], "days": cap[1]} if cap[0] is not None else None,
                "quiet_hours": {"start": quiet[0], "end": quiet[1]} if quiet[0] else None}


class SendingDomainForm(Form):
    domain = StringField("Domain", id="sending-domain",
                         validators=[DataRequired(message="Enter a domain, e.g. mail.venue.com."), Length(max=253)])


class TokenForm(Form):
    # Its own id: the organisation form on the same page has a `name` field too.
    name = StringField("Token name", id="token-name", validators=[DataRequired(), Length(max=100)])
    role = SelectField("Access", choices=[SelectChoice("admin", "Read and write"),
                                          SelectChoice("marketer", "Read and write, no settings"),
                                          SelectChoice("viewer", "Read only")], default="admin")


class PasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200)],
                                 description="At least 10 characters. Your other sessions will be logged out.")


class CustomerForm(Form):
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


def run_form(form: FlaskForm, action: Callable[[], T], *, field: str | None = None) -> T | None:
    """`action()` when the form validates: its result, or None when the form or the service
    refused (the service's ValidationFailed shows beside the field it names, or `field`), for
    the view to render the page again with the messages and a 422."""
    if not form.validate_on_submit():
        return None
    try:
        return action()
    except ValidationFailed as exc:
        apply_domain_error(form, field or exc.field, exc.reason)
        return None


# --- campaigns ---------------------------------------------------------------------------

def _tenant_zone() -> ZoneInfo | None:
    """The signed-in marketer's organisation timezone: schedule times are typed in it."""
    if not current_user or not current_user.is_authenticated:
        return None
    try:
        return ZoneInfo(current_user.tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def html_unless_design(form: FlaskForm, field: TextAreaField) -> None:
    """An email is a design (the builder's block tree) or HTML: the HTML is needed only without one."""
    if (form.design.data or "").strip():
        field.errors = []
        raise StopValidation()
    if not (field.data or "").strip():
        raise StopValidation("Write the email's content.")


class EmailEnvelopeForm(Form):
    """What every email has besides its content: subject, preheader, sender and the
    builder's design as JSON (the builder keeps it up to date; without JavaScript it travels
    back unchanged; empty: the email is HTML). Campaigns and workflow email steps share it."""

    subject = StringField("Subject", validators=[DataRequired(message="Write a subject line."), Length(max=300)])
    preheader = StringField("Preheader", validators=[Optional(), Length(max=300)],
                            description="The preview text most inboxes show after the subject.")
    from_name = StringField("From name", validators=[Optional(), Length(max=200)])
    from_email = EmailField("From email", validators=[Optional(), Length(max=320)],
                            description="On one of your sending domains. Empty: the sender in Settings.")
    reply_to = EmailField("Reply-to", validators=[Optional(), Length(max=320)])
    design = HiddenField("Design", validators=[Optional(), Length(max=2_000_000)])


class CampaignForm(EmailEnvelopeForm):
    name = StringField("Campaign name", validators=[DataRequired(message="Give the campaign a name."),
                                                    Length(max=200)],
                       description="Only your team sees it.")
    # Choices are the tenant's segments, set by the view.
    segment_id = SelectField("Send to", choices=[], default="", invalid_choice_message="Choose one of your segments.")
    # Choices are the tenant's topics, set by the view; "" is all marketing.
    topic_id = SelectField("Topic", choices=[], default="", invalid_choice_message="Choose one of your topics.",
                           description="Only people subscribed to the topic get the campaign.")
    html_content = TextAreaField("HTML content", validators=[html_unless_design, Length(max=500_000)])
    text_content = TextAreaField("Plain-text version", validators=[Optional(), Length(max=500_000)],
                                 description="Optional: made from the HTML when left empty.")
    utm_source = StringField("utm_source", validators=[Optional(), Length(max=100)],
                             description="Added to every tracked link that has no utm_source, e.g. newsletter.")
    utm_medium = StringField("utm_medium", validators=[Optional(), Length(max=100)], description="e.g. email")
    utm_campaign = StringField("utm_campaign", validators=[Optional(), Length(max=200)],
                               description="e.g. summer-line-up")


class TestSendForm(Form):
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


class ScheduleForm(Form):
    send_at = DateTimeLocalField("Send at", tz=_tenant_zone, validators=[_date_and_time_given],
                                 format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
                                 invalid_value_message="Pick a date and time.")
    per_customer_timezone = BooleanField(
        "At this time in each recipient’s timezone",
        description="Sent in waves: 10:00 in Sydney, then in London, then in New York. People without a "
                    "timezone get it at this time in yours. Schedule it a day ahead: where the time has "
                    "already passed when the first wave starts, people get it straight away.")

    @classmethod
    def as_saved(cls, campaign: EmailCampaign | None) -> ScheduleForm:
        """The schedule as saved: a local-time campaign shows its wall-clock time, ticked."""
        if campaign is not None and campaign.local_send_time:
            return cls(formdata=None, data={"send_at": datetime.strptime(campaign.local_send_time, LOCAL_TIME_FORMAT),
                                            "per_customer_timezone": True})
        return cls(formdata=None, data={"send_at": campaign.scheduled_at if campaign is not None else None})


class ImportUploadForm(Form):
    file = FileField("CSV file", validators=[FileRequired(message="Choose a CSV file to upload.")],
                     description="A header row, then one customer per row; comma, semicolon or tab "
                                 "separated; up to 50 MB.")


# --- templates and the brand kit ---------------------------------------------------------

class TemplateNameForm(Form):
    name = StringField("Template name", id="template-name",
                       validators=[DataRequired(message="Give the template a name."), Length(max=200)])


class BrandForm(Form):
    # Choices (the tenant's images, and the font stacks) are set by the view.
    logo_asset_id = SelectField("Logo", choices=[], default="", invalid_choice_message="Choose one of your images.",
                                description="Shown at the top of new emails. Upload images in the email builder.")
    primary_color = StringField("Primary colour", widget=ColorInput(), validators=[DataRequired()],
                                description="Buttons and the event card.")
    button_text_color = StringField("Button text colour", widget=ColorInput(), validators=[DataRequired()])
    link_color = StringField("Link colour", widget=ColorInput(), validators=[DataRequired()])
    text_color = StringField("Text colour", widget=ColorInput(), validators=[DataRequired()])
    background_color = StringField("Background", widget=ColorInput(), validators=[DataRequired()],
                                   description="Around the email.")
    content_background = StringField("Content background", widget=ColorInput(), validators=[DataRequired()],
                                     description="Behind the text.")
    font_family = SelectField("Font", choices=[], invalid_choice_message="Choose one of the fonts offered.",
                              description="Fonts every mail client has, so the email looks the same everywhere.")
    button_radius = IntegerField("Button corner radius (px)", widget=NumberInput(min=0, max=40, step=1),
                                 validators=[InputRequired(message="Enter a number from 0 to 40."),
                                             NumberRange(min=0, max=40, message="Enter a number from 0 to 40.")],
                                 description="0 for square corners, 20 or more for pill-shaped buttons.")
    footer_text = TextAreaField("Default footer text", validators=[Optional(), Length(max=500)],
                                description="Starts the footer of new emails and starter templates, above "
                                            "your address and the unsubscribe link, e.g. why people get your emails.")
