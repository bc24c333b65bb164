"""WSD Scan Service bodies <-> typed values, one module per section of the WS-Scan schema, each with
its parser beside its builder:

- ``tickets``: ScanTicket, DocumentParameters, ImageInformation, ValidateScanTicket;
- ``elements``: RequestedElements, ScannerDescription, ScannerConfiguration, ScannerStatus;
- ``jobs``: JobId and JobToken in, CreateScanJob and RetrieveImage out, JobStatus, Documents, job lists;
- ``events``: the scan events;
- ``wscn``: the XML conventions all of them share.

Built as the WS-Scan schema says, which is what Windows' stack was made from.
"""
