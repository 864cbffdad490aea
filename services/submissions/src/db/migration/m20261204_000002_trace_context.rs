//! Traces (issue 18): the W3C `traceparent` of the request that created a submission, kept with
//! it so every later event about it continues its trace, and with each outbox row so the relay
//! publishes the row in that trace. Both nullable: rows from before have none, and their
//! events start a trace of their own when consumed.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000002_trace_context"
    }
}

#[derive(DeriveIden)]
enum Submissions {
    Table,
    TraceContext,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TraceContext,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table(Submissions::Table)
                .add_column(ColumnDef::new(Submissions::TraceContext).string())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Outbox::Table).add_column(ColumnDef::new(Outbox::TraceContext).string()).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::TraceContext).to_owned()).await?;
        m.alter_table(Table::alter().table(Submissions::Table).drop_column(Submissions::TraceContext).to_owned()).await
    }
}
