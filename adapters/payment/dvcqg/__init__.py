"""The national payment platform (Nền tảng thanh toán của Cổng DVCQG): JSON + ``MaXacThuc``."""
