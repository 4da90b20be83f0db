-- Spend per account by Cost Explorer record type (Usage, Credit, Refund, Tax, fees), a third
-- breakdown beside region and usage type, so credits and refunds are kept apart from usage.
ALTER TABLE cost_breakdowns DROP CONSTRAINT cost_breakdowns_dimension_check;
ALTER TABLE cost_breakdowns ADD CONSTRAINT cost_breakdowns_dimension_check
    CHECK (dimension IN ('region', 'usage_type', 'record_type'));
