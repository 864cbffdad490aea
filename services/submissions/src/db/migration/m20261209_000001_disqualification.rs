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
    Challenge,
    DisqualifiedAt,
    DisqualifiedReason,
}

/// Every board request reads a challenge's disqualified (see `crate::disqualification`):
/// indexed, that is a range of the few, not a scan of every enrollment.
const INDEX: &str = "idx_enrollments_disqualified";

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
        .await?;
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Enrollments::Table)
                .col(Enrollments::Challenge)
                .col(Enrollments::DisqualifiedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Enrollments::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Enrollments::Table).drop_column(Enrollments::DisqualifiedReason).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Enrollments::Table).drop_column(Enrollments::DisqualifiedAt).to_owned())
            .await
    }
}
