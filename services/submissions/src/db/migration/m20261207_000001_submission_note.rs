//! A participant's note on a submission (`SubmissionNote`: one line, at most 200 characters),
//! written when submitting or later. Nullable: most submissions have none, and rows from before
//! have none.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000001_submission_note"
    }
}

#[derive(DeriveIden)]
enum Submissions {
    Table,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Submissions::Table).add_column(ColumnDef::new(Submissions::Note).string()).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Submissions::Table).drop_column(Submissions::Note).to_owned()).await
    }
}
