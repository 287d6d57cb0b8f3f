"""Security detectors, alerts, certificate expiry and the security report.

The event stream itself is :mod:`gateway.security.events` (``emit``/``subscribe``).
:class:`SecurityMonitor` raises ``security.alert`` from thresholds over sliding
windows; :class:`SecurityRecorder` keeps events and alerts in the store for
:func:`security_report`; :class:`AlertWebhookSender` posts alerts, signed;
:mod:`.certificates` watches expiry and unexpected peer certificates.
"""

from gateway.security.alerts import AlertWebhookSender, alert_body
from gateway.security.callbacks import check_callback_source
from gateway.security.certificates import (
    CERTIFICATE_EXPIRY,
    CertificateStatus,
    check_certificates,
    check_peer_certificate,
    watch_certificates,
)
from gateway.security.config import (
    AlertWebhookConfig,
    BurstDetectorConfig,
    CertificateWatch,
    EnumerationDetectorConfig,
    SecurityConfig,
    VolumeDetectorConfig,
)
from gateway.security.detectors import (
    SECURITY_ALERTS,
    SecurityAlert,
    SecurityMonitor,
)
from gateway.security.recorder import SecurityRecorder, sanitise_fields
from gateway.security.report import render_security_report, security_report

__all__ = [
    "CERTIFICATE_EXPIRY",
    "SECURITY_ALERTS",
    "AlertWebhookConfig",
    "AlertWebhookSender",
    "BurstDetectorConfig",
    "CertificateStatus",
    "CertificateWatch",
    "EnumerationDetectorConfig",
    "SecurityAlert",
    "SecurityConfig",
    "SecurityMonitor",
    "SecurityRecorder",
    "VolumeDetectorConfig",
    "alert_body",
    "check_callback_source",
    "check_certificates",
    "check_peer_certificate",
    "render_security_report",
    "sanitise_fields",
    "security_report",
    "watch_certificates",
]
