"""Keys and signatures made in the tests, the way each relay signs its webhook calls, and
each relay's documented sample payload (field names and shapes copied from its docs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from tests.campaigns.tracking_support import send_to_audience
from webapp.extensions import db
from webapp.models import CampaignRecipient, Customer, CustomerActivity
from webapp.services.deliverability import credentials

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hook", "a-long-postmark-password"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SIGNED_KEYS = {"Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
               "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                                            "Type")}


# --- Amazon SNS ---------------------------------------------------------------------------

@dataclass
class SnsSigner:
    key: rsa.RSAPrivateKey
    pem: bytes

    @classmethod
    def make(cls) -> SnsSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
        return cls(key, cert.public_bytes(serialization.Encoding.PEM))

    def sign(self, message: dict, *, version: str = "1", cert_url: str = CERT_URL) -> dict:
        """The message with SignatureVersion, SigningCertURL and Signature, as SNS sends it."""
        lines = "".join(f"{k}\n{message[k]}\n" for k in SIGNED_KEYS[message["Type"]] if k in message)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(lines.encode(), padding.PKCS1v15(), digest)
        return {**message, "SignatureVersion": version, "SigningCertURL": cert_url,
                "Signature": base64.b64encode(signature).decode()}


def ses_mail(email: str, *, token: str | None = None, message_id: str | None = None) -> dict:
    headers = [{"name": "From", "value": "news@arena-alpha.example.com"}, {"name": "To", "value": email}]
    if token:
        headers.append({"name": "X-CRM-Message", "value": token})
    return {"timestamp": "2026-12-04T09:00:00.000Z", "source": "news@arena-alpha.example.com",
            "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/arena-alpha.example.com",
            "sendingAccountId": "123456789012", "messageId": "01020170c8c4b6b8-eb2f0d1e-0a1b-4d1c-9c52-000000000000",
            "destination": [email], "headersTruncated": False, "headers": headers,
            "commonHeaders": {"from": ["news@arena-alpha.example.com"], "to": [email],
                              "messageId": message_id or "<unknown@example.com>", "subject": "Summer line-up"}}


def ses_bounce(email: str, *, permanent: bool = True, **ours) -> dict:
    """SES's Bounce notification (docs: "Amazon SES notification examples")."""
    return {"notificationType": "Bounce", "bounce": {
        "bounceType": "Permanent" if permanent else "Transient", "bounceSubType": "General" if permanent else
        "MailboxFull", "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": "5.1.1",
                                              "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2026-12-04T09:00:01.000Z", "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-7165",
        "remoteMtaIp": "127.0.2.0", "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"},
        "mail": ses_mail(email, **ours)}


def ses_complaint(email: str, **ours) -> dict:
    return {"notificationType": "Complaint", "complaint": {
        "userAgent": "ExampleCorp Feedback Loop (V0.01)", "complainedRecipients": [{"emailAddress": email}],
        "complaintFeedbackType": "abuse", "arrivalDate": "2026-12-04T09:00:00.000Z",
        "timestamp": "2026-12-04T09:00:02.000Z", "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a"},
        "mail": ses_mail(email, **ours)}


def sns_notification(inner: dict, *, message_id: str | None = None, topic: str = TOPIC) -> dict:
    return {"Type": "Notification", "MessageId": message_id or str(uuid.uuid4()), "TopicArn": topic,
            "Message": json.dumps(inner), "Timestamp": "2026-12-04T09:00:03.000Z",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"}


# --- SendGrid -----------------------------------------------------------------------------

@dataclass
class SendgridSigner:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def make(cls) -> SendgridSigner:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def verification_key(self) -> str:
        """Base64 DER, as SendGrid's console shows it."""
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp, "Content-Type": "application/json"}


def sendgrid_event(event: str, email: str, *, token: str | None = None, smtp_id: str | None = None,
                   type_: str | None = None, when: int | None = None) -> dict:
    """One event of SendGrid's Event Webhook (docs: "Event Webhook Reference")."""
    item = {"email": email, "timestamp": when or int(time.time()), "smtp-id": smtp_id or "<14c5d75ce93.dfd@ismtpd>",
            "event": event, "category": ["cat facts"], "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"}
    if event == "bounce":
        item.update({"reason": "500 unknown recipient", "status": "5.0.0", "type": type_ or "bounce",
                     "bounce_classification": "Invalid Address"})
    if token:
        item["crm_message"] = token
    return item


# --- Postmark and Mailgun -------------------------------------------------------------------

def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def postmark_bounce(email: str, *, token: str | None = None, kind: str = "HardBounce",
                    bounce_id: int = 4323372036854775807) -> dict:
    """Postmark's bounce webhook (docs: "Bounce webhook")."""
    return {"RecordType": "Bounce", "MessageStream": "outbound", "ID": bounce_id, "Type": kind,
            "TypeCode": 1 if kind == "HardBounce" else 4096, "Name": "Hard bounce", "Tag": "Test",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {"crm-message": token} if token else {},
            "ServerID": 23, "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
                                           "not found).", "Details": "Test bounce details", "Email": email,
            "From": "news@arena-alpha.example.com", "BouncedAt": "2026-12-04T09:00:54.9070259Z",
            "DumpAvailable": True, "Inactive": True, "CanActivate": True, "Subject": "Summer line-up"}


def postmark_complaint(email: str, *, token: str | None = None) -> dict:
    return {"RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42, "Type": "SpamComplaint",
            "TypeCode": 512, "Name": "Spam complaint", "Tag": "Test",
            "MessageID": "00000000-0000-0000-0000-000000000000",
            "Metadata": {"crm-message": token} if token else {}, "ServerID": 1234, "Description": "",
            "Details": "Test spam complaint details", "Email": email, "From": "news@arena-alpha.example.com",
            "BouncedAt": "2026-12-04T09:00:00Z", "DumpAvailable": True, "Inactive": True, "CanActivate": False,
            "Subject": "Summer line-up"}


def mailgun_signature(key: str = MAILGUN_KEY, *, timestamp: int | None = None, token: str | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "token": token, "signature": signature}


def mailgun_event(event: str, email: str, *, severity: str = "permanent", token: str | None = None,
                  message_id: str | None = None) -> dict:
    """Mailgun's webhook event data (docs: "Webhooks" sample payloads)."""
    data = {"id": uuid.uuid4().hex[:22], "timestamp": time.time(), "log-level": "error", "event": event,
            "recipient": email, "recipient-domain": email.rpartition("@")[2], "tags": [],
            "envelope": {"sender": "bounce@mg.arena-alpha.example.com", "transport": "smtp"},
            "message": {"headers": {"to": email, "message-id": (message_id or "<none@x>").strip("<>"),
                                    "from": "news@arena-alpha.example.com", "subject": "Summer line-up"},
                        "attachments": [], "size": 111},
            "user-variables": {"crm_message": token} if token else {}, "flags": {"is-test-mode": False}}
    if event == "failed":
        data.update({"severity": severity, "reason": "bounce" if severity == "permanent" else "generic",
                     "delivery-status": {"code": 550 if severity == "permanent" else 452,
                                         "message": "5.1.1 The email account that you tried to reach does not exist",
                                         "description": "", "attempt-no": 1}})
    return data


# --- the tenant's side ------------------------------------------------------------------------

@dataclass
class Sent:
    campaign_id: int
    recipients: list[CampaignRecipient]


def sent_campaign(runner, tenant_id: int, count: int = 3, prefix: str = "fan") -> Sent:
    campaign_id = send_to_audience(runner, tenant_id, count, prefix=prefix)
    rows = list(db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                                   .order_by(CampaignRecipient.email)))
    assert all(r.status == "sent" and r.message_id for r in rows)
    return Sent(campaign_id, rows)


def set_up_every_provider(tenant_id: int, sendgrid: SendgridSigner) -> str:
    """All four providers' credentials; returns the key in the endpoint URLs."""
    row = credentials.update_credentials(tenant_id, {
        "sendgrid_public_key": sendgrid.verification_key, "postmark_username": POSTMARK_USER,
        "postmark_password": POSTMARK_PASSWORD, "mailgun_signing_key": MAILGUN_KEY})
    return row.key


def status_of(customer_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Customer, customer_id).email_status


def activities(customer_id: int, kind: str | None = None) -> list[CustomerActivity]:
    db.session.expire_all()
    stmt = select(CustomerActivity).where(CustomerActivity.customer_id == customer_id)
    if kind:
        stmt = stmt.where(CustomerActivity.type == kind)
    return list(db.session.scalars(stmt.order_by(CustomerActivity.id)))
