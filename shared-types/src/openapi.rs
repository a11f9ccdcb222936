//! The rules of the wire types that their OpenAPI schemas state beyond
//! each field's own type: a caller's free text, and the requests that name
//! a side by account or by user (exactly one of the two, and a `currency`
//! only for a side named by user).

/// A caller's free text (`description`, `reference`, `service_name`): at
/// most 500 characters once white space at either end is trimmed (blank is
/// the same as absent), and no control character inside.
pub const CALLER_TEXT_PATTERN: &str = concat!(
    r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*",
    r"[^\x00-\x1f\x7f-\x9f]*",
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
);

/// A reason for freezing or closing an account: no control characters and
/// not blank (it is trimmed like a caller's text, then required).
pub const REASON_PATTERN: &str = concat!(
    r"^[^\x00-\x1f\x7f-\x9f]*",
    r"[^\x00-\x1f\x7f-\x9f \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[^\x00-\x1f\x7f-\x9f]*$"
);

/// A metadata key: 1-64 of `A-Z a-z 0-9 _ . -`.
pub const METADATA_KEY_PATTERN: &str = "^[A-Za-z0-9_.-]{1,64}$";

#[cfg(feature = "openapi")]
pub use schemas::*;

#[cfg(feature = "openapi")]
mod schemas {
    use utoipa::openapi::schema::{
        AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    use utoipa::openapi::{OpenApi, RefOr};
    use utoipa::Modify;

    use super::CALLER_TEXT_PATTERN;

    /// The schema of an optional caller's text ([`CALLER_TEXT_PATTERN`]).
    pub fn caller_text() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .max_length(Some(500))
            .pattern(Some(CALLER_TEXT_PATTERN))
            .description(Some(
                "At most 500 characters, no control characters; white space at either end is \
                 trimmed, and blank is the same as absent (422 invalid_text otherwise)",
            ))
    }

    /// The schema of the reason a freeze or a close gives ([`REASON_PATTERN`]).
    pub fn reason() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(500))
            .pattern(Some(super::REASON_PATTERN))
            .description(Some(
                "Why: 1-500 characters, no control characters, not blank (422 invalid_reason otherwise)",
            ))
    }

    /// The schema of a request's optional `metadata`: at most 20 keys
    /// (1-64 of `A-Z a-z 0-9 _ . -`) to strings of at most 500 characters.
    pub fn metadata() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .max_properties(Some(20))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(64))
                    .pattern(Some(super::METADATA_KEY_PATTERN)),
            ))
            .additional_properties(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(500)),
            ))
            .description(Some(
                "The caller's labels: at most 20 keys (1-64 characters of A-Z a-z 0-9 _ . -) to \
                 strings of at most 500 characters (422 invalid_metadata otherwise)",
            ))
    }

    /// The schema of a labels merge: keys as in [`metadata`], each to a
    /// string (set) or `null` (removed); the result at most 20 keys.
    pub fn metadata_patch() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(64))
                    .pattern(Some(super::METADATA_KEY_PATTERN)),
            ))
            .additional_properties(Some(
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(500)),
            ))
            .description(Some(
                "A string sets a key, null removes it, keys not named stay; the result must \
                 have at most 20 keys (422 invalid_metadata otherwise)",
            ))
    }

    /// States in the document which requests name each side once: by account
    /// or by user, never both, with a `currency` only for a side named by
    /// user (`422 invalid_target` otherwise).
    pub struct Targets;

    impl Modify for Targets {
        fn modify(&self, openapi: &mut OpenApi) {
            let Some(components) = openapi.components.as_mut() else {
                return;
            };
            for name in ["DepositRequest", "WithdrawalRequest", "ReservationRequest"] {
                restrict(&mut components.schemas, name, |all_of| {
                    all_of
                        .item(one_side("account_id", "user_id", true))
                        .description(Some(
                        "Exactly one of `account_id` and `user_id`; `currency` only with `user_id`",
                    ))
                });
            }
            restrict(&mut components.schemas, "TransferRequest", |all_of| {
                all_of
                    .item(one_side("from_account_id", "from_user_id", false))
                    .item(one_side("to_account_id", "to_user_id", false))
                    .item(
                        AnyOfBuilder::new()
                            .item(has("currency", Type::Null))
                            .item(named("from_user_id", Type::Integer))
                            .item(named("to_user_id", Type::Integer)),
                    )
                    .description(Some(
                        "Each side exactly once: `from_account_id` or `from_user_id`, \
                         `to_account_id` or `to_user_id`; `currency` only with a side named by user",
                    ))
            });
        }
    }

    /// Replaces the component `name` with all of itself and what `rules` adds.
    fn restrict(
        schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>,
        name: &str,
        rules: impl FnOnce(AllOfBuilder) -> AllOfBuilder,
    ) {
        if let Some(schema) = schemas.remove(name) {
            let restricted = rules(AllOfBuilder::new().item(schema));
            schemas.insert(name.to_owned(), restricted.into());
        }
    }

    /// `account` given and `user` null or absent, or the other way round; a
    /// `currency` (when `currency` is set) only with `user`.
    fn one_side(account: &str, user: &str, currency: bool) -> OneOfBuilder {
        let mut by_account = named(account, Type::String).property(user, null());
        if currency {
            by_account = by_account.property("currency", null());
        }
        OneOfBuilder::new()
            .item(by_account)
            .item(named(user, Type::Integer).property(account, null()))
    }

    /// An object in which `field` is given, of type `kind`.
    fn named(field: &str, kind: Type) -> ObjectBuilder {
        has(field, kind).required(field)
    }

    /// An object whose `field`, if present, is of type `kind`.
    fn has(field: &str, kind: Type) -> ObjectBuilder {
        ObjectBuilder::new().property(field, ObjectBuilder::new().schema_type(kind))
    }

    fn null() -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::Null)
    }
}
