// @generated automatically by Diesel CLI.

diesel::table! {
    account_heads (account_id) {
        account_id -> Uuid,
        transaction_id -> Uuid,
        balance -> Numeric,
        reserved -> Numeric,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        kind -> Text,
        user_id -> Nullable<Int8>,
        currency -> Text,
        balance -> Numeric,
        reserved -> Numeric,
        created_at -> Timestamptz,
        shard -> Int2,
        metadata -> Nullable<Jsonb>,
        status -> Text,
        status_reason -> Nullable<Text>,
    }
}

diesel::table! {
    audit_recounts (id) {
        id -> Int8,
        checked_at -> Timestamptz,
        finished_at -> Timestamptz,
        mismatched -> Array<Nullable<Uuid>>,
    }
}

diesel::table! {
    entries (id) {
        id -> Int8,
        transaction_id -> Uuid,
        account_id -> Uuid,
        bucket -> Text,
        amount -> Numeric,
    }
}

diesel::table! {
    reservations (order_id) {
        order_id -> Int8,
        account_id -> Uuid,
        service_id -> Int8,
        service_name -> Nullable<Text>,
        amount -> Numeric,
        currency -> Text,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        captured_amount -> Nullable<Numeric>,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    revenue_rollup (currency, month, service_id, shard) {
        currency -> Text,
        month -> Date,
        service_id -> Int8,
        shard -> Int2,
        revenue -> Numeric,
        service_name -> Nullable<Text>,
        named_at -> Nullable<Timestamptz>,
    }
}

// `xid`, `service_name`, `position`, `metadata` and the `*_after` parts are left out of
// `transactions`: only hand-written SQL reads or writes them, and with them the table would pass diesel's
// 16-column limit (its `32-column-tables` feature doubles diesel's build). So
// are the tables only hand-written SQL touches: `event_relay`, `token_seal`,
// and those service-kit declares: `api_keys`, `idempotency_keys`.
diesel::table! {
    transactions (id) {
        id -> Uuid,
        kind -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        amount -> Numeric,
        currency -> Text,
        from_account_id -> Nullable<Uuid>,
        to_account_id -> Nullable<Uuid>,
        order_id -> Nullable<Int8>,
        service_id -> Nullable<Int8>,
        reference -> Nullable<Text>,
        description -> Text,
        created_at -> Timestamptz,
        created_by -> Text,
        reverses -> Nullable<Uuid>,
        reversed_amount -> Numeric,
    }
}

diesel::joinable!(entries -> accounts (account_id));
diesel::joinable!(entries -> transactions (transaction_id));
diesel::joinable!(reservations -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_heads,
    accounts,
    audit_recounts,
    entries,
    reservations,
    revenue_rollup,
    transactions,
);
