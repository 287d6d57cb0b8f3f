"""Security detectors, alerts, certificate expiry and the security report.

The event stream itself is :mod:`gateway.security.events` (``emit``/``subscribe``).
:class:`SecurityMonitor` raises ``security.alert`` from thresholds over sliding
windows; :class:`SecurityRecorder` keeps events and alerts in the store for
:func:`security_report`; :class:`AlertWebhookSender` posts alerts, signed;
:mod:`.certificates` watches expiry and unexpected peer certificates.
"""
