//! Hand-written SQL that Postgres parses and plans once per connection.
//!
//! diesel's `sql_query` sends its text to be parsed and planned on every
//! call; the statements on the hot paths (a batch of movements, a batch of
//! payments) instead go through [`prepared_statement!`], which diesel keeps
//! in its per-connection statement cache. Postgres then also settles on a
//! generic plan, whose estimates for `unnest($1)` keep the joins on the
//! indexes however many rows one batch brings.

/// Declares a statement struct from SQL whose binds are written `?`, in the
/// order of the fields: `name { field: SqlType => RustType, ... } = "SQL"`.
/// The struct can be `load`ed into `QueryableByName` rows or `execute`d.
#[macro_export]
macro_rules! prepared_statement {
    ($(#[$meta:meta])* $vis:vis $name:ident { $($field:ident : $st:ty => $rust:ty),* $(,)? } = $sql:expr) => {
        $(#[$meta])*
        $vis struct $name {
            $(pub $field: $rust,)*
        }

        impl ::diesel::query_builder::QueryId for $name {
            type QueryId = ();
            // Cached by its SQL text, like any statement without a static id.
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl ::diesel::query_builder::Query for $name {
            type SqlType = ::diesel::sql_types::Untyped;
        }

        impl ::diesel::RunQueryDsl<::diesel::pg::PgConnection> for $name {}

        impl ::diesel::query_builder::QueryFragment<::diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: ::diesel::query_builder::AstPass<'_, 'b, ::diesel::pg::Pg>,
            ) -> ::diesel::QueryResult<()> {
                #[allow(unused_mut)]
                let mut rest: &'static str = $sql;
                $(
                    let (head, tail) = rest.split_once('?').ok_or_else(|| {
                        ::diesel::result::Error::QueryBuilderError(
                            concat!("fewer `?` than binds in ", stringify!($name)).into(),
                        )
                    })?;
                    out.push_sql(head);
                    out.push_bind_param::<$st, $rust>(&self.$field)?;
                    rest = tail;
                )*
                if rest.contains('?') {
                    return Err(::diesel::result::Error::QueryBuilderError(
                        concat!("more `?` than binds in ", stringify!($name)).into(),
                    ));
                }
                out.push_sql(rest);
                Ok(())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{Array, BigInt, Text};

    crate::prepared_statement!(Pair { a: BigInt => i64, b: Array<Text> => Vec<String> } =
        "SELECT ?::bigint AS a, cardinality(?::text[]) AS b");
    crate::prepared_statement!(TooMany { a: BigInt => i64 } = "SELECT ?, ?");

    #[test]
    fn binds_take_the_places_of_the_question_marks_in_order() {
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&Pair {
            a: 1,
            b: vec!["x".into()],
        })
        .to_string();
        assert!(
            sql.starts_with("SELECT $1::bigint AS a, cardinality($2::text[]) AS b"),
            "{sql}"
        );
    }

    #[test]
    fn a_count_mismatch_is_an_error_not_a_wrong_query() {
        use diesel::query_builder::QueryFragment;
        let mut sql = String::new();
        let backend = diesel::pg::Pg;
        let mut builder = diesel::pg::PgQueryBuilder::default();
        let result = TooMany { a: 1 }.to_sql(&mut builder, &backend);
        sql.push_str(&diesel::query_builder::QueryBuilder::finish(builder));
        assert!(result.is_err(), "{sql}");
    }
}
