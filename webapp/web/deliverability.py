"""Settings › Deliverability: the bounce and complaint webhook of each mail relay (its URL and
credentials) and, per sending domain, the SPF, DKIM and DMARC records to publish."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.models import PROVIDERS
from webapp.services import sending_domains
from webapp.services.audit import Target
from webapp.services.deliverability import credentials, dns_records
from webapp.web.access import admin_required
from webapp.web.audit import note
from webapp.web.deliverability_forms import PROVIDER_FIELDS, SECRET_FIELDS, DkimKeyForm, ProviderCredentialsForm
from webapp.web.forms import run_form

bp = Blueprint("deliverability", __name__)


def _page(forms: dict[str, ProviderCredentialsForm] | None = None, dkim_forms: dict[int, DkimKeyForm] | None = None,
          status: int = 200):
    tenant_id = current_user.tenant_id
    row = credentials.settings_of(tenant_id)
    forms = forms or {}
    for provider in PROVIDERS:
        if provider not in forms:
            forms[provider] = ProviderCredentialsForm(formdata=None, data={
                "provider": provider, "ses_topic_arns": "\n".join(credentials.topic_arns(row)),
                "postmark_username": row.postmark_username or ""})
    domains = sending_domains.list_domains(tenant_id)
    dkim_forms = dkim_forms or {}
    for domain in domains:
        dkim_forms.setdefault(domain.id, DkimKeyForm(formdata=None, data={"selector": domain.dkim_selector or ""}))
    return render_template(
        "settings/deliverability.html", row=row, summary=credentials.describe(row), forms=forms,
        providers=PROVIDERS, names=credentials.PROVIDER_NAMES, domains=domains, dkim_forms=dkim_forms,
        records={d.id: dns_records.records_for(d) for d in domains}), status


@bp.get("/settings/deliverability")
@login_required
@admin_required
def index():
    return _page()


@bp.post("/settings/deliverability/webhooks")
@login_required
@admin_required
def save_provider():
    form = ProviderCredentialsForm()
    provider = form.provider.data if form.provider.data in PROVIDERS else None
    if provider is not None:
        fields = PROVIDER_FIELDS[provider]
        if form.turn_off.data:
            changes = {name: None for name in fields}
        else:
            # A secret left empty keeps the stored one (it is never shown to be edited).
            changes = {name: form[name].data for name in fields
                       if not (name in SECRET_FIELDS and not (form[name].data or "").strip())}
        if run_form(form, lambda: credentials.update_credentials(current_user.tenant_id, changes)) is not None:
            note("provider_webhooks.changed", changes={name: None for name in sorted(changes)})
            name = credentials.PROVIDER_NAMES[provider]
            flash(f"{name} stopped: its calls are refused from now on." if form.turn_off.data
                  else f"{name} saved. Bounces and complaints it reports now update your customers.", "success")
            return redirect(url_for("deliverability.index", _anchor=f"provider-{provider}"))
    return _page(forms={provider or "ses": form}, status=422)


@bp.post("/settings/deliverability/new-key")
@login_required
@admin_required
def new_key():
    credentials.new_key(current_user.tenant_id)
    note("provider_webhooks.new_key")
    flash("New webhook URLs made. Paste them into each provider's console: the old ones no longer work.", "success")
    return redirect(url_for("deliverability.index"))


@bp.post("/settings/deliverability/domains/<int:domain_id>/dkim")
@login_required
@admin_required
def create_dkim_key(domain_id: int):
    domain = sending_domains.get_domain(current_user.tenant_id, domain_id)  # another tenant's: a 404
    form = DkimKeyForm()
    row = run_form(form, lambda: dns_records.create_dkim_key(current_user.tenant_id, domain_id, form.selector.data))
    if row is not None:
        note("dkim.key_created", Target("sending_domain", row.id, row.domain))
        flash(f"DKIM key made for {row.domain}. Publish its DKIM record below: mail from {row.domain} sent "
              "through your SMTP server is signed from now on.", "success")
        return redirect(url_for("deliverability.index", _anchor=f"domain-{row.id}"))
    return _page(dkim_forms={domain.id: form}, status=422)


@bp.get("/settings/deliverability/domains/<int:domain_id>/dns")
@login_required
@admin_required
def check_dns(domain_id: int):
    """Whether DNS shows each record yet (htmx partial; asked on request, nothing stored)."""
    domain = sending_domains.get_domain(current_user.tenant_id, domain_id)
    return render_template("settings/_dns_checks.html", domain=domain, checks=dns_records.check_records(domain))
