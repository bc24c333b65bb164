"""sane-wsd-gateway: SANE scanners served as WSD (Web Services on Devices) scanners."""

__version__ = "0.1.0"
