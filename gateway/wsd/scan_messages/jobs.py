"""Jobs on the wire: which job a request names, CreateScanJob's and RetrieveImage's answers, JobStatus,
Documents and the job lists."""

from __future__ import annotations

from lxml import etree

from gateway.model import FinalParameters, ImageInformation, JobView
from gateway.wsd import namespaces as ns
from gateway.wsd.scan_messages.tickets import document_parameters, image_information
from gateway.wsd.scan_messages.wscn import W, bounded, element, find, integer, limited, q, sub, sub_list, time_text
from gateway.wsd.soap import invalid_args


def parse_job_id(body: etree._Element) -> int:
    el = body.find(q("JobId"))
    if el is None:
        raise invalid_args("the request has no JobId")
    return integer(el, "JobId")


def parse_job_token(body: etree._Element) -> str:
    el = body.find(q("JobToken"))
    return (el.text or "").strip() if el is not None else ""


def parse_document_name(body: etree._Element) -> str | None:
    el = find(body, "DocumentDescription", "DocumentName")
    return bounded((el.text or "").strip(), "DocumentName") if el is not None else None


def parse_push_identifiers(body: etree._Element) -> tuple[str | None, str | None]:
    """ScanIdentifier and DestinationToken of a CreateScanJobRequest (a push scan), if any."""
    def text(local):
        el = body.find(q(local))
        return (el.text or "").strip() if el is not None else None
    return text("ScanIdentifier"), text("DestinationToken")


def create_job_response(job_id: int, token: str, info: ImageInformation, final: FinalParameters) -> etree._Element:
    resp = element("CreateScanJobResponse")
    sub(resp, "JobId", job_id)
    sub(resp, "JobToken", limited(token))
    resp.append(image_information(info))
    resp.append(document_parameters(final, "DocumentFinalParameters"))
    return resp


def retrieve_image_response(content_id: str) -> etree._Element:
    resp = etree.Element(q("RetrieveImageResponse"), nsmap={"wscn": W, "xop": ns.XOP})
    data = sub(resp, "ScanData")
    etree.SubElement(data, ns.qname(ns.XOP, "Include")).set("href", f"cid:{content_id}")
    return resp


def job_status(job: JobView) -> etree._Element:
    el = element("JobStatus")
    sub(el, "JobId", job.id)
    sub(el, "JobState", job.state)
    sub_list(el, "JobStateReasons", "JobStateReason", job.reasons)
    sub(el, "ScansCompleted", job.images_done)
    sub(el, "JobCreatedTime", time_text(job.created))
    if job.completed is not None:
        sub(el, "JobCompletedTime", time_text(job.completed))
    return el


def documents(job: JobView) -> etree._Element | None:
    """The job's Documents, or None before its first image: the schema wants at least one Document."""
    if not job.documents:
        return None
    el = element("Documents")
    el.append(document_parameters(job.final, "DocumentFinalParameters"))
    for name in job.documents:
        sub(sub(sub(el, "Document"), "DocumentDescription"), "DocumentName", limited(name))
    return el


def _summary(parent: etree._Element, job: JobView) -> None:
    el = sub(parent, "JobSummary")
    sub(el, "JobId", job.id)
    sub(el, "JobName", limited(job.ticket.description.name))
    sub(el, "JobOriginatingUserName", limited(job.ticket.description.user))
    sub(el, "JobState", job.state)
    sub_list(el, "JobStateReasons", "JobStateReason", job.reasons)
    sub(el, "ScansCompleted", job.images_done)


def job_summaries(operation: str, container: str, jobs: list[JobView]) -> etree._Element:
    """GetActiveJobsResponse/ActiveJobs or GetJobHistoryResponse/JobHistory."""
    resp = element(f"{operation}Response")
    parent = sub(resp, container)
    for job in jobs:
        _summary(parent, job)
    return resp


def empty_response(operation: str) -> etree._Element:
    return element(f"{operation}Response")
