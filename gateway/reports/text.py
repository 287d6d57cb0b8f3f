"""The report's words (Vietnamese first, English on request) and its numbers as each writes them.

Vietnamese writes thousands with a dot and decimals with a comma
(``1.250.000 ₫``, ``87,5 %``); English the other way round (``1,250,000 ₫``,
``87.5 %``). The dong sign follows the amount after a no-break space.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
NBSP = "\u00a0"

WORDS: dict[str, dict[Lang, str]] = {
    "title": {
        "vi": "Báo cáo kết quả cung cấp dịch vụ công trực tuyến",
        "en": "Report on online public services",
    },
    "period": {"vi": "Kỳ báo cáo", "en": "Period"},
    "quarter": {"vi": "Quý {q} năm {y}", "en": "Q{q} {y}"},
    "from_to": {"vi": "từ {a} đến {b}", "en": "from {a} to {b}"},
    "to_date": {
        "vi": "(kỳ chưa kết thúc: số liệu đến {d})",
        "en": "(the period is not over: figures up to {d})",
    },
    "generated": {"vi": "Lập lúc", "en": "Generated"},
    "agency_filter": {"vi": "Cơ quan", "en": "Agency"},
    "all_agencies": {"vi": "Tất cả cơ quan", "en": "All agencies"},
    "source": {
        "vi": "Nguồn: nhật ký kiểm toán và bảng thanh toán của cổng kết nối lienthong.",
        "en": "Source: the audit log and the payments table of the lienthong gateway.",
    },
    "agency": {"vi": "Cơ quan", "en": "Agency"},
    "procedure": {"vi": "Thủ tục", "en": "Procedure"},
    "not_given": {"vi": "(không ghi)", "en": "(not given)"},
    "total": {"vi": "Tổng cộng", "en": "Total"},
    "none": {"vi": "Không có dữ liệu trong kỳ.", "en": "No data in the period."},
    # verifications
    "verifications": {"vi": "Xác thực thông tin công dân", "en": "Citizen verifications"},
    "verifications_note": {
        "vi": "Mỗi yêu cầu xác thực với Cơ sở dữ liệu quốc gia về dân cư. “Không cần giấy tờ”"
        " là tỉ lệ yêu cầu có kết quả khớp hoàn toàn.",
        "en": "Each verification against the national population database. “Without paper”"
        " is the share of requests whose answer was a full match.",
    },
    "count": {"vi": "Số lượt", "en": "Count"},
    "match": {"vi": "Khớp", "en": "Match"},
    "match_without_diacritics": {"vi": "Khớp (không dấu)", "en": "Match without diacritics"},
    "mismatch": {"vi": "Không khớp", "en": "Mismatch"},
    "not_found": {"vi": "Không tìm thấy", "en": "Not found"},
    "rejected": {"vi": "Bị từ chối", "en": "Refused"},
    "error": {"vi": "Lỗi", "en": "Failed"},
    "without_paper": {"vi": "Không cần giấy tờ", "en": "Without paper"},
    "verdicts_chart": {"vi": "Kết quả xác thực", "en": "Verification verdicts"},
    # lookups
    "lookups": {"vi": "Tra cứu thông tin", "en": "Look-ups"},
    "lookups_note": {
        "vi": "Tra cứu công dân (CSDL dân cư) và doanh nghiệp (CSDL đăng ký doanh nghiệp).",
        "en": "Citizen look-ups (population database) and business look-ups (business registry).",
    },
    "kind": {"vi": "Loại", "en": "Kind"},
    "citizens.lookup": {"vi": "Công dân", "en": "Citizen"},
    "businesses.read": {"vi": "Doanh nghiệp", "en": "Business"},
    "found": {"vi": "Tìm thấy", "en": "Found"},
    "refused": {"vi": "Bị từ chối", "en": "Refused"},
    "failed": {"vi": "Lỗi", "en": "Failed"},
    # payments
    "payments": {"vi": "Thanh toán trực tuyến phí, lệ phí", "en": "Online fee payments"},
    "payments_note": {
        "vi": "Các khoản thanh toán được tạo trong kỳ, theo trạng thái hiện tại.",
        "en": "Payments created in the period, by their status now.",
    },
    "providers": {"vi": "Theo kênh thanh toán", "en": "By payment provider"},
    "provider": {"vi": "Kênh thanh toán", "en": "Provider"},
    "created": {"vi": "Đã tạo", "en": "Created"},
    "paid": {"vi": "Đã thanh toán", "en": "Paid"},
    "pay_failed": {"vi": "Thất bại", "en": "Failed"},
    "expired": {"vi": "Hết hạn", "en": "Expired"},
    "needs_review": {"vi": "Cần xem xét", "en": "Needing review"},
    "cancelled": {"vi": "Đã hủy", "en": "Cancelled"},
    "open": {"vi": "Đang chờ", "en": "Open"},
    "collected": {"vi": "Số tiền đã thu", "en": "Amount collected"},
    "median_wait": {"vi": "Thời gian thanh toán (trung vị)", "en": "Median time to pay"},
    "payments_chart": {"vi": "Trạng thái thanh toán", "en": "Payment statuses"},
    # availability
    "availability": {"vi": "Khả năng phục vụ của hệ thống quốc gia", "en": "National systems"},
    "availability_note": {
        "vi": "Tỉ lệ lượt gọi được hệ thống trả lời, và số phút bộ ngắt mạch (circuit breaker)"
        " đang mở (có ít nhất một lượt gọi bị từ chối), theo tuần. Số liệu của toàn cổng,"
        " không riêng cơ quan nào.",
        "en": "Share of calls the system answered, and minutes with the circuit breaker open"
        " (at least one call refused), week by week. For the whole gateway, not one agency.",
    },
    "system": {"vi": "Hệ thống", "en": "System"},
    "week": {"vi": "Tuần", "en": "Week"},
    "calls": {"vi": "Lượt gọi", "en": "Calls"},
    "answered": {"vi": "Được trả lời", "en": "Answered"},
    "share_answered": {"vi": "Tỉ lệ trả lời", "en": "Share answered"},
    "breaker_minutes": {"vi": "Phút ngắt mạch", "en": "Minutes breaker open"},
    "population": {"vi": "CSDL quốc gia về dân cư", "en": "National population database"},
    "business": {"vi": "CSDL quốc gia về đăng ký doanh nghiệp", "en": "Business registry"},
    "dvcqg": {"vi": "Nền tảng thanh toán DVCQG", "en": "DVCQG payment platform"},
    "vnpay": {"vi": "VNPay", "en": "VNPay"},
    # sheet names (31 characters at most)
    "sheet_verifications": {"vi": "Xác thực", "en": "Verifications"},
    "sheet_lookups": {"vi": "Tra cứu", "en": "Lookups"},
    "sheet_payments": {"vi": "Thanh toán", "en": "Payments"},
    "sheet_providers": {"vi": "Kênh thanh toán", "en": "Providers"},
    "sheet_availability": {"vi": "Hệ thống quốc gia", "en": "Availability"},
}


def word(key: str, lang: Lang) -> str:
    """The text of ``key`` (the key itself when it has none: an unknown system's name)."""
    entry = WORDS.get(key)
    return entry[lang] if entry else key


def integer(n: int, lang: Lang) -> str:
    """``1250000`` → ``1.250.000`` (vi) or ``1,250,000`` (en)."""
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "vi" else text


def dong(amount: int, lang: Lang) -> str:
    """An amount in VND: ``1.250.000 ₫``."""
    return f"{integer(amount, lang)}{NBSP}₫"


def percent(share: float | None, lang: Lang) -> str:
    """``0.875`` → ``87,5 %`` (vi) / ``87.5 %`` (en); ``–`` when there is nothing to divide."""
    if share is None:
        return "–"
    text = f"{share * 100:.1f}"
    return f"{text.replace('.', ',') if lang == 'vi' else text}{NBSP}%"


def duration(seconds: float | None, lang: Lang) -> str:
    """A wait as people say it: ``45 giây``, ``12 phút``, ``3 giờ 5 phút`` / ``45 s`` …"""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s}{NBSP}giây" if lang == "vi" else f"{s}{NBSP}s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes}{NBSP}phút" if lang == "vi" else f"{minutes}{NBSP}min"
    hours, rest = divmod(minutes, 60)
    if lang == "vi":
        return f"{hours}{NBSP}giờ {rest}{NBSP}phút"
    return f"{hours}{NBSP}h {rest}{NBSP}min"


def day(d: date, lang: Lang) -> str:
    """``01/10/2026`` (both languages: the city's documents write dates so)."""
    return d.strftime("%d/%m/%Y")


def short_day(d: date) -> str:
    return d.strftime("%d/%m")


def code_or_blank(code: str, lang: Lang) -> str:
    return code if code else word("not_given", lang)
