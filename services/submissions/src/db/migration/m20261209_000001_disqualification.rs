//! The organizer's disqualification of a participant (see `crate::disqualification`): when
//! and why, on their enrollment. Both null while they compete; reinstating clears both.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000001_disqualification"
    }
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    DisqualifiedAt,
    DisqualifiedReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(
            Table::alter()
                .table(Enrollments::Table)
                .add_column(ColumnDef::new(Enrollments::DisqualifiedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Enrollments::Table)
                .add_column(ColumnDef::new(Enrollments::DisqualifiedReason).string().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Enrollments::Table).drop_column(Enrollments::DisqualifiedReason).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Enrollments::Table).drop_column(Enrollments::DisqualifiedAt).to_owned())
            .await
    }
}
