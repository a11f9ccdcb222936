-- Advances, the payments that collect them, the stored answers of POSTs, and
-- the latest reconciliation report.

CREATE TABLE advances (
    id                         UUID PRIMARY KEY,
    account_id                 UUID NOT NULL,
    amount                     NUMERIC(28, 2) NOT NULL CHECK (amount > 0),
    currency                   TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    installments               INT NOT NULL CHECK (installments BETWEEN 1 AND 104),
    status                     TEXT NOT NULL CHECK (status IN ('disbursing', 'active', 'repaid')),
    -- The time between payments this advance was created with.
    interval_ms                BIGINT NOT NULL CHECK (interval_ms > 0),
    -- accounts-manager's deposit that paid the advance out.
    disbursement_transaction_id UUID,
    disburse_attempts          INT NOT NULL DEFAULT 0,
    -- When a background retry may next try to disburse (a lease while one does).
    disburse_after             TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT disbursed_when_active CHECK ((status = 'disbursing') = (disbursement_transaction_id IS NULL))
);

-- One advance being repaid per account, enforced by the database.
CREATE UNIQUE INDEX advances_one_open_per_account ON advances (account_id) WHERE status <> 'repaid';
CREATE INDEX advances_by_account ON advances (account_id, created_at, id);
CREATE INDEX advances_disbursing ON advances (disburse_after) WHERE status = 'disbursing';

CREATE TABLE payments (
    id              UUID PRIMARY KEY,
    advance_id      UUID NOT NULL REFERENCES advances (id),
    seq             INT NOT NULL CHECK (seq > 0),
    amount          NUMERIC(28, 2) NOT NULL CHECK (amount > 0),
    due_at          TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'processing', 'paid', 'failed')),
    attempts        INT NOT NULL DEFAULT 0,
    -- A worker's claim: while it lasts, no other worker takes the payment.
    lease_until     TIMESTAMPTZ,
    -- The scheduler's outbox mark: when a job for the payment was last
    -- confirmed by the broker. NULL means "publish it".
    published_at    TIMESTAMPTZ,
    -- Retries after accounts-manager was unreachable wait until then.
    retry_after     TIMESTAMPTZ,
    paid_at         TIMESTAMPTZ,
    transaction_id  UUID,
    failure_reason  TEXT,
    UNIQUE (advance_id, seq),
    CONSTRAINT paid_has_transaction CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND paid_at IS NOT NULL))
);

-- The scheduler's scan: open payments by due time.
CREATE INDEX payments_open_by_due ON payments (due_at) WHERE status IN ('scheduled', 'processing');

CREATE TABLE reconciliation_reports (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checked_at        TIMESTAMPTZ NOT NULL,
    advances_checked  BIGINT NOT NULL,
    -- The report's mismatches as the API answers them.
    mismatches        JSONB NOT NULL
);

-- The writer's transaction id, for snapshot-stable listings (see accounts-manager).
ALTER TABLE advances ADD COLUMN xid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
