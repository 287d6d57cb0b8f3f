"""The national payment platform (Nền tảng thanh toán của Cổng DVCQG): JSON + ``MaXacThuc``."""

from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig

__all__ = ["DvcqgConfig", "DvcqgProvider"]
