"""Deliverability: what mail relays (SES, SendGrid, Postmark, Mailgun) report after a send,
received by webhook and applied to customers and reports, and the DNS records (SPF, DKIM,
DMARC) a sending domain publishes."""
