// @generated automatically by Diesel CLI, less the tables only hand-written
// SQL touches: `events`, `event_relay`, `portfolio_rollup` and
// `collected_rollup`, and those service-kit declares:
// `api_keys` and `idempotency_keys`.

diesel::table! {
    advances (id) {
        id -> Uuid,
        account_id -> Uuid,
        amount -> Numeric,
        currency -> Nullable<Text>,
        installments -> Int4,
        status -> Text,
        interval_ms -> Int8,
        disbursement_transaction_id -> Nullable<Uuid>,
        disburse_attempts -> Int4,
        disburse_after -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        xid -> Int8,
        created_by -> Text,
        traceparent -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        outstanding -> Numeric,
        missed_installments -> Int4,
        overdue_amount -> Numeric,
        overdue_since -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        advance_id -> Uuid,
        seq -> Int4,
        amount -> Numeric,
        due_at -> Timestamptz,
        status -> Text,
        attempts -> Int4,
        lease_until -> Nullable<Timestamptz>,
        published_at -> Nullable<Timestamptz>,
        retry_after -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        transaction_id -> Nullable<Uuid>,
        failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    reconciliation_reports (id) {
        id -> Int8,
        checked_at -> Timestamptz,
        advances_checked -> Int8,
        mismatches -> Jsonb,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Uuid,
        body -> Bytea,
        reason -> Text,
        received_at -> Timestamptz,
        replayed_at -> Nullable<Timestamptz>,
        xid -> Int8,
    }
}

diesel::joinable!(payments -> advances (advance_id));

diesel::allow_tables_to_appear_in_same_query!(
    advances,
    dead_letters,
    payments,
    reconciliation_reports,
);
