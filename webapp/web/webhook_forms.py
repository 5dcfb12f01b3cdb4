"""The webhook endpoint form of Settings › Webhooks."""

from __future__ import annotations

from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from webapp.services.webhooks import EVENT_LABELS, WEBHOOK_EVENT_TYPES
from webapp.web.forms import Form


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class WebhookEndpointForm(Form):
    url = StringField("Endpoint URL", validators=[DataRequired(message="Enter the address to send events to."),
                                                  Length(max=2000)],
                      description="Where we POST each event, e.g. https://example.com/hooks/crm (https only).")
    description = StringField("Description", validators=[Length(max=200)],
                              description="Optional: a note for your team, e.g. “Data warehouse”.")
    event_types = CheckboxesField("Events to send", choices=[(t, EVENT_LABELS[t]) for t in WEBHOOK_EVENT_TYPES],
                                  validators=[DataRequired(message="Choose at least one event.")])

    def values(self) -> dict:
        return {"url": (self.url.data or "").strip(), "description": self.description.data or "",
                "event_types": list(self.event_types.data or [])}
