"""The hit spool (webapp/services/hit_spool.py): opens and clicks leave the web process as
lines in a file of its own and reach the Redis stream in batches. Nothing answered is
lost when the process dies or Redis is away, and nothing sent twice counts twice."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.campaigns.tracking_support import BROWSER_UA, hit, outbox_html, send_to_audience, tracking_urls, write_hits
from webapp import create_app
from webapp.extensions import db
from webapp.infra import hit_spool
from webapp.infra.queues import redis_connection
from webapp.models import CampaignRecipient, TrackingHit
from webapp.services.tracking import PIXEL, STREAM, confirm_hits, write_batch
from webapp.services.tracking.writer import _decode
from webapp.testing import PrivateRedis


def _spool_dir(app) -> Path:
    return hit_spool.spool_directory(app.config["TRACKING_SPOOL_DIR"], app.config["REDIS_URL"])


def _others_spools(app) -> list[Path]:
    """Files in the spool folder that are not this test process's own spool."""
    return [path for path in _spool_dir(app).iterdir() if not path.name.startswith(f"{os.getpid()}-")]


def _opens(campaign_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(CampaignRecipient.opens).where(CampaignRecipient.campaign_id == campaign_id))


def _pixel(runner, tenant_id: int) -> tuple[int, str]:
    cid = send_to_audience(runner, tenant_id, 1)
    pixel, _ = tracking_urls(next(iter(outbox_html(cid).values())))
    return cid, pixel


def _web_process(app, pixel: str, count: int, ending: str) -> subprocess.CompletedProcess:
    """Another web process: answers `count` opens of `pixel`, then ends as `ending` says."""
    script = (
        "import os, signal, sys\n"
        "from webapp import create_app\n"
        "from webapp.infra import hit_spool\n"
        "from webapp.services.tracking import recording as tracking\n"
        f"app = create_app({{'TESTING': True, 'SECRET_KEY': {app.config['SECRET_KEY']!r}, "
        f"'SQLALCHEMY_DATABASE_URI': {app.config['SQLALCHEMY_DATABASE_URI']!r}, "
        f"'REDIS_URL': {app.config['REDIS_URL']!r}, 'RATELIMIT_ENABLED': False, "
        f"'TRACKING_SPOOL_DIR': {app.config['TRACKING_SPOOL_DIR']!r}}})\n"
        "client = app.test_client()\n"
        f"answered = sum(client.get({pixel!r}).status_code == 200 for _ in range({count}))\n"
        "print(answered, flush=True)\n"
        f"{ending}\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_a_batch_sent_again_after_a_crash_counts_once(app, tenant_a, runner):
    """Killed after its batch reached Redis but before it wrote down how far it got: the
    recovered spool sends the batch again, and the writer counts each hit once."""
    cid, pixel = _pixel(runner, tenant_a.id)
    ending = ("with app.app_context():\n"
              "    tracking.confirm_hits()\n"
              "    spool = tracking._spool()\n"
              "    hit_spool._write_mark(spool.mark_fd, 0)\n"
              "os.kill(os.getpid(), signal.SIGKILL)")
    done = _web_process(app, pixel, 40, ending)
    assert done.returncode == -9 and done.stdout.strip() == "40", done.stderr[-2000:]
    assert redis_connection().xlen(STREAM) == 40  # the batch that did arrive
    assert write_hits() == {"read": 80, "written": 40, "discarded": 0}
    assert _opens(cid) == 40
    assert db.session.scalar(select(db.func.count()).select_from(TrackingHit)) == 40
    assert _others_spools(app) == []  # the orphan was deleted once sent


def test_a_graceful_exit_sends_everything_and_leaves_no_files(app, tenant_a, runner):
    cid, pixel = _pixel(runner, tenant_a.id)
    done = _web_process(app, pixel, 25, "sys.exit(0)")
    assert done.returncode == 0 and done.stdout.strip() == "25", done.stderr[-2000:]
    # Sent by the process itself on the way out: nothing left for anyone to recover.
    assert redis_connection().xlen(STREAM) == 25
    assert _others_spools(app) == []
    assert write_hits() == {"read": 25, "written": 25, "discarded": 0}
    assert _opens(cid) == 25


def test_the_spool_of_a_live_process_is_left_to_it(app, tenant_a, runner):
    """An orphan scan sends a spool only once its owner's lock is gone."""
    cid, _pixel_path = _pixel(runner, tenant_a.id)
    token = db.session.scalar(select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == cid))
    directory = _spool_dir(app)
    directory.mkdir(parents=True, exist_ok=True)
    # A spool as a process that is still running would hold it: locked, two opens unsent.
    lines = [f"o\x1f{token}\x1f0\x1f0\x1f{time.time():.6f}\x1fGET\x1f203.0.113.9\x1fUA\x1f\x1flive-{n}"
             for n in range(2)]
    path = directory / "4242-live.hits"
    path.write_text("".join(line + "\n" for line in lines))
    owner = os.open(path, os.O_RDWR)
    fcntl.flock(owner, fcntl.LOCK_EX)
    try:
        confirm_hits()
        assert redis_connection().xlen(STREAM) == 0 and path.exists()
    finally:
        os.close(owner)  # the owner is gone
    confirm_hits()
    assert redis_connection().xlen(STREAM) == 2 and not path.exists()
    assert write_hits() == {"read": 2, "written": 2, "discarded": 0}
    assert _opens(cid) == 2


def test_hits_wait_in_the_spool_while_redis_is_away(app, tenant_a, runner):
    cid, pixel = _pixel(runner, tenant_a.id)
    later = PrivateRedis()  # a port where nothing listens yet
    other = create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": later.url,
                        "RATELIMIT_ENABLED": False, "TRACKING_SPOOL_DIR": app.config["TRACKING_SPOOL_DIR"]})
    client = other.test_client()
    started = time.monotonic()
    answers = [client.get(pixel) for _ in range(30)]
    assert all(a.status_code == 200 for a in answers)
    assert time.monotonic() - started < 5  # answered at once, not after Redis timeouts
    [spooled] = hit_spool.spool_directory(app.config["TRACKING_SPOOL_DIR"], later.url).glob("*.hits")
    assert len(spooled.read_bytes().splitlines()) == 30
    later.start()
    try:
        from redis import Redis

        redis = Redis.from_url(later.url)
        deadline = time.monotonic() + 15
        while redis.xlen(STREAM) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redis.xlen(STREAM) == 30  # sent by the spool's own thread once Redis came back
        entries = redis.xrange(STREAM)
        db.session.commit()
        with other.app_context():
            assert write_batch(_decode(entries)) == (30, 0)
        assert _opens(cid) == 30
    finally:
        with other.app_context():
            db.engine.dispose()
        later.stop()


def test_a_hit_id_repeated_in_one_batch_is_written_once(tenant_a, runner):
    cid, _pixel_path = _pixel(runner, tenant_a.id)
    token = db.session.scalar(select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == cid))
    line = f"o\x1f{token}\x1f0\x1f0\x1f{time.time():.6f}\x1fGET\x1f203.0.113.9\x1fUA\x1f\x1fsame-id"
    old_format = f"o\x1f{token}\x1f0\x1f0\x1f{time.time():.6f}\x1fGET\x1f203.0.113.9\x1fUA\x1f"
    redis = redis_connection()
    for payload in (line, line, old_format):  # an entry queued before hits had ids of their own
        redis.xadd(STREAM, {"h": payload})
    assert write_hits() == {"read": 3, "written": 2, "discarded": 0}
    assert _opens(cid) == 2


def test_a_fully_sent_spool_starts_again_at_zero(app, client, tenant_a, runner, monkeypatch):
    cid, pixel = _pixel(runner, tenant_a.id)
    monkeypatch.setattr(hit_spool, "TRUNCATE_AT_BYTES", 1)
    for _ in range(3):
        assert hit(client, pixel).status_code == 200
    confirm_hits()
    [spooled] = _spool_dir(app).glob(f"{os.getpid()}-*.hits")
    assert spooled.stat().st_size == 0
    assert hit(client, pixel).status_code == 200
    confirm_hits()
    assert redis_connection().xlen(STREAM) == 4
    assert write_hits() == {"read": 4, "written": 4, "discarded": 0}
    assert _opens(cid) == 4


def test_without_a_usable_spool_folder_hits_go_straight_to_redis(app, tenant_a, runner, tmp_path, caplog,
                                                                  monkeypatch):
    cid, pixel = _pixel(runner, tenant_a.id)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder should be")
    other = create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "REDIS_URL": app.config["REDIS_URL"], "RATELIMIT_ENABLED": False,
                        "TRACKING_SPOOL_DIR": str(blocked)})
    client = other.test_client()
    with caplog.at_level("ERROR", logger=hit_spool.__name__):
        assert [client.get(pixel).status_code for _ in range(3)] == [200, 200, 200]
    assert redis_connection().xlen(STREAM) == 3
    assert write_hits() == {"read": 3, "written": 3, "discarded": 0}
    assert _opens(cid) == 3
    # Said once, not once per hit: the folder is tried again only after a while.
    said = [r.getMessage().split(":")[0] for r in caplog.records if r.name == hit_spool.__name__]
    assert said == [f"no tracking hit spool in {blocked}"]

    # Once the folder is usable and the while is over, hits go to the spool again.
    blocked.unlink()
    monkeypatch.setattr(hit_spool, "UNUSABLE_RETRY_SECONDS", 0.0)
    hit_spool._UNUSABLE.clear()
    assert client.get(pixel).status_code == 200
    assert [path.stat().st_size > 0 for path in blocked.rglob("*.hits")] == [True]  # written to the spool
    with other.app_context():
        confirm_hits()
    assert write_hits()["written"] == 1 and _opens(cid) == 4
    with other.app_context():
        db.engine.dispose()


def _limited_app(app, spool_dir: Path, **config):
    return create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                       "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "REDIS_URL": app.config["REDIS_URL"], "RATELIMIT_PUBLIC": "3 per 1 minute",
                       "TRACKING_SPOOL_DIR": str(spool_dir), **config})


def _limited_confirm(other) -> None:
    with other.app_context():
        confirm_hits()


def test_tracking_is_limited_per_address_with_the_counts_of_the_spools_batches(app, tenant_a, runner, tmp_path):
    cid, pixel = _pixel(runner, tenant_a.id)
    _tracked, [click, _] = tracking_urls(next(iter(outbox_html(cid).values())))
    other = _limited_app(app, tmp_path)
    client = other.test_client()
    me = {"REMOTE_ADDR": "198.51.100.20"}
    assert [client.get(pixel, environ_base=me).status_code for _ in range(4)] == [200] * 4
    _limited_confirm(other)  # the batch brings back 4 for this address: over 3 per minute
    refused = client.get(pixel, environ_base=me)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get(click, environ_base=me).status_code == 429  # both tracking endpoints
    assert client.get(pixel, environ_base={"REMOTE_ADDR": "198.51.100.21"}).status_code == 200
    _limited_confirm(other)
    assert write_hits() == {"read": 5, "written": 5, "discarded": 0}  # refused requests record nothing
    with other.app_context():
        db.engine.dispose()


def test_the_previous_windows_requests_count_toward_the_tracking_limit(app, tenant_a, runner, tmp_path):
    """The limit is a sliding window: an address that spent the last hour's window far over
    the limit is not let off because a new hour began."""
    _cid, pixel = _pixel(runner, tenant_a.id)
    other = _limited_app(app, tmp_path, RATELIMIT_PUBLIC="3 per 1 hour")
    client = other.test_client()
    window = int(time.time() // 3600)
    redis_connection().set(hit_spool._limit_key(3600, window - 1, "198.51.100.50"), 10**6, ex=3600)
    me, fresh = {"REMOTE_ADDR": "198.51.100.50"}, {"REMOTE_ADDR": "198.51.100.51"}

    assert client.get(pixel, environ_base=me).status_code == 200  # the batch brings the last window back
    assert client.get(pixel, environ_base=fresh).status_code == 200
    _limited_confirm(other)

    refused = client.get(pixel, environ_base=me)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 3600
    assert [client.get(pixel, environ_base=fresh).status_code for _ in range(2)] == [200, 200]
    with other.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("current", "previous", "at", "expected"), [
    (3, 0, 10.0, None),            # at the limit: let through
    (4, 0, 10.0, 60 + 15.0),       # over in this window: until its share of the next one is 3 of 4 (capped below)
    (1, 3, 6.0, 20.0),             # 1 now + 3 * 0.9 of the last: over until the last window's share is 2 of 3
    (1, 3, 48.0, None),            # 1 now + 3 * 0.2 of the last: within
    (0, 9, 1.0, 40.0),             # the last window alone: until 9 * share <= 3
])
def test_when_an_address_is_let_through_again(current, previous, at, expected):
    until = hit_spool.blocked_until(current, previous, amount=3, seconds=60, now=6000 + at)
    assert until == (None if expected is None else 6000 + min(expected, at + 60))


def test_the_tracking_limit_counts_every_web_processs_requests(app, tenant_a, runner, tmp_path):
    cid, pixel = _pixel(runner, tenant_a.id)
    spool_base = tmp_path / "spool"
    other = _limited_app(app, spool_base)
    script = (
        "from webapp import create_app\n"
        f"app = create_app({{'TESTING': True, 'SECRET_KEY': {app.config['SECRET_KEY']!r}, "
        f"'SQLALCHEMY_DATABASE_URI': {app.config['SQLALCHEMY_DATABASE_URI']!r}, "
        f"'REDIS_URL': {app.config['REDIS_URL']!r}, 'RATELIMIT_PUBLIC': '3 per 1 minute', "
        f"'TRACKING_SPOOL_DIR': {str(spool_base)!r}}})\n"
        "client = app.test_client()\n"
        f"print([client.get({pixel!r}, environ_base={{'REMOTE_ADDR': '198.51.100.30'}}).status_code "
        "for _ in range(3)], flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[200, 200, 200]", done.stderr[-2000:]
    client = other.test_client()
    me = {"REMOTE_ADDR": "198.51.100.30"}
    # This process has not heard of the other's three yet: its first request counts them all.
    assert client.get(pixel, environ_base=me).status_code == 200
    _limited_confirm(other)
    assert client.get(pixel, environ_base=me).status_code == 429
    with other.app_context():
        db.engine.dispose()


def test_with_limits_off_tracking_is_never_refused(app, tenant_a, runner, tmp_path):
    _cid, pixel = _pixel(runner, tenant_a.id)
    other = _limited_app(app, tmp_path, RATELIMIT_ENABLED=False)
    client = other.test_client()
    me = {"REMOTE_ADDR": "198.51.100.40"}
    codes = [client.get(pixel, environ_base=me).status_code for _ in range(5)]
    _limited_confirm(other)
    codes += [client.get(pixel, environ_base=me).status_code for _ in range(2)]
    assert codes == [200] * 7
    with other.app_context():
        db.engine.dispose()


def test_the_pixel_fast_path_answers_what_the_view_answers(app, client, tenant_a, runner):
    """GET and HEAD of the pixel are answered before Flask (webapp/api/tracking.py,
    OpenPixelFastPath); the answer must stay the view's, and the hit is recorded alike."""
    cid, pixel = _pixel(runner, tenant_a.id)
    fast = hit(client, pixel)
    with app.test_request_context(pixel, headers={"User-Agent": BROWSER_UA}):
        view = app.make_response(app.view_functions["api.track_open"](open_id=pixel.rsplit("/", 1)[1]))
    assert (fast.status_code, fast.data) == (view.status_code, view.data) == (200, PIXEL)
    for name in ("Content-Type", "Content-Length", "Cache-Control", "Pragma", "Expires", "Referrer-Policy"):
        assert fast.headers[name] == view.headers[name], name
    head = hit(client, pixel, method="HEAD")
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(PIXEL))
    # What the fast path does not answer goes on to Flask.
    assert client.get(pixel + "/more").status_code == 404
    refused = client.post(pixel)
    assert refused.status_code == 405 and "GET" in refused.headers["Allow"]
    assert write_hits() == {"read": 3, "written": 3, "discarded": 0}  # fast GET, view GET, HEAD
    hits = db.session.scalars(select(TrackingHit).order_by(TrackingHit.id)).all()
    assert [(h.method, h.is_machine) for h in hits] == [("GET", False), ("GET", False), ("HEAD", True)]
    assert _opens(cid) == 3


def test_behind_a_proxy_the_pixel_records_the_forwarded_address(app, tenant_a, runner):
    cid, pixel = _pixel(runner, tenant_a.id)
    other = create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "REDIS_URL": app.config["REDIS_URL"], "PROXY_HOPS": 1,
                        "TRACKING_SPOOL_DIR": app.config["TRACKING_SPOOL_DIR"]})
    answer = other.test_client().get(pixel, headers={"X-Forwarded-For": "17.58.1.2", "User-Agent": "Mozilla/5.0"},
                                     environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert answer.status_code == 200
    with other.app_context():
        confirm_hits()
    assert write_hits()["written"] == 1
    [recorded] = db.session.scalars(select(TrackingHit)).all()
    assert recorded.ip == "17.58.1.2" and recorded.is_machine  # Apple's network: a Mail Privacy Protection fetch
    with other.app_context():
        db.engine.dispose()
