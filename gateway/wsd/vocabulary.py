"""The WS-Scan keyword for each state, reason and condition word of the model.

The scanner core speaks in ``model`` enums; WS-Scan's schema fixes the
keywords (spelt as it spells them: one r in "Transfering"). Every member of
every enum has its keyword here: a test checks that none is missing.
"""

from __future__ import annotations

import enum

from gateway.model import (
    ConditionComponent, ConditionName, ConditionSeverity, JobState, JobStateReason, ScannerState,
    ScannerStateReason,
)

JOB_STATES = {
    JobState.PENDING: "Pending",
    JobState.STARTED: "Started",
    JobState.PROCESSING: "Processing",
    JobState.TERMINATING: "Terminating",
    JobState.COMPLETED: "Completed",
    JobState.ABORTED: "Aborted",
    JobState.CANCELED: "Canceled",
}

JOB_STATE_REASONS = {
    JobStateReason.NONE: "None",
    JobStateReason.SCANNING: "JobScanning",
    JobStateReason.SCANNING_AND_TRANSFERRING: "JobScanningAndTransfering",
    JobStateReason.TRANSFERRING: "JobTransfering",
    JobStateReason.COMPLETED_SUCCESSFULLY: "JobCompletedSuccessfully",
    # The schema has no keyword for a failed transfer: the job ended with an error.
    JobStateReason.COMPLETED_WITH_ERRORS: "JobCompletedWithErrors",
    JobStateReason.COMPLETED_WITH_WARNINGS: "JobCompletedWithWarnings",
    JobStateReason.CANCELED_AT_DEVICE: "JobCanceledAtDevice",
    JobStateReason.TIMED_OUT: "JobTimedOut",
    JobStateReason.SCANNER_STOPPED: "ScannerStopped",
    # Nor for a scanner unplugged mid-job: it stopped, as far as the client can tell.
    JobStateReason.SCANNER_REMOVED: "ScannerStopped",
    JobStateReason.COMPRESSION_ERROR: "CompressionError",
    JobStateReason.DOCUMENT_FORMAT_ERROR: "DocumentFormatError",
    JobStateReason.INVALID_SCAN_TICKET: "InvalidScanTicket",
}

SCANNER_STATES = {
    ScannerState.IDLE: "Idle",
    ScannerState.PROCESSING: "Processing",
    ScannerState.STOPPED: "Stopped",
}

SCANNER_STATE_REASONS = {
    ScannerStateReason.NONE: "None",
    ScannerStateReason.ATTENTION_REQUIRED: "AttentionRequired",
    ScannerStateReason.COVER_OPEN: "CoverOpen",
    ScannerStateReason.MEDIA_JAM: "MediaJam",
    ScannerStateReason.MULTIPLE_FEED_ERROR: "MultipleFeedError",
    ScannerStateReason.LAMP_ERROR: "LampError",
    ScannerStateReason.LAMP_WARMING: "LampWarming",
    ScannerStateReason.CALIBRATING: "Calibrating",
    ScannerStateReason.INTERLOCK_OPEN: "InterlockOpen",
    ScannerStateReason.INTERNAL_STORAGE_FULL: "InternalStorageFull",
    ScannerStateReason.PAUSED: "Paused",
}

# A closed list: the schema allows no extension of DeviceCondition's Name.
CONDITION_NAMES = {
    ConditionName.CALIBRATING: "Calibrating",
    ConditionName.COVER_OPEN: "CoverOpen",
    ConditionName.INPUT_TRAY_EMPTY: "InputTrayEmpty",
    ConditionName.INTERLOCK_OPEN: "InterlockOpen",
    ConditionName.INTERNAL_STORAGE_FULL: "InternalStorageFull",
    ConditionName.MEDIA_JAM: "MediaJam",
    ConditionName.LAMP_ERROR: "LampError",
    ConditionName.LAMP_WARNING: "LampWarning",
    ConditionName.MULTIPLE_FEED_ERROR: "MultipleFeedError",
}

CONDITION_COMPONENTS = {
    ConditionComponent.ADF: "ADF",
    ConditionComponent.FILM: "Film",
    ConditionComponent.MEDIA_PATH: "MediaPath",
    ConditionComponent.PLATEN: "Platen",
}

CONDITION_SEVERITIES = {
    ConditionSeverity.INFORMATIONAL: "Informational",
    ConditionSeverity.WARNING: "Warning",
    ConditionSeverity.CRITICAL: "Critical",
}

TABLES: dict[type, dict] = {
    JobState: JOB_STATES,
    JobStateReason: JOB_STATE_REASONS,
    ScannerState: SCANNER_STATES,
    ScannerStateReason: SCANNER_STATE_REASONS,
    ConditionName: CONDITION_NAMES,
    ConditionComponent: CONDITION_COMPONENTS,
    ConditionSeverity: CONDITION_SEVERITIES,
}


def keyword(value: enum.Enum) -> str:
    """The WS-Scan keyword of a model value; enums that have no table here (ColorMode, InputSource) are
    spelt the same in the model and on the wire."""
    table = TABLES.get(type(value))
    return table[value] if table is not None else value.value
