"""Money and numbers as the tenant's people read them, and the currencies and locales a
tenant may choose. Babel (the Unicode CLDR data) knows each locale's symbols, separators and
symbol placement ("£1,234.50", "1.234,50 €"); this module only guards it against stored
values it would choke on, so pages, exports and emails can format without try/except."""

from __future__ import annotations

import functools
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.localedata import locale_identifiers
from babel.numbers import (
    format_currency,
    format_decimal,
    format_scientific,
    get_territory_currencies,
    list_currencies,
)

DEFAULT_CURRENCY = "GBP"
DEFAULT_LOCALE = "en_GB"
# Names of currencies and locales in the choice lists are in English, the app's language.
_NAMES_IN = "en"
# Amounts the columns hold stay below 1e12; activity properties can hold anything, and Babel
# would write 1e400 out in full (or fail quantising past Decimal's 28 digits): beyond this
# they read in scientific notation ("1E30 GBP").
_SCIENTIFIC_FROM = Decimal("1e15")
_CODE = re.compile(r"[A-Z]{3}")
_LOCALE_ID = re.compile(r"[a-z]{2,3}_[A-Z]{2}")


def format_money(value: Decimal | float | int | str | None, currency: str | None = None,
                 locale: str | None = None) -> str:
    """`value` in `currency` (ISO 4217) for `locale`: "£1,234.50" (GBP, en_GB), "1.234,50 €"
    (EUR, de_DE). A code Babel does not know is written after the number ("1,234.50 XYZ");
    a value that is not a finite number reads as a dash. Never raises."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    code = (currency or DEFAULT_CURRENCY).strip().upper()
    locale = locale if is_locale(locale) else DEFAULT_LOCALE
    known = code in _known_codes()
    if known and abs(amount) < _SCIENTIFIC_FROM:
        return format_currency(amount, code, locale=locale)
    # Unknown or malformed (stored activities carry what the platform sent), or absurdly large:
    # the number, then the code as given, shortened so a long junk value cannot flood a page.
    number = (format_decimal(amount, format="#,##0.00", locale=locale) if abs(amount) < _SCIENTIFIC_FROM
              else format_scientific(amount, locale=locale))
    shown = code if known else (currency or "").strip()[:12]
    return f"{number} {shown}" if shown else number


def format_number(value: int | float | Decimal | None, locale: str | None = None) -> str:
    """A count with the locale's grouping: 12,345 (en_GB), 12.345 (de_DE)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    locale = locale if is_locale(locale) else DEFAULT_LOCALE
    if abs(amount) >= _SCIENTIFIC_FROM:
        return format_scientific(amount, locale=locale)
    return format_decimal(amount, locale=locale)


def _decimal(value: Decimal | float | int | str | None) -> Decimal | None:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


# --- what a tenant may choose ---------------------------------------------------------------

@functools.cache
def _known_codes() -> frozenset[str]:
    # Every code CLDR names, historical ones included: old activities may carry them.
    return frozenset(code for code in list_currencies() if _CODE.fullmatch(code))


@functools.cache
def _current_codes() -> frozenset[str]:
    # Legal tender in some territory today (GBP, EUR, ...), not the withdrawn ones (DEM, FRF).
    today = date.today()
    return frozenset(code for territory in get_global("territory_currencies")
                     for code in get_territory_currencies(territory, today, tender=True)
                     if _CODE.fullmatch(code))


def is_currency(code: str | None) -> bool:
    """Whether a tenant may choose `code`: a current ISO 4217 currency, upper-case."""
    return bool(code) and code in _current_codes()


def is_locale(identifier: str | None) -> bool:
    """Whether `identifier` is one of the locales a tenant may choose (language_TERRITORY)."""
    return bool(identifier) and identifier in _locales()


@functools.cache
def currency_choices() -> tuple[tuple[str, str], ...]:
    """(code, "GBP — British Pound") for every current currency, by code."""
    names = Locale.parse(_NAMES_IN).currencies
    return tuple((code, f"{code} — {names.get(code, code)}") for code in sorted(_current_codes()))


@functools.cache
def _locales() -> dict[str, str]:
    found = {}
    for identifier in locale_identifiers():
        if not _LOCALE_ID.fullmatch(identifier):
            continue  # languages alone and script variants: a territory fixes the formats people expect
        try:
            name = Locale.parse(identifier).get_display_name(_NAMES_IN)
        except (UnknownLocaleError, ValueError):
            continue
        if name:
            found[identifier] = name
    return found


@functools.cache
def locale_choices() -> tuple[tuple[str, str], ...]:
    """(identifier, "English (United Kingdom)") for every language_TERRITORY locale, by name."""
    return tuple(sorted(_locales().items(), key=lambda item: (item[1].casefold(), item[0])))


def locale_name(identifier: str) -> str:
    return _locales().get(identifier, identifier)


def currency_name(code: str) -> str:
    return dict(currency_choices()).get(code, code)
