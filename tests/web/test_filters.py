"""Page filters that turn numbers into words."""

from __future__ import annotations

import pytest

from webapp.web.filters import duration


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "under a minute"),
    (59.9, "under a minute"),
    (60, "about 1 minute"),
    (200, "about 3 minutes"),
    (3569, "about 59 minutes"),
    (3600, "about 1 hour"),
    (3660, "about 1 hour 1 minute"),
    (100_000 / 14, "about 1 hour 59 minutes"),
    (2 * 3600 + 30 * 60, "about 2 hours 30 minutes"),
])
def test_duration_reads_as_words(seconds, words):
    assert duration(seconds) == words


# --- money: the tenant's currency and locale, or the amount's own currency ------------------

def _signed_in_money(app, tenant_id: int, currency: str, locale: str, *args):
    from flask_login import login_user
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Tenant, User
    from webapp.web.filters import money

    tenant = db.session.get(Tenant, tenant_id)
    tenant.currency, tenant.locale = currency, locale
    db.session.commit()
    with app.test_request_context():
        login_user(db.session.scalar(select(User).where(User.tenant_id == tenant_id)))
        return money(*args)


@pytest.mark.parametrize(("currency", "locale", "args", "shown"), [
    ("GBP", "en_GB", (1234.5,), "£1,234.50"),
    ("EUR", "de_DE", (1234.5,), "1.234,50\xa0€"),
    ("USD", "en_US", (None,), "$0.00"),
    ("EUR", "de_DE", (1234.5, "GBP"), "1.234,50\xa0£"),  # a purchase's own currency, written the tenant's way
    ("GBP", "en_GB", (20, "usd"), "US$20.00"),
    ("GBP", "en_GB", (20, "bitcoin"), "20.00 bitcoin"),  # a stored code nobody knows: the number and the code
    ("GBP", "en_GB", (float("nan"),), "—"),
])
def test_money_is_in_the_tenants_currency_and_locale_unless_the_amount_carries_its_own(
        app, tenant_a, currency, locale, args, shown):
    assert _signed_in_money(app, tenant_a.id, currency, locale, *args) == shown


def test_money_outside_a_signed_in_page_is_in_pounds_the_british_way(app):
    from webapp.web.filters import money

    with app.test_request_context():
        assert (money(1234.5), money(1234.5, "EUR")) == ("£1,234.50", "€1,234.50")
