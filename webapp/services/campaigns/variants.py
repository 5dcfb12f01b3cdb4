"""A/B tests on campaigns: the variants (2 to 4 versions of subject, preheader, sender name
and content; what a variant leaves out it inherits from the campaign), the test's settings
(the share of recipients sampled, how long the test runs, the metric that decides it), and
the sample written at the snapshot.

The send: the snapshot writes every recipient (one statement), then ONE UPDATE puts a
random `share_percent` of them into the test, split evenly among the variants (row number
over the recipients' random tokens, modulo the number of variants), and holds the rest
(status 'held', which delivery claims never take) until the winner is chosen
(services/campaigns/ab_winner.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.mail.templating import check_template_field
from webapp.models import AB_METRICS, CampaignRecipient, CampaignVariant, EmailCampaign
from webapp.services.campaigns.content import compiled_design, no_line_breaks

LETTERS = "ABCD"
MIN_VARIANTS, MAX_VARIANTS = 2, 4
MIN_MINUTES, MAX_MINUTES = 30, 10080  # half an hour to a week
# Variants given without ab_test: a fifth of the audience, four hours, human unique opens.
DEFAULT_TEST = {"share_percent": 20, "duration_minutes": 240, "metric": "opens"}
VARIANT_FIELDS = ("subject", "preheader", "from_name", "html_content", "design")
# How people read each metric (say_verdict's `metric`, the report, the send page's plan).
METRIC_WORDS = {"opens": "human unique opens", "clicks": "human unique clicks", "revenue": "revenue per recipient"}


def letter(position: int) -> str:
    return LETTERS[position]


def position_of(value: Any, field_name: str = "variant") -> int:
    """"A".."D" -> 0..3; anything else is a ValidationFailed naming the field."""
    if isinstance(value, str) and len(value) == 1 and value.upper() in LETTERS:
        return LETTERS.index(value.upper())
    raise ValidationFailed(field_name, "is a variant letter: A, B, C or D")


@dataclass
class AbPlan:
    """A validated test: the variants' own fields (None inherits) and the settings."""

    variants: list[dict[str, Any]] = field(default_factory=list)
    share_percent: int = 20
    duration_minutes: int = 240
    metric: str = "opens"


# --- validation ---------------------------------------------------------------------------

def _variant(tenant_id: int, index: int, raw: Any) -> dict[str, Any]:
    path = f"variants[{index}]"
    if not isinstance(raw, dict):
        raise ValidationFailed(path, "is an object: {subject?, preheader?, from_name?, content? | design?}")
    out: dict[str, Any] = {key: raw.get(key) for key in VARIANT_FIELDS}
    for key in ("subject", "preheader", "from_name"):
        value = out[key]
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{path}.{key}", "must be text")
        no_line_breaks(f"{path}.{key}", value)
        if key != "subject":
            out[key] = (value or "").strip() or None
    if out["subject"] is not None and not out["subject"].strip():
        raise ValidationFailed(f"{path}.subject", "must not be empty (leave it out to keep the campaign's)")
    check_template_field(f"{path}.subject", out["subject"], html=False)
    check_template_field(f"{path}.preheader", out["preheader"], html=False)
    if out["design"] is not None:
        if out["html_content"]:
            raise ValidationFailed(f"{path}.content", "give either a design or HTML content, not both")
        out["design"], out["html_content"] = compiled_design(tenant_id, out["design"], f"{path}.design")
    elif out["html_content"] is not None:
        if not isinstance(out["html_content"], str) or not out["html_content"].strip():
            raise ValidationFailed(f"{path}.content", "must not be empty (leave it out to keep the campaign's)")
        check_template_field(f"{path}.content", out["html_content"], html=True)
    return out


def _settings(raw: Any, base: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationFailed("ab_test", "is an object: {share_percent, duration_minutes, metric}")
    out = {**base, **{k: v for k, v in raw.items() if k in DEFAULT_TEST}}
    share, minutes, metric = out["share_percent"], out["duration_minutes"], out["metric"]
    if isinstance(share, bool) or not isinstance(share, int) or not 1 <= share <= 100:
        raise ValidationFailed("ab_test.share_percent", "is a whole number from 1 to 100 (100: the test is the send)")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationFailed("ab_test.duration_minutes",
                               f"is a whole number of minutes from {MIN_MINUTES} to {MAX_MINUTES} (a week)")
    if metric not in AB_METRICS:
        raise ValidationFailed("ab_test.metric", "is opens, clicks or revenue")
    return out


def plan_for(tenant_id: int, campaign: EmailCampaign | None, data: dict[str, Any]) -> AbPlan | None | bool:
    """The test a create or PATCH asks for: an AbPlan, None to have no test, or False when
    the body says nothing about it (the campaign keeps what it has)."""
    if "variants" not in data and "ab_test" not in data:
        return False
    has_test = campaign is not None and campaign.ab_share_percent is not None
    raw_variants = data.get("variants", ...)
    raw_test = data.get("ab_test", ...)
    if raw_variants is None or raw_test is None:
        if raw_variants not in (None, ...) or raw_test not in (None, ...):
            field_name = "ab_test" if raw_test is None else "variants"
            raise ValidationFailed(field_name, "is null only when both variants and ab_test are (no test)")
        return None
    if raw_variants is ...:
        if not has_test:
            raise ValidationFailed("variants", f"an A/B test needs {MIN_VARIANTS} to {MAX_VARIANTS} variants")
        variants = [{key: getattr(row, key) for key in VARIANT_FIELDS} for row in variants_of(campaign.id)]
    else:
        if not isinstance(raw_variants, list) or not MIN_VARIANTS <= len(raw_variants) <= MAX_VARIANTS:
            raise ValidationFailed("variants", f"give {MIN_VARIANTS} to {MAX_VARIANTS} variants (A is the first)")
        variants = [_variant(tenant_id, i, raw) for i, raw in enumerate(raw_variants)]
    base = dict(DEFAULT_TEST)
    if has_test:
        base = {"share_percent": campaign.ab_share_percent, "duration_minutes": campaign.ab_duration_minutes,
                "metric": campaign.ab_metric}
    settings = _settings(raw_test if raw_test is not ... else {}, base)
    if campaign is not None and campaign.local_send_time:
        raise ValidationFailed("ab_test", "a campaign sent in each recipient's timezone (in waves over a day) "
                                          "cannot run an A/B test: schedule it at one time")
    return AbPlan(variants, **settings)


# --- storage ------------------------------------------------------------------------------

def store(campaign: EmailCampaign, plan: AbPlan | None) -> None:
    """Replace the campaign's test (in the caller's transaction; it commits)."""
    if campaign.id is None:
        db.session.flush()
    db.session.execute(delete(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id))
    if plan is None:
        campaign.ab_share_percent = campaign.ab_duration_minutes = campaign.ab_metric = None
        return
    for position, variant in enumerate(plan.variants):
        db.session.add(CampaignVariant(campaign_id=campaign.id, tenant_id=campaign.tenant_id, position=position,
                                       **variant))
    campaign.ab_share_percent = plan.share_percent
    campaign.ab_duration_minutes = plan.duration_minutes
    campaign.ab_metric = plan.metric


def variants_of(campaign_id: int) -> list[CampaignVariant]:
    return list(db.session.scalars(select(CampaignVariant).where(CampaignVariant.campaign_id == campaign_id)
                                   .order_by(CampaignVariant.position)))


def copy_test(original: EmailCampaign, copy: EmailCampaign) -> None:
    """A duplicate keeps the test's variants and settings (never its winner)."""
    plan = AbPlan([{key: getattr(v, key) for key in VARIANT_FIELDS} for v in variants_of(original.id)],
                  original.ab_share_percent or 20, original.ab_duration_minutes or 240, original.ab_metric or "opens")
    store(copy, plan if original.ab_share_percent is not None else None)


def version_of(campaign: EmailCampaign, variant: CampaignVariant) -> EmailCampaign:
    """The campaign as this variant's recipients get it: an unsaved copy with the variant's
    fields over the campaign's (its id, so its links and tracking are the campaign's)."""
    values = {column.key: getattr(campaign, column.key) for column in EmailCampaign.__table__.columns}
    for key in VARIANT_FIELDS:
        if getattr(variant, key) is not None:
            values[key] = getattr(variant, key)
    if variant.html_content is not None and variant.design is None:
        values["design"] = None  # HTML content: its styles are inlined like any HTML campaign's
    return EmailCampaign(**values)


def testing(campaign: EmailCampaign) -> bool:
    """The test runs: its sample is out (or going) and no winner yet."""
    return (campaign.ab_share_percent is not None and campaign.status == "sending"
            and campaign.ab_test_ends_at is not None and campaign.ab_winner is None)


# --- the sample ---------------------------------------------------------------------------

def assign_sample(campaign: EmailCampaign, count: int) -> int:
    """ONE UPDATE over the snapshot just written: a random `share_percent` of its rows (by
    their random tokens) into the test, split evenly among the variants; the rest held.
    Starts the test's clock. The caller commits. Returns the sample's size."""
    k = db.session.scalar(select(func.count()).select_from(CampaignVariant)
                          .where(CampaignVariant.campaign_id == campaign.id)) or 0
    if campaign.ab_share_percent is None or k < MIN_VARIANTS:
        return 0
    sample = min(count, max(k, round(count * campaign.ab_share_percent / 100))) if count else 0
    rows = CampaignRecipient.__table__
    numbered = (select(rows.c.id, func.row_number().over(order_by=rows.c.token).label("n"))
                .where(rows.c.campaign_id == campaign.id).subquery())
    in_sample = numbered.c.n <= sample
    db.session.execute(
        update(rows).where(rows.c.id == numbered.c.id)
        .values(variant=case((in_sample, (numbered.c.n - 1) % k), else_=None),
                status=case((in_sample, rows.c.status), else_="held")))
    campaign.ab_test_ends_at = utcnow() + timedelta(minutes=campaign.ab_duration_minutes or 0)
    return sample


def plan_in_words(campaign: EmailCampaign, audience: int) -> str:
    """The send page's sentence: "20% (1,240 people) split between 2 variants; after 4 hours
    the variant with more human unique clicks goes to the remaining 4,960."."""
    k = len(variants_of(campaign.id))
    share = campaign.ab_share_percent or 0
    sample = min(audience, max(k, round(audience * share / 100))) if audience else 0
    people = "1 person" if sample == 1 else f"{sample:,} people"
    after = duration_words(campaign.ab_duration_minutes or 0)
    metric = {"opens": "more human unique opens", "clicks": "more human unique clicks",
              "revenue": "more revenue per recipient"}[campaign.ab_metric or "opens"]
    if share >= 100 or sample >= audience:
        return (f"Everyone ({people}) split between {k} variants; after {after} the variant with {metric} "
                "is named the winner.")
    return (f"{share}% ({people}) split between {k} variants; after {after} the variant with {metric} goes to "
            f"the remaining {audience - sample:,}.")


def test_summary(campaign: EmailCampaign) -> str | None:
    """The editor's line: "2 variants to 20% of recipients; after 4 hours the one with more
    human unique clicks goes to the rest." None without a test."""
    if campaign.ab_share_percent is None:
        return None
    k = len(variants_of(campaign.id))
    rest = "everyone is in the test" if campaign.ab_share_percent >= 100 else "goes to the rest"
    return (f"{k} variants to {campaign.ab_share_percent}% of recipients; after "
            f"{duration_words(campaign.ab_duration_minutes or 0)} the one with more "
            f"{METRIC_WORDS[campaign.ab_metric or 'opens']} {rest if rest == 'goes to the rest' else 'wins; ' + rest}.")


def duration_words(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "1 day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
