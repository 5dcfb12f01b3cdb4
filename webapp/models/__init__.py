"""Models, one module per aggregate; imported here so Alembic sees every table."""

from webapp.models.activity import SYSTEM_ACTIVITY_TYPES, CustomerActivity
from webapp.models.audit import ACTOR_KINDS, AuditEvent
from webapp.models.campaign import (
    CAMPAIGN_STATUSES,
    FINAL_RECIPIENT_STATUSES,
    CampaignRecipient,
    EmailCampaign,
    OutboxMessage,
)
from webapp.models.customer import EMAIL_STATUSES, Customer, CustomerTag
from webapp.models.customer_import import IMPORT_STATUSES, CustomerImport, CustomerImportRejection
from webapp.models.email_content import TEMPLATE_KINDS, EmailAsset, EmailTemplate
from webapp.models.segment import CustomerSegment, CustomerSegmentMember
from webapp.models.sending_domain import SENDING_DOMAIN_STATUSES, SendingDomain
from webapp.models.team import PasswordReset, TeamInvite
from webapp.models.tenant import ADMIN_ROLES, ROLES, TOKEN_ROLES, WRITE_ROLES, ApiToken, Tenant, User, UserSession
from webapp.models.tracking import CampaignAttribution, CampaignEngagementHour, CampaignLink, TrackingHit
from webapp.models.workflow import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
)

__all__ = [
    "ACTOR_KINDS",
    "AuditEvent",
    "PasswordReset",
    "TeamInvite",
    "TOKEN_ROLES",
    "AutomationEnrollment",
    "AutomationStep",
    "AutomationStepExecution",
    "AutomationWorkflow",
    "CAMPAIGN_STATUSES",
    "FINAL_RECIPIENT_STATUSES",
    "CampaignAttribution",
    "CampaignEngagementHour",
    "CampaignLink",
    "CampaignRecipient",
    "TrackingHit",
    "EmailAsset",
    "EmailCampaign",
    "EmailTemplate",
    "TEMPLATE_KINDS",
    "OutboxMessage",
    "ADMIN_ROLES",
    "EMAIL_STATUSES",
    "IMPORT_STATUSES",
    "ROLES",
    "SENDING_DOMAIN_STATUSES",
    "SYSTEM_ACTIVITY_TYPES",
    "WRITE_ROLES",
    "ApiToken",
    "Customer",
    "CustomerActivity",
    "CustomerImport",
    "CustomerImportRejection",
    "CustomerSegment",
    "CustomerSegmentMember",
    "CustomerTag",
    "SendingDomain",
    "Tenant",
    "User",
    "UserSession",
]
