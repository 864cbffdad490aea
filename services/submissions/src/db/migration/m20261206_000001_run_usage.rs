//! What a submission's run used: its duration and the peak memory the engine reported, kept
//! from its `run.finished` event so its owner can size the next one against the challenge's
//! limits. Nullable: runs that have not finished (and rows from before) have none. What a
//! participant sees of them is `routes::views::for_participant`'s rule.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_run_usage"
    }
}

#[derive(DeriveIden)]
enum Submissions {
    Table,
    RunDurationMs,
    PeakMemoryBytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [Submissions::RunDurationMs, Submissions::PeakMemoryBytes] {
            m.alter_table(
                Table::alter().table(Submissions::Table).add_column(ColumnDef::new(column).big_integer()).to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Submissions::PeakMemoryBytes, Submissions::RunDurationMs] {
            m.alter_table(Table::alter().table(Submissions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
