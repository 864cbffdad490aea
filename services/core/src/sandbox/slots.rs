//! The containers a service runs at once, kept apart from the requests it holds.
//!
//! A runner or an evaluator holds twice as many requests as it runs containers
//! ([`ContainerSlots::requests_in_flight`]). Only a container's own life takes a slot: what
//! comes before it (the claim, the data check, the image, the output folder) and after it (the
//! output stored, the outcome published and recorded) overlaps other containers' runs. So the
//! engine runs no more containers at once than `concurrency` says, as before, and a slot that a
//! container frees is taken by a request already prepared instead of waiting for that
//! bookkeeping. A request waiting for a slot is still being worked on: its worker tells
//! JetStream so, and it is not redelivered.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `concurrency` containers at once, for the handlers of one service.
#[derive(Clone, Debug)]
pub struct ContainerSlots {
    concurrency: usize,
    permits: Arc<Semaphore>,
}

/// One container's place; the place frees when this is dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl ContainerSlots {
    pub fn new(concurrency: usize) -> Self {
        Self { concurrency, permits: Arc::new(Semaphore::new(concurrency)) }
    }

    /// How many requests the service takes at once: one running and one prepared or finishing
    /// per slot.
    pub fn requests_in_flight(&self) -> usize {
        2 * self.concurrency
    }

    /// Waits for a free slot; slots are handed out in the order they were asked for.
    pub async fn take(&self) -> Slot {
        Slot { _permit: self.permits.clone().acquire_owned().await.expect("the semaphore is never closed") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn no_more_slots_than_the_concurrency_and_a_dropped_one_frees_its_place() {
        let slots = ContainerSlots::new(2);
        assert_eq!(slots.requests_in_flight(), 4);
        let (a, b) = (slots.take().await, slots.take().await);
        let third = tokio::time::timeout(Duration::from_millis(50), slots.take()).await;
        assert!(third.is_err(), "a third container would run beside two");
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(1), slots.take()).await.expect("the freed place");
        drop((b, c));
    }
}
