"""bench_send: a campaign delivered by real workers vs a bare smtplib loop, into an SMTP sink.

Ours: N subscribed customers in a segment, a personalised HTML campaign (a <style> block to
inline, links, the customer's name, tags and spend), `send_campaign` and the start job's
snapshot (timed on their own), then K `flask crm worker --burst --no-scheduler` processes
deliver every batch through `tasks.delivery.deliver_batch` over SMTP: claim, render, rate
limit, two-phase send with the database commit before the final ".", counters, activities
(a group of messages, one per SMTP connection, shares one commit: MAIL_URL ?connections=).

Baseline: the same number of processes, each with one smtplib connection, sending the same
number of messages (pre-rendered by our composer, so the bytes are the same size) with
`sendmail` in a loop; half before ours runs and half after, so that load which comes and
goes on a shared machine weighs on both sides.

The sink is aiosmtpd in its own process; it counts messages and distinct recipients and
notes when the first and the last of a window arrived. Throughput is messages over those
windows, which leaves out interpreter and app start-up (the wall time including start-up
is a row too). CPU per message of the senders comes from RUSAGE_CHILDREN, the sink's from
its own clock. Peak RSS of the worker processes (jobs run inside them; any child process
they start is watched too) is the
kernel's high-water mark, polled: batches are fixed-size, so it must not grow with N.

The floor (bench/send_floor.py): the same workers deliver a copy of the campaign with
composing left out (every message its batch's first). Its two rows, against the same bare
loop, are what the bookkeeping of a send that never goes twice costs on its own; the
difference between them and ours is composing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.harness import BenchEnvironment, Result, Row, Size
from bench.send_processes import RssWatch, Side, Sink, children_cpu
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
# This benchmark makes its own customers; it does not need bench_seed's demo tenant.
NEEDS_SEED_DATA = False
TAG = "bench-send"
SENDER = "news@bench-arena.example.com"
FIRST_NAMES = ("Ada", "Bo", "Chloé", "Dev", "Emeka", "Freya", "Gus", "Hana", "Ines", "Jun", None)
CITIES = ("London", "Manchester", "Leeds", "Glasgow", "Bristol")
GENRES = ("indie", "techno", "jazz", "comedy", "classical")

SUBJECT = "{{ customer.first_name | default('Friend', true) }}, your summer line-up is here"
PREHEADER = "Early-bird tickets for {{ customer.attributes.city | default('your city') }} end Friday"
HTML = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<style>
  body { margin: 0; padding: 0; background: #f4f5f7; font-family: Helvetica, Arial, sans-serif; color: #1d2330; }
  .wrap { max-width: 600px; margin: 0 auto; background: #ffffff; }
  .hero { padding: 32px 24px; background: #20124d; color: #ffffff; }
  .hero h1 { margin: 0 0 8px; font-size: 28px; line-height: 1.2; }
  .card { padding: 16px 24px; border-bottom: 1px solid #e3e6ec; }
  .card h2 { margin: 0 0 4px; font-size: 18px; }
  .muted { color: #6b7385; font-size: 13px; }
  a.button { display: inline-block; padding: 10px 18px; background: #e8453c; color: #ffffff;
             text-decoration: none; border-radius: 4px; font-weight: bold; }
  .footer { padding: 24px; font-size: 12px; color: #6b7385; text-align: center; }
</style>
</head>
<body>
<div class="wrap">
  <div class="hero">
    <h1>Hi {{ customer.first_name | default("there", true) }}!</h1>
    <p>The summer season at {{ tenant.name }} is on sale.
    {% if customer.orders_count > 2 %}Thanks for coming to {{ customer.orders_count }} shows with us.{% endif %}</p>
  </div>
  {% for show in [("Midsummer Lights", "Sat 21 June", "midsummer-lights"),
                  ("Jazz on the River", "Fri 4 July", "jazz-on-the-river"),
                  ("Comedy Late", "Thu 17 July", "comedy-late")] %}
  <div class="card">
    <h2>{{ show[0] }}</h2>
    <p class="muted">{{ show[1] }} &middot; {{ customer.attributes.city | default("Riverside") }}</p>
    <p><a class="button" href="https://tickets.bench-arena.example.com/events/{{ show[2] }}?utm_source=email">Get
    tickets</a></p>
  </div>
  {% endfor %}
  {% if "vip" in customer.tags %}<div class="card"><p>As a VIP you get the pre-sale code <b>VIPSUMMER</b>.</p></div>
  {% endif %}
  <div class="card">
    <p class="muted">You have spent &pound;{{ "%.2f" | format(customer.total_spent) }} with us.
    <a href="https://www.bench-arena.example.com/account">Your account</a> &middot;
    <a href="{{ view_in_browser_url }}">View in browser</a></p>
  </div>
  <div class="footer">
    <p>{{ tenant.postal_address }}</p>
    <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
  </div>
</div>
</body>
</html>
"""


# The same email built with the email builder (bench_send_design): a design compiled once
# through MJML when saved; personalisation per recipient as with HTML.
SHOWS = (("Midsummer Lights", "Sat 21 June", "midsummer-lights"), ("Jazz on the River", "Fri 4 July",
                                                                 "jazz-on-the-river"),
         ("Comedy Late", "Thu 17 July", "comedy-late"))
DESIGN = {"version": 1, "settings": {"background_color": "#f4f5f7"}, "blocks": [
    {"type": "heading", "text": 'Hi {{ customer.first_name | default("there", true) }}!'},
    {"type": "text", "html": "<p>The summer season at {{ tenant.name }} is on sale. {% if customer.orders_count > 2 %}"
                             "Thanks for coming to {{ customer.orders_count }} shows with us.{% endif %}</p>"},
    *[block for name, day, slug in SHOWS for block in (
        {"type": "heading", "text": name, "level": 3},
        {"type": "text", "html": f'<p>{day} · {{{{ customer.attributes.city | default("Riverside") }}}}</p>'},
        {"type": "button", "text": "Get tickets", "align": "left",
         "url": f"https://tickets.bench-arena.example.com/events/{slug}?utm_source=email"},
        {"type": "divider"})],
    {"type": "text", "html": '<p>{% if "vip" in customer.tags %}As a VIP you get the pre-sale code '
                             "<strong>VIPSUMMER</strong>.{% endif %}</p>"},
    {"type": "text", "html": '<p>You have spent £{{ "%.2f" | format(customer.total_spent) }} with us. '
                             '<a href="https://www.bench-arena.example.com/account">Your account</a></p>'},
    {"type": "footer"},
]}


# --- set-up -------------------------------------------------------------------------------------

def _make_customers(env: BenchEnvironment, n: int) -> None:
    """N subscribed customers tagged TAG, bulk-loaded (COPY / executemany), in chunks."""
    import json

    from webapp.services.demo.bulk import BulkLoader
    from webapp.services.demo.rows import CUSTOMER_COLUMNS, TAG_COLUMNS

    rng = random.Random(7)
    loader = BulkLoader.for_session(db.session)
    now = loader.stamp(int(time.time()))
    for start in range(0, n, 10_000):
        ids = loader.reserve_customer_ids(min(10_000, n - start))
        customers, tags = [], []
        for i, customer_id in enumerate(ids, start):
            orders = rng.randint(0, 6)
            attributes = json.dumps({"city": rng.choice(CITIES), "favourite_genre": rng.choice(GENRES)})
            customers.append((customer_id, env.tenant_id, f"fan{i:06d}@bench-send.example.com",
                              rng.choice(FIRST_NAMES), "Bench", f"bench-send-{i}", "Europe/London", attributes,
                              "subscribed", round(orders * 42.5, 2), orders, now if orders else None, now, now))
            tags.append((customer_id, TAG, env.tenant_id))
            if i % 10 == 0:
                tags.append((customer_id, "vip", env.tenant_id))
        loader.insert("customers", CUSTOMER_COLUMNS, customers)
        loader.insert("customer_tags", TAG_COLUMNS, tags)
        db.session.commit()


def _prepare_campaign(env: BenchEnvironment, n: int, design: bool = False) -> int:
    from webapp.models import CustomerTag, Tenant
    from webapp.services.campaigns import create_campaign
    from webapp.services.segments import create_segment
    from webapp.services.sending_domains import add_domain_of

    tenant = db.session.get(Tenant, env.tenant_id)
    tenant.sender_name, tenant.sender_email = "Bench Arena", SENDER
    tenant.postal_address = "Bench Arena, 1 Riverside Walk, Leeds LS1 4AB, United Kingdom"
    # The benchmark measures delivery, not the tenant's rate limit (whose Redis check
    # still runs: one round trip per 20 messages at this rate).
    tenant.send_rate_per_second = 1_000_000
    # BENCH_SEND_CAP=N/D turns the frequency cap on (N marketing emails per person in D days),
    # so its claim-time check (one UPDATE per batch, a count per recipient) is in the figures.
    if os.environ.get("BENCH_SEND_CAP"):
        emails, days = (int(part) for part in os.environ["BENCH_SEND_CAP"].split("/"))
        tenant.frequency_cap = {"max_emails": emails, "days": days}
    add_domain_of(env.tenant_id, SENDER)
    db.session.commit()
    # The design variant after the HTML one in the same run sends to the same customers.
    if db.session.scalar(select(func.count()).select_from(CustomerTag).where(
            CustomerTag.tenant_id == env.tenant_id, CustomerTag.tag == TAG)) < n:
        _make_customers(env, n)
    segment = create_segment(env.tenant_id, "Bench send audience", [{"type": "tag", "value": TAG}])
    db.session.commit()
    content = {"design": DESIGN} if design else {"html_content": HTML}
    # BENCH_SEND_TOPIC=1 sends under an opt-out topic, so the snapshot's topic filter and the
    # claim-time check of who left it are in the figures (everyone still gets it).
    topic = {"topic_id": _bench_topic(env.tenant_id)} if os.environ.get("BENCH_SEND_TOPIC") else {}
    campaign = create_campaign(env.tenant_id, {
        "name": "Bench summer line-up", "subject": SUBJECT, "preheader": PREHEADER, "segment_id": segment.id,
        **content, **topic})
    return campaign.id


def _same_campaign_again(env: BenchEnvironment, campaign_id: int) -> int:
    """A copy of the campaign for the floor's run (bench/send_floor.py), to the same segment."""
    from webapp.models import EmailCampaign
    from webapp.services.campaigns import create_campaign

    campaign = db.session.get(EmailCampaign, campaign_id)
    return create_campaign(env.tenant_id, {
        "name": f"{campaign.name} (floor)", "subject": campaign.subject, "preheader": campaign.preheader,
        "segment_id": campaign.segment_id, "html_content": campaign.html_content,
        **({"topic_id": campaign.topic_id} if campaign.topic_id else {})}).id


def _bench_topic(tenant_id: int) -> int:
    from webapp.models import Topic
    from webapp.services.topics import create_topic

    existing = db.session.scalar(select(Topic.id).where(Topic.tenant_id == tenant_id, Topic.name == "Bench line-ups"))
    return existing or create_topic(tenant_id, {"name": "Bench line-ups", "default_subscribed": True}).id


def _prerender(env: BenchEnvironment, campaign_id: int, count: int) -> list[bytes]:
    """Real messages from our composer for the first customers: the baseline's payloads."""
    from webapp.models import Customer, EmailCampaign, Tenant
    from webapp.services.campaigns import render_for

    campaign = db.session.get(EmailCampaign, campaign_id)
    tenant = db.session.get(Tenant, env.tenant_id)
    customers = db.session.scalars(select(Customer).where(Customer.tenant_id == env.tenant_id,
                                                          Customer.email.like("%@bench-send.example.com"))
                                   .order_by(Customer.id).limit(count))
    return [render_for(campaign, tenant, c, to=c.email, token=f"prerendered{c.id:020d}").message.as_bytes()
            for c in customers]


# --- the two sides ------------------------------------------------------------------------------

def _bare_sender(port: int, messages: list[bytes], recipients: list[str], barrier) -> None:
    smtp = smtplib.SMTP("127.0.0.1", port)
    smtp.ehlo()
    barrier.wait()
    for i, recipient in enumerate(recipients):
        smtp.sendmail(SENDER, [recipient], messages[i % len(messages)])
    smtp.quit()


def run_bare(side: Side, sink: Sink, processes: int, messages: list[bytes], recipients: list[str]) -> None:
    """`processes` processes, one smtplib connection each, sendmail in a loop."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    workers = [context.Process(target=_bare_sender, name=f"bench-bare-{k}",
                               args=(sink.port, messages, recipients[k::processes], barrier))
               for k in range(processes)]
    cpu = children_cpu()
    for process in workers:
        process.start()
    rss = RssWatch().start([p.pid for p in workers])
    barrier.wait(60)
    started = time.perf_counter()
    for process in workers:
        process.join()
    wall = time.perf_counter() - started
    rss.stop()
    if any(p.exitcode for p in workers):
        raise RuntimeError(f"a bare smtplib sender failed: exit codes {[p.exitcode for p in workers]}")
    side.add(sink.window(), wall, children_cpu() - cpu, rss)


def run_ours(env: BenchEnvironment, side: Side, processes: int, campaign_id: int, n: int, *,
             uncomposed: bool = False) -> float:
    """send_campaign + the start job's snapshot here (timed apart), then K burst workers;
    `uncomposed`: the floor's jobs, each message its batch's first (bench/send_floor.py)."""
    from bench.send_floor import start_uncomposed
    from webapp.infra.queues import get_queue
    from webapp.services.campaigns import send_campaign
    from webapp.tasks.delivery import start_campaign

    with Sink() as sink, tempfile.TemporaryDirectory(prefix="crm-bench-workers-") as logs:
        side.startup_cpu_seconds = _idle_workers_cpu(env, sink.port, processes, logs)
        with env.app.app_context():
            env.app.config["MAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
            started = time.perf_counter()
            send_campaign(env.tenant_id, campaign_id)
            # The start job, run here: burst workers that found the queue empty while
            # another one snapshots would exit at once.
            get_queue("mail").empty()
            batches = (start_uncomposed if uncomposed else start_campaign)(campaign_id)
            snapshot = time.perf_counter() - started
            db.session.remove()
        log_files = [open(Path(logs) / f"worker-{k}.log", "w+b") for k in range(processes)]  # noqa: SIM115
        cpu = children_cpu()
        started = time.perf_counter()
        workers = _start_workers(env, sink.port, log_files)
        rss = RssWatch().start([p.pid for p in workers])
        deadline = time.monotonic() + max(120.0, n / 20)
        try:
            for process in workers:
                process.wait(max(deadline - time.monotonic(), 1))
        finally:
            wall = time.perf_counter() - started
            rss.stop()
            for process in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            failed = [k for k, p in enumerate(workers) if p.returncode]
            for k in failed:
                log_files[k].seek(0)
                print(f"worker {k} exited with {workers[k].returncode}:\n"
                      f"{log_files[k].read()[-4000:].decode(errors='replace')}", file=sys.stderr)
            for log in log_files:
                log.close()
        if failed:
            raise RuntimeError("a worker failed")
        side.add(sink.window(), wall, children_cpu() - cpu, rss)
        print(f"  send{' (floor)' if uncomposed else ''}: {batches} batches delivered by {processes} workers in "
              f"{wall:.1f} s "
              f"({len(rss.children_seen)} job processes seen)", flush=True)
        return snapshot


def _start_workers(env: BenchEnvironment, port: int, log_files: list) -> list[subprocess.Popen]:
    """One `flask crm worker --burst --no-scheduler` process per log file."""
    environ = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": env.database_url,
               "REDIS_URL": env.app.config["REDIS_URL"], "MAIL_URL": f"smtp://127.0.0.1:{port}",
               "SECRET_KEY": "bench-secret", "BASE_URL": env.app.config["BASE_URL"], "PYTHONUNBUFFERED": "1"}
    environ.pop("FLASK_DEBUG", None)
    return [subprocess.Popen([sys.executable, "-m", "flask", "crm", "worker", "--burst", "--no-scheduler"],
                             cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
            for log in log_files]


def _idle_workers_cpu(env: BenchEnvironment, port: int, processes: int, logs: str) -> float:
    """CPU seconds of as many burst workers started on empty queues: what the sending side
    spends starting (importing the app) and stopping, whatever the number of messages.
    The bare loops are forked from this process and pay none of it."""
    with contextlib.ExitStack() as stack:
        log_files = [stack.enter_context(open(Path(logs) / f"idle-{k}.log", "w+b")) for k in range(processes)]
        cpu = children_cpu()
        workers = _start_workers(env, port, log_files)
        for process in workers:
            process.wait(120)
        if any(p.returncode for p in workers):
            raise RuntimeError(f"an idle worker failed: exit codes {[p.returncode for p in workers]}")
        return children_cpu() - cpu


def _check_database(env: BenchEnvironment, campaign_id: int, n: int) -> None:
    """Every recipient sent exactly once according to the database too."""
    from webapp.models import CampaignRecipient, Customer, CustomerActivity, EmailCampaign

    with env.app.app_context():
        campaign = db.session.get(EmailCampaign, campaign_id)
        by_status = dict(db.session.execute(
            select(CampaignRecipient.status, func.count()).where(CampaignRecipient.campaign_id == campaign_id)
            .group_by(CampaignRecipient.status)).all())
        activities = db.session.scalar(
            select(func.count()).select_from(CustomerActivity)
            .join(Customer, Customer.id == CustomerActivity.customer_id)
            .where(CustomerActivity.tenant_id == env.tenant_id, CustomerActivity.type == "email_sent",
                   Customer.email.like("%@bench-send.example.com"),
                   CustomerActivity.properties["campaign_id"].as_integer() == campaign_id))
        db.session.remove()
    assert campaign.status == "sent", f"campaign is {campaign.status}, recipients {by_status}"
    assert by_status == {"sent": n}, by_status
    assert (campaign.recipients_count, campaign.sent_count, campaign.failed_count) == (n, n, 0), \
        (campaign.recipients_count, campaign.sent_count, campaign.failed_count)
    assert activities == n, f"{activities} email_sent activities for {n} recipients"


def run(env: BenchEnvironment, size: Size, *, design: bool = False) -> Result:
    n = size.send_recipients
    processes = int(os.environ.get("BENCH_SEND_WORKERS", "2"))
    with env.app.app_context():
        started = time.perf_counter()
        campaign_id = _prepare_campaign(env, n, design)
        messages = _prerender(env, campaign_id, min(n, 200))
        # The floor (ours without composing) is an HTML campaign's: a design's would be the same.
        floor_id = None if design else _same_campaign_again(env, campaign_id)
        recipients = [f"fan{i:06d}@bench-send.example.com" for i in range(n)]
        db.session.remove()
    print(f"  send: {n:,} customers, segment and campaign ready in {time.perf_counter() - started:.1f} s; "
          f"messages ~{sum(map(len, messages)) // len(messages):,} bytes", flush=True)

    # The bare loop sends half before and half after ours: on a shared machine, load that
    # comes and goes then weighs on both sides alike.
    ours, bare, floor = Side(), Side(), Side()
    with Sink() as bare_sink:
        run_bare(bare, bare_sink, processes, messages, recipients[:n // 2])
        snapshot = run_ours(env, ours, processes, campaign_id, n)
        if floor_id is not None:
            run_ours(env, floor, processes, floor_id, n, uncomposed=True)
        run_bare(bare, bare_sink, processes, messages, recipients[n // 2:])
    _check_database(env, campaign_id, n)
    if floor_id is not None:
        _check_database(env, floor_id, n)
    for name, side in (("ours", ours), ("bare smtplib", bare), *((("the floor", floor),) if floor.windows else ())):
        got = side.received
        print(f"  send: sink got {got.total_messages:,} messages to {got.total_recipients:,} distinct recipients "
              f"from {name} (expected {n:,})", flush=True)
        assert got.total_messages == n and got.total_recipients == n, (name, got, n)

    throughput_ratio = ours.rate / bare.rate
    result = Result("bench_send_design" if design else "bench_send", (
        f"{'design-built (MJML) ' if design else 'HTML '}campaign to {n:,} recipients by {processes} "
        f"`flask crm worker --burst` processes vs {processes} bare "
        f"smtplib loops, same kind of sink; msg/s between the first and last arrival at the sink.\n"
        f"THROUGHPUT ours/bare = {throughput_ratio:.2f} (goal >= 0.5); sink received "
        f"{ours.received.total_messages:,} of {n:,} (ours), {bare.received.total_messages:,} of {n:,} (bare); "
        f"snapshot + fan-out {snapshot:.2f} s.\n"
        f"CPU per message (ms): ours {ours.cpu_seconds / n * 1000:.2f} in workers + "
        f"{ours.sink_cpu_seconds / n * 1000:.2f} in the sink (+ the database server's); bare "
        f"{bare.cpu_seconds / n * 1000:.2f} in the loops + {bare.sink_cpu_seconds / n * 1000:.2f} in the sink; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; the workers' start-up and "
        f"exit on empty queues took {ours.startup_cpu_seconds:.2f} s of CPU.\n"
        f"PEAK RSS (must not grow with the recipients): worker process {ours.peak_main / 2**20:.0f} MB"
        + (f", job horse {ours.peak_child / 2**20:.0f} MB (the largest of {ours.job_processes} jobs)"
           if ours.job_processes else " (jobs run in the worker process)")))
    result.rows.append(Row("deliver (sink window)", n, ours.rate, bare.rate, unit="msg/s", higher_is_better=True))
    result.rows.append(Row("deliver incl. start-up", n, n / ours.seconds_wall, n / bare.seconds_wall,
                           unit="msg/s", higher_is_better=True))
    # CPU of the sending processes (workers and any children; the bare loops), not of
    # the sink or the database server: the part that does not depend on the machine's load.
    result.rows.append(Row("sender CPU per message", n, ours.cpu_seconds / n * 1000, bare.cpu_seconds / n * 1000,
                           unit="ms/msg"))
    # The workers' start-up (measured apart, on empty queues) is the same at any size; the
    # forked bare loops have none. Without it, what each message costs.
    result.rows.append(Row("sender CPU per message, start-up apart", n,
                           (ours.cpu_seconds - ours.startup_cpu_seconds) / n * 1000, bare.cpu_seconds / n * 1000,
                           unit="ms/msg"))
    if floor.windows:
        # What a message costs without composing it: claim, marks, activities, counters, SMTP.
        result.rows.append(Row("deliver, composing left out (the floor)", n, floor.rate, bare.rate, unit="msg/s",
                               higher_is_better=True))
        result.rows.append(Row("sender CPU, start-up apart, the floor", n,
                               (floor.cpu_seconds - floor.startup_cpu_seconds) / n * 1000,
                               bare.cpu_seconds / n * 1000, unit="ms/msg"))
    return result
