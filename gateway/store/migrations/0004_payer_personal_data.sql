-- The payer's personal id kept for good only as a keyed digest and a masked form;
-- the clear name and id are erased once the payment has been final for
-- [payments] personal_data_retention_days (gateway/payments/personal_data.py).
-- Existing rows get their digest and masked id from the eraser's backfill: the
-- digest is an HMAC under the audit key, which SQL (SQLite's) cannot compute.
ALTER TABLE payments ADD COLUMN payer_id_digest TEXT;
ALTER TABLE payments ADD COLUMN payer_id_masked TEXT;

-- Only rows still holding personal data are indexed, so the poller's sweep reads
-- the payments within their retention period, not the whole history.
CREATE INDEX payments_personal_data_held ON payments (updated_at)
    WHERE payer_name IS NOT NULL OR payer_id_number IS NOT NULL;
