"""ORM models, one module per aggregate; importing this package registers them all."""

from clientcompass.models.audit import AuditAction, AuditEvent, EmailChange
from clientcompass.models.base import Base
from clientcompass.models.consent import MarketingConsentEvent
from clientcompass.models.documents import (
    Document,
    DocumentCounter,
    DocumentEvent,
    DocumentLine,
    DocumentStatus,
    Payment,
    PaymentMethod,
)
from clientcompass.models.exports import Export, ExportKind, ExportStatus
from clientcompass.models.files import FileChunk, Retention, StoredFile
from clientcompass.models.flows import Flow, FlowRun, FlowRunStep, FlowVersion, RunStatus
from clientcompass.models.inbox import (
    CannedResponse,
    ConversationEvent,
    ConversationLabel,
    EventKind,
)
from clientcompass.models.integrations import WebhookDelivery, WebhookSubscription
from clientcompass.models.leads import Lead, LeadSource, LeadStage, LeadStageChange
from clientcompass.models.lifecycle import MetaDeletionRequest
from clientcompass.models.notifications import (
    NotificationPreference,
    NotificationReceipt,
    PushSubscription,
)
from clientcompass.models.tenant import BusinessProfile, Tenant, TenantSetting
from clientcompass.models.user import ApiToken, Invitation, LoginIndex, PasswordReset, Role, User
from clientcompass.models.whatsapp import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    MediaState,
    Message,
    MessageMedia,
    MessageStatus,
    MessageTemplate,
    TemplateCategory,
    TemplateStatus,
)

__all__ = [
    "ApiToken",
    "AuditAction",
    "AuditEvent",
    "Base",
    "BusinessProfile",
    "CannedResponse",
    "Channel",
    "Contact",
    "Conversation",
    "ConversationEvent",
    "ConversationLabel",
    "ConversationStatus",
    "Direction",
    "Document",
    "DocumentCounter",
    "DocumentEvent",
    "DocumentLine",
    "DocumentStatus",
    "EmailChange",
    "EventKind",
    "Export",
    "ExportKind",
    "ExportStatus",
    "FileChunk",
    "Flow",
    "FlowRun",
    "FlowRunStep",
    "FlowVersion",
    "Invitation",
    "Lead",
    "LeadSource",
    "LeadStage",
    "LeadStageChange",
    "LoginIndex",
    "MarketingConsentEvent",
    "MediaState",
    "Message",
    "MessageMedia",
    "MessageStatus",
    "MessageTemplate",
    "MetaDeletionRequest",
    "NotificationPreference",
    "NotificationReceipt",
    "PasswordReset",
    "Payment",
    "PaymentMethod",
    "PushSubscription",
    "Retention",
    "Role",
    "RunStatus",
    "StoredFile",
    "TemplateCategory",
    "TemplateStatus",
    "Tenant",
    "TenantSetting",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
