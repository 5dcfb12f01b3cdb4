"""Forms of a campaign's A/B test: its settings and variants in the editor, and the
marketer's pick of the winner on the report."""

from __future__ import annotations

from wtforms import FieldList, FormField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from webapp.services.campaigns.variants import LETTERS, MAX_VARIANTS, MIN_VARIANTS, duration_words
from webapp.web.forms import Form, SubForm

DURATIONS = (30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 10080)
METRICS = (SelectChoice("opens", "More people opened it (human unique opens)"),
           SelectChoice("clicks", "More people clicked (human unique clicks)"),
           SelectChoice("revenue", "More revenue per recipient (attributed purchases)"))


class WinnerForm(Form):
    variant = HiddenField("Variant", validators=[DataRequired(), AnyOf(list(LETTERS),
                                                                     message="Choose one of the variants.")])


class VariantForm(SubForm):
    """One variant; an empty field is the campaign's own."""

    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    preheader = StringField("Preheader", validators=[Optional(), Length(max=300)])
    from_name = StringField("Sender name", validators=[Optional(), Length(max=200)])
    html_content = TextAreaField("Content (HTML)", validators=[Optional(), Length(max=500_000)])


class AbTestForm(Form):
    share_percent = IntegerField(
        "People in the test", validators=[InputRequired(message="Say how many people get the test."),
                                          NumberRange(1, 100, message="From 1%% to 100%%.")],
        description="Split evenly between the variants; the rest get the winner. 100%: everyone is in the test.")
    duration_minutes = SelectField("Pick the winner after", coerce=int,
                                   choices=[SelectChoice(m, duration_words(m)) for m in DURATIONS], default=240)
    metric = SelectField("The winner is the variant where", choices=METRICS, default="opens",
                         description="Opens and clicks by machines (Apple Mail Privacy Protection, scanners) never "
                                     "count. When no variant is clearly better, variant A (the control) is sent.")
    variants = FieldList(FormField(VariantForm), min_entries=MIN_VARIANTS, max_entries=MAX_VARIANTS)
