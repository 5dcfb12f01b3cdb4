"""Column mapping: which field each column of the file fills, and one row as upsert input."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from webapp.infra.errors import DomainError, ValidationFailed
from webapp.services.consent import tenant_topics
from webapp.services.customers import MAX_ATTRIBUTES, clean_customer_data

# Fields a column can fill, in the order the mapping form offers them.
FIELD_TARGETS = ("email", "external_id", "first_name", "last_name", "tags", "total_spent",
                 "orders_count", "timezone", "email_status", "topics")
TARGET_LABELS = {"email": "Email", "external_id": "External id", "first_name": "First name",
                 "last_name": "Last name", "tags": "Tags (comma-separated)", "total_spent": "Total spent",
                 "orders_count": "Orders", "timezone": "Timezone", "email_status": "Email status",
                 "topics": "Topics (names, separated by ; or |)", "attribute": "Attribute", "ignore": "Ignore"}
# Header spellings recognised for each field (compared lower-cased, letters and digits only).
_SYNONYMS = {
    "email": {"email", "emailaddress", "mail", "e-mail", "emailadresse"},
    "external_id": {"externalid", "customerid", "id", "external", "platformid", "userid"},
    "first_name": {"firstname", "first", "givenname", "forename", "vorname", "prenom"},
    "last_name": {"lastname", "last", "surname", "familyname", "nachname", "nom"},
    "tags": {"tags", "tag", "labels", "label"},
    "total_spent": {"totalspent", "spent", "totalspend", "lifetimevalue", "ltv", "revenue", "total"},
    "orders_count": {"orderscount", "orders", "ordercount", "numberoforders", "purchases"},
    "timezone": {"timezone", "tz", "zone"},
    "email_status": {"emailstatus", "status", "subscriptionstatus", "subscription"},
    "topics": {"topics", "topic", "interests", "newsletters", "lists"},
}
_ATTRIBUTE_KEY_RE = re.compile(r"^[^\x00-\x1f]{1,100}$")


# --- mapping --------------------------------------------------------------------------------

def guess_target(column: str) -> str:
    """The field a header most likely means; anything unrecognised becomes an attribute."""
    key = re.sub(r"[^a-z0-9]", "", column.lower())
    for target, names in _SYNONYMS.items():
        if key in {re.sub(r"[^a-z0-9]", "", n) for n in names}:
            return target
    return "attribute"


def guess_mapping(columns: list[str]) -> list[str]:
    mapping, used = [], set()
    for column in columns:
        target = guess_target(column)
        if target in FIELD_TARGETS and target in used:
            target = "attribute"  # "Email" and "E-mail" both present: the second is kept as data
        used.add(target)
        mapping.append(target)
    return mapping


def attribute_key(column: str, target: str) -> str:
    return target.split(":", 1)[1] if target.startswith("attribute:") else column


def check_mapping(columns: list[str], mapping: list[str] | dict[str, str] | None) -> list[str]:
    """A complete, valid mapping in column order. A dict maps header names to targets
    (columns it leaves out keep their guess); errors name `mapping.<column>`."""
    if mapping is None:
        targets = guess_mapping(columns)
    elif isinstance(mapping, dict):
        targets = guess_mapping(columns)
        index = {name: i for i, name in enumerate(columns)}
        for name, target in mapping.items():
            if name not in index:
                raise ValidationFailed(f"mapping.{name}", "is not a column of the file")
            if not isinstance(target, str):
                raise ValidationFailed(f"mapping.{name}", "must be a string")
            targets[index[name]] = target
        # A field named explicitly wins over the same field guessed for another column.
        explicit = {index[n] for n in mapping}
        for i, target in enumerate(targets):
            if i not in explicit and target in FIELD_TARGETS and any(
                    targets[j] == target for j in explicit):
                targets[i] = "attribute"
    else:
        targets = list(mapping)
        if len(targets) != len(columns):
            raise ValidationFailed("mapping", f"needs one target for each of the {len(columns)} columns")
    used: dict[str, str] = {}
    keys: dict[str, str] = {}
    for column, target in zip(columns, targets, strict=True):
        where = f"mapping.{column}"
        if target == "ignore":
            continue
        if target == "attribute" or target.startswith("attribute:"):
            key = attribute_key(column, target)
            if not _ATTRIBUTE_KEY_RE.match(key):
                raise ValidationFailed(where, "attribute names are 1-100 characters")
            if key in keys:
                raise ValidationFailed(where, f"the attribute '{key}' is already filled from column "
                                              f"'{keys[key]}'")
            keys[key] = column
            continue
        if target not in FIELD_TARGETS:
            raise ValidationFailed(where, f"'{target}' is not one of {', '.join(FIELD_TARGETS)}, "
                                          "attribute, attribute:<name> or ignore")
        if target in used:
            raise ValidationFailed(where, f"{target} is already filled from column '{used[target]}'")
        used[target] = column
    if len(keys) > MAX_ATTRIBUTES:
        raise ValidationFailed("mapping", f"at most {MAX_ATTRIBUTES} columns can become attributes")
    if "email" not in used and "external_id" not in used:
        raise ValidationFailed("mapping", "map a column to email or external_id to find or create customers")
    return targets


def _split_tags(cell: str) -> list[str]:
    return [t for t in (part.strip() for part in re.split(r"[,;|]", cell)) if t]


def topic_ids_of(cell: str, topics: dict[str, int]) -> list[int]:
    """A topics cell ("Jazz listings; Surveys") as the tenant's topic ids (`topics`: lower-cased
    name -> id); a name the tenant has no topic of is the row's rejection reason. Names may
    hold commas, so only ; and | separate them."""
    ids: list[int] = []
    for name in (part.strip() for part in re.split(r"[;|]", cell)):
        if not name:
            continue
        topic_id = topics.get(" ".join(name.split()).lower())
        if topic_id is None:
            raise ValidationFailed("topics", f"no topic named '{name[:100]}': add it on the Topics page first")
        if topic_id not in ids:
            ids.append(topic_id)
    return ids


def row_data(columns: list[str], targets: list[str], cells: list[str],
             topics: dict[str, int] | None = None) -> dict[str, Any]:
    """One CSV row as upsert input (empty cells leave the field alone), checked with the
    customers API's rules. `topics` (lower-cased name -> id) reads a topics column: the row's
    topics become exactly the topics the customer gets. Raises ValidationFailed naming the field."""
    if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
        raise ValidationFailed("row", f"has {len(cells)} cells but the header has {len(columns)} columns")
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    topic_ids: list[int] | None = None
    for column, target, cell in zip(columns, targets, cells, strict=False):
        value = cell.strip()
        if "\x00" in value:
            raise ValidationFailed(target if target in FIELD_TARGETS else column,
                                   "must not contain NUL characters")
        if not value or target == "ignore":
            continue
        if target == "attribute" or target.startswith("attribute:"):
            attributes[attribute_key(column, target)] = value
        elif target == "tags":
            data["tags"] = _split_tags(value)
        elif target == "total_spent":
            data["total_spent"] = _number(value, "total_spent")
        elif target == "orders_count":
            try:
                data["orders_count"] = int(value)
            except ValueError:
                raise ValidationFailed("orders_count", f"'{value[:50]}' is not a whole number") from None
        elif target == "email_status":
            data["email_status"] = value.lower()
        elif target == "topics":
            topic_ids = topic_ids_of(value, topics or {})
        else:
            data[target] = value
    if attributes:
        data["attributes"] = attributes
    clean = clean_customer_data(data)
    if topic_ids is not None:
        clean["topics"] = topic_ids
    return clean


def topics_by_name(tenant_id: int) -> dict[str, int]:
    """The tenant's topics by lower-cased name, as row_data reads a topics column."""
    return {topic.name.lower(): topic.id for topic in tenant_topics(tenant_id)}


def _number(value: str, field_name: str) -> Decimal:
    # Thousands separators and a currency sign, as spreadsheets write them, are accepted.
    text = re.sub(r"[\s$€£,]", "", value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(field_name, f"'{value[:50]}' is not a number") from None
    if not number.is_finite():
        raise ValidationFailed(field_name, f"'{value[:50]}' is not a number")
    return number


def _reason(exc: DomainError) -> str:
    return exc.message
