//! The submit lock: one turn at a time for every change that must see submissions,
//! enrollments, teams and credentials as they stand and act before anyone else does: a
//! submit's admission and insert (so concurrent submits cannot both take the last slot), team
//! changes, disqualification, token replacement, and the upload sweep (which must never see an
//! upload stored but not yet referenced).
//!
//! Within one instance a turn is a mutex. On PostgreSQL it is also a transaction-scoped
//! advisory lock, so several instances of the service on one database (replicas behind a load
//! balancer) take turns with each other too: the lock's transaction is held open for the turn
//! (its statements run on other connections) and rolled back when the turn ends, which releases
//! it; if the instance dies mid-turn, PostgreSQL ends the connection and the lock with it.
//! SQLite is one instance's database (its only lock across processes is the writer lock, which
//! would block the very writes a turn makes), so there the mutex is the whole lock.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The advisory lock's key: "darkroom" in ASCII, so it reads as what it is in `pg_locks`.
const ADVISORY_KEY: i64 = 0x6461_726b_726f_6f6d;

/// Shared by every handler and the upload sweep of one instance.
#[derive(Clone)]
pub struct SubmitLock {
    local: Arc<Mutex<()>>,
    db: DatabaseConnection,
}

/// A turn: the lock is held until this is dropped.
pub struct SubmitTurn {
    shared: Option<DatabaseTransaction>,
    _local: OwnedMutexGuard<()>,
}

impl SubmitLock {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { local: Arc::new(Mutex::new(())), db }
    }

    /// Waits for the turn: this instance's first, then (PostgreSQL) every instance's.
    pub async fn turn(&self) -> Result<SubmitTurn, DbErr> {
        let local = self.local.clone().lock_owned().await;
        let shared = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let txn = self.db.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({ADVISORY_KEY})")).await?;
                Some(txn)
            }
            _ => None,
        };
        Ok(SubmitTurn { shared, _local: local })
    }
}

impl Drop for SubmitTurn {
    fn drop(&mut self) {
        let Some(txn) = self.shared.take() else { return };
        // A drop cannot wait for the rollback that releases the advisory lock; a task does.
        // This instance's next turn waits for it in PostgreSQL, not here.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = txn.rollback().await {
                        // Its connection is then closed, not reused, which releases it too.
                        tracing::warn!(error = %e, "could not release the submit lock's advisory lock");
                    }
                });
            }
            Err(_) => drop(txn),
        }
    }
}
