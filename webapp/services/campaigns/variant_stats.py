"""An A/B test's figures per variant and its verdict, from the sample's recipient rows (the
remainder, sent the winner later, is not part of the test): sent, human unique opens and
clicks (machine hits never count), attributed revenue per recipient; judged by
services/significance.py, the one place that says what a clear winner is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CampaignAttribution, CampaignRecipient, CampaignVariant, EmailCampaign, Tenant
from webapp.services.campaigns.rendering import sender_of
from webapp.services.campaigns.variants import METRIC_WORDS, letter, testing, variants_of, version_of
from webapp.services.significance import (
    CLEAR_PROBABILITY,
    MIN_TRIALS,
    Amounts,
    Proportion,
    Verdict,
    compare_amounts,
    compare_rates,
    say_verdict,
)


@dataclass(frozen=True)
class VariantFigures:
    position: int
    sent: int
    unique_opens: int  # human
    unique_clicks: int  # human
    revenue: float  # attributed to the variant's recipients
    revenue_squares: float  # the sum of each recipient's revenue squared (for its spread)


def variant_figures(campaign_id: int) -> list[VariantFigures]:
    """Each variant's figures (every variant, with zeros before any send): two queries."""
    positions = list(db.session.scalars(select(CampaignVariant.position)
                                        .where(CampaignVariant.campaign_id == campaign_id)
                                        .order_by(CampaignVariant.position)))
    recipients = CampaignRecipient.__table__
    revenue = (select(CampaignAttribution.customer_id, func.sum(CampaignAttribution.amount).label("amount"))
               .where(CampaignAttribution.campaign_id == campaign_id)
               .group_by(CampaignAttribution.customer_id).subquery())
    sent = recipients.c.status == "sent"
    amount = func.coalesce(revenue.c.amount, 0)
    rows = {row[0]: row[1:] for row in db.session.execute(
        select(recipients.c.variant, func.count().filter(sent),
               func.count().filter(sent & (recipients.c.human_opens > 0)),
               func.count().filter(sent & (recipients.c.human_clicks > 0)),
               func.coalesce(func.sum(amount), 0), func.coalesce(func.sum(amount * amount), 0))
        .select_from(recipients.outerjoin(revenue, revenue.c.customer_id == recipients.c.customer_id))
        .where(recipients.c.campaign_id == campaign_id, recipients.c.variant.isnot(None))
        .group_by(recipients.c.variant))}
    out = []
    for position in positions:
        n, opens, clicks, total, squares = rows.get(position, (0, 0, 0, 0, 0))
        out.append(VariantFigures(position, int(n), int(opens), int(clicks), float(total), float(squares)))
    return out


def verdict_on(figures: list[VariantFigures], metric: str) -> Verdict:
    if metric == "revenue":
        return compare_amounts([Amounts(f.sent, f.revenue, f.revenue_squares) for f in figures])
    chosen = (lambda f: f.unique_clicks) if metric == "clicks" else (lambda f: f.unique_opens)
    return compare_rates([Proportion(chosen(f), f.sent) for f in figures])


def names(figures: list[VariantFigures]) -> list[str]:
    return [f"Variant {letter(f.position)}" for f in figures]


def sentence(figures: list[VariantFigures], verdict: Verdict, metric: str) -> str:
    return say_verdict(verdict, names(figures), metric=METRIC_WORDS[metric])


def decision_words(figures: list[VariantFigures], verdict: Verdict, metric: str, chosen: int, by: str) -> str:
    """What the campaign records when its winner is chosen: who chose which variant and what
    the figures said then (kept: the figures move on as late opens come in)."""
    name = f"variant {letter(chosen)}"
    leader = figures[verdict.leader]
    if min(f.sent for f in figures) < MIN_TRIALS:
        why = f"too few people to tell (at least {MIN_TRIALS} in each variant)"
    else:
        why = (f"variant {letter(leader.position)} led on {METRIC_WORDS[metric]} with "
               f"{verdict.probability(verdict.leader):.0%} chance to be best ({CLEAR_PROBABILITY:.0%} makes it clear)")
    if by == "manual":
        return f"You chose {name} while the test ran; the figures then: {why}."
    if verdict.clear:
        return sentence(figures, verdict, metric)
    return f"No clear winner: sending variant A, the control ({why})."


def ab_results(campaign: EmailCampaign) -> dict[str, Any] | None:
    """What the stats and the report show of a tested campaign: each variant's figures with
    rates, 95% intervals and probability to be best by the test's metric; the winner's
    letter (or None); the verdict now in words. None without a test."""
    if campaign.ab_share_percent is None:
        return None
    figures = variant_figures(campaign.id)
    if len(figures) < 2:
        return None
    metric = campaign.ab_metric or "opens"
    by_metric = verdict_on(figures, metric)
    opens, clicks = verdict_on(figures, "opens"), verdict_on(figures, "clicks")
    revenue = verdict_on(figures, "revenue")
    variants = []
    for i, f in enumerate(figures):
        variants.append({
            "variant": letter(f.position), "sent": f.sent, "unique_opens": f.unique_opens,
            "unique_clicks": f.unique_clicks, "revenue": round(f.revenue, 2),
            "probability_best": round(by_metric.probability(i), 4),
            "open_rate": opens.groups[i].value, "open_low": opens.groups[i].low, "open_high": opens.groups[i].high,
            "click_rate": clicks.groups[i].value, "click_low": clicks.groups[i].low,
            "click_high": clicks.groups[i].high, "revenue_per_recipient": revenue.groups[i].value,
        })
    return {"variants": variants, "metric": metric,
            "winner": letter(campaign.ab_winner) if campaign.ab_winner is not None else None,
            "leader": letter(figures[by_metric.leader].position), "clear": by_metric.clear,
            "verdict": sentence(figures, by_metric, metric)}


def ab_report(campaign: EmailCampaign, tenant: Tenant) -> dict[str, Any] | None:
    """ab_results for the report page, each variant with what its recipients saw (subject,
    and the sender and preheader when the variants differ on them), and the test's state:
    testing (the winner's automatic time), decided (who chose, when), or not started."""
    results = ab_results(campaign)
    if results is None:
        return None
    versions = [version_of(campaign, v) for v in variants_of(campaign.id)]
    seen = [{"subject": v.subject, "preheader": v.preheader or "", "from_name": sender_of(v, tenant)[0] or ""}
            for v in versions]
    for row, version in zip(results["variants"], seen, strict=True):
        row.update(version)
    remainder = db.session.scalar(select(func.count()).select_from(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "held")) or 0
    return {**results, "testing": testing(campaign), "ends_at": campaign.ab_test_ends_at,
            "share_percent": campaign.ab_share_percent, "metric_words": METRIC_WORDS[results["metric"]],
            "remainder": remainder, "chosen_by": campaign.ab_winner_chosen_by,
            "chosen_at": campaign.ab_winner_chosen_at, "recorded_verdict": campaign.ab_verdict,
            "differ": {key: len({v[key] for v in seen}) > 1 for key in ("preheader", "from_name")}}
