"""The national business registration database (CSDL quốc gia về đăng ký doanh nghiệp), via NGSP.

``BusinessClient`` speaks ``GET apiCSDLDKDN/1.0/chiTietDoanhNghiep?msdn=`` with an OAuth2
Bearer token and returns :class:`BusinessRecord`; ``sandbox`` is a peer speaking the same
protocol, misbehaving on demand.
"""
