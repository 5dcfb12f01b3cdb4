"""Money and counts as people in the tenant's locale write them (Babel), whatever a stored
value holds; the currencies and locales a tenant may choose."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.services.formatting import (
    currency_choices,
    format_money,
    format_number,
    is_currency,
    is_locale,
    locale_choices,
)

# Touches no test database: the SQLite run has it, the PostgreSQL run skips it.
pytestmark = pytest.mark.no_database


@pytest.mark.parametrize(("value", "currency", "locale", "shown"), [
    (1234.5, "GBP", "en_GB", "£1,234.50"),
    (Decimal("1234.50"), "EUR", "de_DE", "1.234,50\xa0€"),
    (1234.5, "EUR", "fr_FR", "1\u202f234,50\xa0€"),
    (1234.5, "USD", "en_US", "$1,234.50"),
    (1234.5, "EUR", "en_GB", "€1,234.50"),
    (1234.5, "GBP", "de_DE", "1.234,50\xa0£"),
    (1234.5, "JPY", "ja_JP", "￥1,234"),  # no minor unit: yen are whole
    (1234.5, "CHF", "de_CH", "CHF\xa01’234.50"),
    (0, "GBP", "en_GB", "£0.00"),
    (None, "GBP", "en_GB", "£0.00"),
    (-5, "GBP", "en_GB", "-£5.00"),
    (999_999_999_999.99, "GBP", "en_GB", "£999,999,999,999.99"),
])
def test_money_reads_as_the_locale_writes_that_currency(value, currency, locale, shown):
    assert format_money(value, currency, locale) == shown


def test_a_lower_case_code_is_the_same_currency():
    assert format_money(10, "eur", "de_DE") == format_money(10, "EUR", "de_DE")


@pytest.mark.parametrize(("currency", "shown"), [
    ("XYZ", "1,234.50 XYZ"),          # no such currency
    ("euro", "1,234.50 euro"),        # a word, not a code
    ("€", "1,234.50 €"),
    ("<b>GBP</b>", "1,234.50 <b>GBP</b>"),  # the page escapes it; formatting keeps it as given
    ("X" * 500, "1,234.50 " + "X" * 12),    # cut short: junk cannot flood a page
])
def test_an_unknown_code_from_a_stored_activity_falls_back_to_the_number_and_the_code(currency, shown):
    assert format_money(1234.5, currency, "en_GB") == shown


def test_an_unknown_locale_falls_back_to_british_english():
    assert format_money(1234.5, "EUR", "xx_YY") == format_money(1234.5, "EUR", "en_GB") == "€1,234.50"
    assert format_money(1234.5, "EUR", None) == "€1,234.50"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), "Infinity", "lots"])
def test_what_is_not_a_finite_number_reads_as_a_dash(value):
    assert format_money(value, "GBP", "en_GB") == "—"
    assert format_number(value, "en_GB") == "—"


@pytest.mark.parametrize(("value", "shown"), [(1e30, "1E30 GBP"), ("1e400", "1E400 GBP"), (-(10**20), "-1E20 GBP")])
def test_absurdly_large_amounts_read_in_scientific_notation_not_a_screen_of_digits(value, shown):
    assert format_money(value, "GBP", "en_GB") == shown


@given(value=st.one_of(st.none(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                       st.decimals(allow_nan=True, allow_infinity=True), st.text(max_size=30)),
       currency=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["GBP", "EUR", "JPY", "XXX", "DEM"])),
       locale=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["en_GB", "de_DE", "ar_EG", "hi_IN"])))
def test_formatting_never_raises_and_stays_short(value, currency, locale):
    shown = format_money(value, currency, locale)
    assert isinstance(shown, str) and 0 < len(shown) < 80
    assert isinstance(format_number(value if not isinstance(value, str) else None, locale), str)


def test_counts_take_the_locales_grouping():
    assert (format_number(1234567, "en_GB"), format_number(1234567, "de_DE"), format_number(1234567, "fr_FR")) == \
        ("1,234,567", "1.234.567", "1\u202f234\u202f567")


def test_the_choices_are_current_currencies_and_territorial_locales_by_name():
    currencies = dict(currency_choices())
    locales = dict(locale_choices())

    assert currencies["GBP"] == "GBP — British Pound" and currencies["EUR"] == "EUR — Euro"
    assert "DEM" not in currencies and "XXX" not in currencies  # withdrawn, and "no currency"
    assert locales["en_GB"] == "English (United Kingdom)" and locales["de_DE"] == "German (Germany)"
    assert "en" not in locales  # a language alone says nothing about separators
    assert [name for _, name in locale_choices()] == sorted(locales.values(), key=str.casefold)
    assert all(is_currency(code) for code in currencies) and all(is_locale(code) for code in locales)
    assert not is_currency("gbp") and not is_locale("en-GB")  # the stored forms only
