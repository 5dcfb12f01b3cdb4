"""Email: personalisation in a sandbox, MIME building, and transports (SMTP, outbox)."""
