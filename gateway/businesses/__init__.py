"""The business slice: tax codes, the business cache and service, and their routes."""
