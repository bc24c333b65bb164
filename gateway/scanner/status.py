"""A scanner's state, reasons and conditions, derived from what SANE reports.

A SANE error becomes a condition (jam, cover open, empty feeder) that stays
until the next page starts well; its Id is never handed out again.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Callable

from gateway.model import (
    Condition, ConditionComponent, ConditionName, ConditionSeverity, ScannerState, ScannerStateReason, ScannerStatus,
)
from gateway.scanner.jobs import Failure, now
from gateway.scanner.saneapi import Status


@dataclass(frozen=True)
class ErrorMeaning:
    condition: ConditionName | None  # DeviceCondition Name
    component: ConditionComponent
    severity: ConditionSeverity
    scanner_reason: ScannerStateReason  # while it lasts
    failure: Failure  # of the job it ends


_C, _S, _R, _F = ConditionName, ConditionSeverity, ScannerStateReason, Failure
_PATH, _ATTENTION = ConditionComponent.MEDIA_PATH, ScannerStateReason.ATTENTION_REQUIRED
MEANINGS = {
    Status.JAMMED: ErrorMeaning(_C.MEDIA_JAM, _PATH, _S.CRITICAL, _R.MEDIA_JAM, _F.DEVICE_ERROR),
    Status.COVER_OPEN: ErrorMeaning(_C.COVER_OPEN, ConditionComponent.PLATEN, _S.CRITICAL, _R.COVER_OPEN,
                                    _F.DEVICE_ERROR),
    Status.NO_DOCS: ErrorMeaning(_C.INPUT_TRAY_EMPTY, ConditionComponent.ADF, _S.WARNING, _ATTENTION,
                                 _F.DEVICE_ERROR),
    Status.DEVICE_BUSY: ErrorMeaning(None, _PATH, _S.WARNING, _ATTENTION, _F.DEVICE_STOPPED),
    Status.IO_ERROR: ErrorMeaning(None, _PATH, _S.CRITICAL, _ATTENTION, _F.DEVICE_STOPPED),
    Status.ACCESS_DENIED: ErrorMeaning(None, _PATH, _S.CRITICAL, _ATTENTION, _F.DEVICE_STOPPED),
    Status.NO_MEM: ErrorMeaning(None, _PATH, _S.CRITICAL, _ATTENTION, _F.DEVICE_STOPPED),
}
_DEFAULT = ErrorMeaning(None, _PATH, _S.CRITICAL, _ATTENTION, _F.DEVICE_ERROR)

HISTORY_SIZE = 10


def meaning(status: Status) -> ErrorMeaning:
    return MEANINGS.get(status, _DEFAULT)


class StatusTracker:
    def __init__(self, on_change: Callable[[ScannerStatus], None] = lambda s: None):
        self._on_change = on_change
        self._ids = itertools.count(secrets.randbelow(2**20) + 1)
        self._busy = False
        self._error: tuple[ErrorMeaning, Condition | None] | None = None
        self._history: list[tuple[Condition, object]] = []

    def current(self) -> ScannerStatus:
        conditions = ()
        if self._error is None:
            state = ScannerState.PROCESSING if self._busy else ScannerState.IDLE
            reasons = (ScannerStateReason.NONE,)
        else:
            m, cond = self._error
            conditions = (cond,) if cond else ()
            stopped = m.severity is ConditionSeverity.CRITICAL and not self._busy
            state = ScannerState.STOPPED if stopped else (ScannerState.PROCESSING if self._busy else ScannerState.IDLE)
            reasons = (m.scanner_reason,)
        return ScannerStatus(time=now(), state=state, reasons=reasons, conditions=conditions,
                             history=tuple(self._history))

    def busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self._on_change(self.current())

    def sane_error(self, status: Status) -> ErrorMeaning:
        m = meaning(status)
        self._clear(notify=False)
        cond = Condition(next(self._ids), m.condition, m.component, m.severity, now()) if m.condition else None
        self._error = (m, cond)
        self._on_change(self.current())
        return m

    def cover(self, is_open: bool) -> None:
        """A cover sensor changed: open is a condition until it closes."""
        if is_open:
            if self._error is None or self._error[0] is not MEANINGS[Status.COVER_OPEN]:
                self.sane_error(Status.COVER_OPEN)
        elif self._error is not None and self._error[0] is MEANINGS[Status.COVER_OPEN]:
            self._clear(notify=True)

    def page_started(self) -> None:
        """A page started: whatever stopped the scanner before is gone."""
        self._clear(notify=True)

    def _clear(self, notify: bool) -> None:
        if self._error is None:
            return
        _m, cond = self._error
        self._error = None
        if cond is not None:
            self._history = ([(cond, now())] + self._history)[:HISTORY_SIZE]
        if notify:
            self._on_change(self.current())
