"""The national business registration database (CSDL quốc gia về đăng ký doanh nghiệp), via NGSP.

``BusinessClient`` speaks ``GET apiCSDLDKDN/1.0/chiTietDoanhNghiep?msdn=`` with an OAuth2
Bearer token and returns :class:`BusinessRecord`; ``sandbox`` is a peer speaking the same
protocol, misbehaving on demand.
"""

from adapters.business.client import BusinessClient
from adapters.business.config import BusinessConfig, BusinessTLS
from adapters.business.models import BusinessRecord, BusinessStatus, status_code_for

__all__ = [
    "BusinessClient",
    "BusinessConfig",
    "BusinessRecord",
    "BusinessStatus",
    "BusinessTLS",
    "status_code_for",
]
