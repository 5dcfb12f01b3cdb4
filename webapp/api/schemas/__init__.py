"""Request and response shapes of the JSON API, one module per resource.

The same models validate requests and generate /api/crm/openapi.json, so the document
cannot drift from the code. Every name is importable from here, as before the split.
"""

from __future__ import annotations

from webapp.api.schemas.activities import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    CustomerRef,
    TimelineQuery,
)
from webapp.api.schemas.assets import AssetListQuery, AssetOut, AssetPage, AssetUpload
from webapp.api.schemas.campaigns import (
    AllAndHuman,
    CampaignIn,
    CampaignListQuery,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    CampaignPreviewIn,
    CampaignPreviewOut,
    CampaignStats,
    CampaignStatsList,
    CampaignStatsQuery,
    CampaignStatus,
    HourStats,
    LineText,
    LinkStats,
    RateAllAndHuman,
    ScheduleIn,
    TestSendIn,
    TestSendOut,
    TestSendResult,
)
from webapp.api.schemas.common import (
    Count,
    EmailStatus,
    ErrorBody,
    ErrorDetail,
    ErrorResponse,
    Id,
    Money,
    PageQuery,
    QueryModel,
    ShortText,
    StrictModel,
    Tag,
)
from webapp.api.schemas.customers import (
    CustomerIn,
    CustomerListQuery,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
)
from webapp.api.schemas.imports import (
    CustomerExportOut,
    CustomerExportQuery,
    ExportActivity,
    ExportEmail,
    ExportSegment,
    ImportOut,
    ImportUpload,
)
from webapp.api.schemas.segments import (
    CalculationOut,
    ConditionList,
    Match,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentPage,
    SegmentPatch,
)
from webapp.api.schemas.sending_domains import (
    SendingDomainIn,
    SendingDomainOut,
    SendingDomainPage,
    TxtRecord,
)
from webapp.api.schemas.workflows import (
    DeleteWorkflowQuery,
    EnrollIn,
    EnrollmentList,
    EnrollmentListQuery,
    EnrollmentOut,
    EnrollmentPage,
    EnrollOut,
    ExecutionOut,
    Reentry,
    StepIn,
    StepOrderIn,
    StepOut,
    StepPatch,
    StepType,
    ToggleIn,
    TriggerIn,
    TriggerOut,
    TriggerType,
    WorkflowCounts,
    WorkflowIn,
    WorkflowOut,
    WorkflowPage,
    WorkflowPatch,
)

__all__ = [
    "Money", "Count", "Id", "EmailStatus", "ShortText", "Tag", "StrictModel", "ErrorDetail", "ErrorBody",
    "ErrorResponse", "QueryModel", "PageQuery", "CustomerIn", "CustomerPatch", "CustomerOut", "CustomerPage",
    "CustomerListQuery", "CustomerRef", "ActivityIn", "ActivityOut", "ActivityPage", "TimelineQuery", "Match",
    "ConditionList", "SegmentIn", "SegmentPatch", "SegmentOut", "SegmentPage", "CalculationOut", "PreviewIn",
    "PreviewOut", "CampaignStatus", "LineText", "CampaignIn", "CampaignPatch", "CampaignOut", "CampaignPage",
    "CampaignListQuery", "SendingDomainIn", "TxtRecord", "SendingDomainOut", "SendingDomainPage", "ScheduleIn",
    "CampaignPreviewIn", "CampaignPreviewOut", "TestSendIn", "TestSendResult", "TestSendOut", "AllAndHuman",
    "RateAllAndHuman", "LinkStats", "HourStats", "CampaignStats", "CampaignStatsList", "CampaignStatsQuery",
    "ImportUpload", "CustomerExportQuery", "ImportOut", "ExportActivity", "ExportSegment", "ExportEmail",
    "CustomerExportOut", "TriggerType", "StepType", "Reentry", "StepIn", "StepPatch", "StepOut", "WorkflowIn",
    "WorkflowPatch", "WorkflowCounts", "WorkflowOut", "WorkflowPage", "DeleteWorkflowQuery", "ToggleIn",
    "StepOrderIn", "EnrollIn", "EnrollOut", "ExecutionOut", "EnrollmentOut", "EnrollmentPage",
    "EnrollmentListQuery", "EnrollmentList", "TriggerIn", "TriggerOut", "AssetUpload", "AssetOut", "AssetPage",
    "AssetListQuery",
]
