-- VM-4: an SLA extension must be approved before the breach. The finding's
-- due date that an approved extension replaced is kept on the request, so
-- that the control can compare the approval with it.

ALTER TABLE vuln_requests ADD COLUMN due_before TEXT;
