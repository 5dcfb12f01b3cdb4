"""The SNS signing certificate and the subscription confirmation are fetched for real, from
a local HTTP server the tests point SNS_TEST_HOST at (honoured in testing only); the
certificate is fetched once and then read from the bounded cache."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deliverability.relay_support import TOPIC, sent_campaign, ses_bounce, sns_notification, status_of
from webapp.services.deliverability import ses


class FakeAmazon:
    """Serves the certificate at /cert.pem and answers the confirmation URL; records paths."""

    def __init__(self, pem: bytes):
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                owner.paths.append(self.path)
                body = pem if self.path == "/cert.pem" else b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAmazon:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_amazon(app, sns_signer, monkeypatch):
    with FakeAmazon(sns_signer.pem) as server:
        monkeypatch.setitem(app.config, "SNS_TEST_HOST", server.host)
        yield server
    ses.forget_certificates()


def test_a_subscription_is_confirmed_by_visiting_its_subscribe_url(relay, sns_signer, fake_amazon):
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
                    "Token": "2336412f37f", "TopicArn": TOPIC,
                    "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
                    "SubscribeURL": f"http://{fake_amazon.host}/?Action=ConfirmSubscription&Token=2336412f37f",
                    "Timestamp": "2026-12-04T09:00:00.000Z"}

    response = relay.post("ses", sns_signer.sign(confirmation, cert_url=f"http://{fake_amazon.host}/cert.pem"))

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "subscribed"}
    assert fake_amazon.paths == ["/cert.pem", "/?Action=ConfirmSubscription&Token=2336412f37f"]


def test_the_certificate_is_fetched_once_then_cached(runner, tenant_a, relay, sns_signer, fake_amazon):
    sent = sent_campaign(runner, tenant_a.id, 2)
    cert_url = f"http://{fake_amazon.host}/cert.pem"

    for recipient in sent.recipients:
        message = sns_signer.sign(sns_notification(ses_bounce(recipient.email)), cert_url=cert_url)
        assert relay.post("ses", message).status_code == 200

    assert fake_amazon.paths == ["/cert.pem"]
    assert [status_of(r.customer_id) for r in sent.recipients] == ["bounced", "bounced"]


def test_the_test_host_means_nothing_outside_testing(app, fake_amazon, monkeypatch):
    url = f"http://{fake_amazon.host}/cert.pem"
    assert ses.allowed_amazon_url(url)
    monkeypatch.setattr(app, "testing", False)
    assert not ses.allowed_amazon_url(url)
    assert ses.allowed_amazon_url("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem")
    assert not ses.allowed_amazon_url("https://sns.amazonaws.com.example.org/x.pem")


def test_the_certificate_cache_is_bounded(app, sns_signer):
    for i in range(ses.CACHE_SIZE + 10):
        ses.remember_certificate(f"https://sns.eu-west-1.amazonaws.com/{i}.pem", sns_signer.pem)
    assert len(ses._certificates) == ses.CACHE_SIZE
    assert "https://sns.eu-west-1.amazonaws.com/0.pem" not in ses._certificates
    ses.forget_certificates()
