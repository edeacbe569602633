"""ORM models, one module per aggregate; importing this package registers them all."""

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
from clientcompass.models.files import FileChunk, Retention, StoredFile
from clientcompass.models.flows import Flow, FlowVersion
from clientcompass.models.inbox import (
    CannedResponse,
    ConversationEvent,
    ConversationLabel,
    EventKind,
)
from clientcompass.models.integrations import WebhookDelivery, WebhookSubscription
from clientcompass.models.leads import Lead, LeadSource, LeadStage, LeadStageChange
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
    "EventKind",
    "FileChunk",
    "Flow",
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
    "NotificationPreference",
    "NotificationReceipt",
    "PasswordReset",
    "Payment",
    "PaymentMethod",
    "PushSubscription",
    "Retention",
    "Role",
    "StoredFile",
    "TemplateCategory",
    "TemplateStatus",
    "Tenant",
    "TenantSetting",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
