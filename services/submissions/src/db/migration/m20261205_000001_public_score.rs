//! The organizer's list without a read of every score (issue 18): a COMPLETE submission keeps
//! the public metrics its `score.recorded` event carried, as JSON, so listing a challenge's
//! submissions reads no score document. Nullable: rows scored before it have none, and the
//! list reads theirs from the score store as before.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000001_public_score"
    }
}

#[derive(DeriveIden)]
enum Submissions {
    Table,
    PublicScore,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Submissions::Table)
                .add_column(ColumnDef::new(Submissions::PublicScore).text())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Submissions::Table).drop_column(Submissions::PublicScore).to_owned()).await
    }
}
