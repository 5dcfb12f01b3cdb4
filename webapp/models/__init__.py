"""Models, one module per aggregate; imported here so Alembic sees every table."""

from webapp.models.activity import SYSTEM_ACTIVITY_TYPES, CustomerActivity, IngestFollowup, PurchaseHour
from webapp.models.audience import CONSENT_SOURCES, ConsentRecord, CustomerTopic, Topic, subscribed_to_topic
from webapp.models.audit import ACTOR_KINDS, AuditEvent
from webapp.models.campaign import (
    AB_METRICS,
    CAMPAIGN_STATUSES,
    FINAL_RECIPIENT_STATUSES,
    CampaignRecipient,
    CampaignRecipientCount,
    CampaignVariant,
    EmailCampaign,
    OutboxMessage,
)
from webapp.models.customer import EMAIL_STATUSES, Customer, CustomerCount, CustomerTag
from webapp.models.customer_import import IMPORT_STATUSES, CustomerImport, CustomerImportRejection
from webapp.models.deliverability import PROVIDERS, ProviderEvent, ProviderWebhookSettings
from webapp.models.email_content import TEMPLATE_KINDS, EmailAsset, EmailTemplate
from webapp.models.event import (
    ATTENDANCE_STATUSES,
    EVENT_STATUSES,
    EVENT_TAG_KINDS,
    Event,
    EventAttendance,
    EventBuyer,
    EventSalesTotal,
    EventTag,
    PurchaseItem,
)
from webapp.models.segment import CustomerSegment, CustomerSegmentMember, SegmentReachableCount
from webapp.models.sending_domain import SENDING_DOMAIN_STATUSES, SendingDomain
from webapp.models.signup_form import CUSTOM_FIELD_KINDS, FORM_STATUSES, NAME_FIELD_MODES, PendingSignup, SignupForm
from webapp.models.team import PasswordReset, TeamInvite
from webapp.models.tenant import (
    ADMIN_ROLES,
    ROLES,
    TOKEN_ROLES,
    WRITE_ROLES,
    ApiToken,
    RoleRights,
    Tenant,
    User,
    UserSession,
)
from webapp.models.tracking import (
    CampaignAgentHits,
    CampaignAttribution,
    CampaignEngagementHour,
    CampaignLink,
    TrackingHit,
)
from webapp.models.waitlist import (
    WAITLIST_STATUSES,
    EventWaitlist,
    InventoryCrossing,
    WaitlistEntry,
)
from webapp.models.webhook import (
    DELIVERY_STATUSES,
    WEBHOOK_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webapp.models.workflow import (
    AutomationEnrollment,
    AutomationStep,
    AutomationStepExecution,
    AutomationWorkflow,
)

__all__ = [
    "DELIVERY_STATUSES",
    "WEBHOOK_EVENT_TYPES",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "ATTENDANCE_STATUSES",
    "EVENT_STATUSES",
    "EVENT_TAG_KINDS",
    "Event",
    "EventAttendance",
    "EventBuyer",
    "EventSalesTotal",
    "EventTag",
    "PurchaseItem",
    "WAITLIST_STATUSES",
    "EventWaitlist",
    "InventoryCrossing",
    "WaitlistEntry",
    "CONSENT_SOURCES",
    "ConsentRecord",
    "CustomerTopic",
    "Topic",
    "subscribed_to_topic",
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
    "CampaignAgentHits",
    "CampaignEngagementHour",
    "CampaignLink",
    "CampaignRecipient",
    "CampaignRecipientCount",
    "CampaignVariant",
    "AB_METRICS",
    "TrackingHit",
    "EmailAsset",
    "EmailCampaign",
    "EmailTemplate",
    "TEMPLATE_KINDS",
    "OutboxMessage",
    "ADMIN_ROLES",
    "RoleRights",
    "EMAIL_STATUSES",
    "IMPORT_STATUSES",
    "ROLES",
    "SENDING_DOMAIN_STATUSES",
    "SYSTEM_ACTIVITY_TYPES",
    "WRITE_ROLES",
    "ApiToken",
    "Customer",
    "CustomerActivity",
    "IngestFollowup",
    "PurchaseHour",
    "CustomerImport",
    "CustomerImportRejection",
    "CustomerSegment",
    "CustomerSegmentMember",
    "SegmentReachableCount",
    "CustomerCount",
    "CustomerTag",
    "SendingDomain",
    "Tenant",
    "User",
    "UserSession",
    "PROVIDERS",
    "ProviderEvent",
    "ProviderWebhookSettings",
    "CUSTOM_FIELD_KINDS",
    "FORM_STATUSES",
    "NAME_FIELD_MODES",
    "PendingSignup",
    "SignupForm",
]
