"""Tenant settings, API tokens and the user's password."""

from __future__ import annotations

import zoneinfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from webapp.infra.errors import Conflict, ValidationFailed
from webapp.services import brand, formatting, sending_domains, tenant_settings, tenants
from webapp.services.audit import Target
from webapp.web.access import admin_required, write_required
from webapp.web.audit import audits_tenant_change, note
from webapp.web.forms import (
    BrandForm,
    PasswordForm,
    SendingDomainForm,
    TenantSettingsForm,
    TokenForm,
    apply_domain_error,
)

bp = Blueprint("settings", __name__, url_prefix="/settings")
# The timezone field suggests these as one types ("Lon" -> Europe/London): a searchable list.
TIMEZONES = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC")


def _brand_form(posted: bool = False) -> BrandForm:
    """The brand kit form: the stored kit (defaults filled in), or what was just posted."""
    kit = brand.get_brand(current_user.tenant_id)
    data = {**kit, "logo_asset_id": str(kit["logo_asset_id"] or "")}
    form = BrandForm(data=data) if posted else BrandForm(formdata=None, data=data)
    form.logo_asset_id.choices = [("", "No logo")] + [
        (str(image_id), filename) for image_id, filename in brand.logo_choices(current_user.tenant_id)]
    form.font_family.choices = list(brand.FONT_STACKS)
    return form


def _page(settings_form=None, token_form=None, password_form=None, domain_form=None, new_secret=None, status=200,
          brand_form=None):
    tenant = current_user.tenant
    settings_form = settings_form or TenantSettingsForm(obj=tenant, formdata=None)
    for select in (settings_form.currency, settings_form.locale):
        # A refused value stays on show beside its message, not replaced by the list's first entry.
        if select.data and select.data not in dict(select.choices):
            select.choices = [(select.data, select.data), *select.choices]
    return render_template(
        "settings/index.html",
        tenant=tenant,
        settings_form=settings_form,
        domain_form=domain_form or SendingDomainForm(formdata=None),
        domains=sending_domains.list_domains(tenant.id),
        record_name=sending_domains.record_name,
        record_value=sending_domains.record_value,
        token_form=token_form or TokenForm(formdata=None),
        password_form=password_form or PasswordForm(formdata=None),
        tokens=tenants.list_api_tokens(tenant),
        new_secret=new_secret,
        brand_form=brand_form or _brand_form(),
        brand_kit=brand.get_brand(tenant.id),
        timezones=TIMEZONES,
        currency_label=formatting.currency_name(tenant.currency),
        locale_label=formatting.locale_name(tenant.locale),
        money_example=_money_example(settings_form.currency.data or tenant.currency,
                                     settings_form.locale.data or tenant.locale),
    ), status


# The amount the settings page writes out to show what a currency and locale look like.
EXAMPLE_AMOUNT = 1234.5


def _money_example(currency: str | None, locale: str | None) -> str | None:
    """EXAMPLE_AMOUNT in `currency` for `locale`, or None when either is not one a tenant may choose."""
    if not (formatting.is_currency(currency) and formatting.is_locale(locale)):
        return None
    return formatting.format_money(EXAMPLE_AMOUNT, currency, locale)


@bp.get("/")
@login_required
def index():
    return _page()


@bp.get("/money-example")
@login_required
def money_example():
    """The settings page's "money will look like" line for the currency and locale picked (htmx)."""
    currency, locale = request.args.get("currency", ""), request.args.get("locale", "")
    return render_template("settings/_money_example.html", money_example=_money_example(currency, locale))


@bp.post("/tenant")
@login_required
@admin_required
@audits_tenant_change("settings.changed", exclude=frozenset({"brand"}))
def update_tenant():
    form = TenantSettingsForm()
    if form.validate_on_submit():
        changes = {name: form[name].data for name in tenant_settings.SETTINGS_FIELDS if name in form}
        # A number or choice left empty (or not sent) keeps its setting; texts are cleared.
        for name in ("currency", "locale", "attribution_days", "send_rate_per_second"):
            if changes[name] in (None, ""):
                del changes[name]
        try:
            changes.update(form.send_windows())
            tenant_settings.update_settings(current_user.tenant, changes)
        except ValidationFailed as exc:
            apply_domain_error(form, form.SEND_WINDOW_FIELDS.get(exc.field, exc.field), exc.reason)
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("settings.index"))
    return _page(settings_form=form, status=422)


@bp.post("/brand")
@login_required
@write_required
@audits_tenant_change("brand.changed", only=frozenset({"brand"}))
def update_brand():
    form = _brand_form(posted=True)
    if form.validate_on_submit():
        posted = {name: form[name].data for name in brand.BRAND_FIELDS}
        posted["logo_asset_id"] = int(form.logo_asset_id.data) if form.logo_asset_id.data else None
        # Only what changed: a link colour left as it was keeps following the primary colour.
        kit = brand.get_brand(current_user.tenant_id)
        changes = {name: value for name, value in posted.items() if value != kit.get(name)}
        try:
            brand.update_brand(current_user.tenant_id, changes)
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            flash("Brand kit saved. New emails and the starter templates use it.", "success")
            return redirect(url_for("settings.index", _anchor="brand-kit"))
    return _page(brand_form=form, status=422)


@bp.post("/sending-domains")
@login_required
@admin_required
def add_sending_domain():
    form = SendingDomainForm()
    if form.validate_on_submit():
        try:
            row = sending_domains.add_domain(current_user.tenant_id, form.domain.data)
        except (ValidationFailed, Conflict) as exc:
            apply_domain_error(form, "domain", exc.details[0]["message"])
        else:
            flash(f"{row.domain} added. Add its TXT record at your DNS provider, then press Verify.", "success")
            return redirect(url_for("settings.index", _anchor="sending-domains"))
    return _page(domain_form=form, status=422)


@bp.post("/sending-domains/<int:domain_id>/verify")
@login_required
@admin_required
def verify_sending_domain(domain_id: int):
    try:  # another tenant's id: NotFound, a 404 page
        row = sending_domains.verify_domain(current_user.tenant_id, domain_id)
    except Conflict as exc:
        flash(exc.details[0]["message"], "error")
    else:
        if row.verified:
            flash(f"{row.domain} is verified.", "success")
        else:
            flash(f"{row.domain} is not verified yet: {row.last_check_error}.", "error")
    return redirect(url_for("settings.index", _anchor="sending-domains"))


@bp.post("/sending-domains/<int:domain_id>/remove")
@login_required
@admin_required
def remove_sending_domain(domain_id: int):
    name = sending_domains.get_domain(current_user.tenant_id, domain_id).domain  # another tenant's: a 404
    try:
        sending_domains.remove_domain(current_user.tenant_id, domain_id)
    except Conflict as exc:
        flash(f"{name} was not removed: {exc.details[0]['message']}.", "error")
    else:
        flash(f"{name} removed. From addresses on it are refused from now on.", "success")
    return redirect(url_for("settings.index", _anchor="sending-domains"))


@bp.post("/tokens")
@login_required
@admin_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, secret = tenants.create_api_token(current_user.tenant, form.name.data, form.role.data)
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            note("token.created", Target("token", token.id, token.name), {"role": [None, token.role]})
            # The secret is shown on this response only; it is stored hashed.
            return _page(new_secret=secret)
    return _page(token_form=form, status=422)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
@admin_required
def revoke_token(token_id: int):
    token = tenants.revoke_api_token(current_user.tenant, token_id)  # another tenant's id: NotFound, a 404 page
    note("token.revoked", Target("token", token.id, token.name))
    flash("Token revoked. Requests using it now get 401.", "success")
    return redirect(url_for("settings.index"))


@bp.post("/password")
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            tenants.change_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as exc:
            apply_domain_error(form, exc.field, exc.reason)
        else:
            # Every session ended with the old password; this browser goes on in a new one.
            user = current_user._get_current_object()
            tenants.start_session(user, request.remote_addr)
            login_user(user)
            note("password.changed")
            flash("Password changed. Your other sessions have been logged out.", "success")
            return redirect(url_for("settings.index"))
    return _page(password_form=form, status=422)
