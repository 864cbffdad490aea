//! Images the runner keeps tagged on the engine while its attempts run them.
//!
//! A name submitted from a registry is pinned to a config digest, and the engine's image id is
//! that digest, so once one attempt has loaded it every later attempt can run what the engine
//! already holds. Each of those attempts used to tag the image under its own name and remove
//! the tag when it ended: two writes of dockerd's tag file per run, ~4 ms before the container
//! could be created and ~3–4 ms of the engine's CPU. A hold is one tag per image for the whole
//! runner, `darkroom-submission/hold/<runner>:<digest hex>`: the first attempt that finds the
//! image places it, later attempts count themselves on it (asking the engine nothing), and it
//! comes off once no attempt has counted on it for `runner.image_hold_seconds`. While counted
//! on, the tag keeps the image on the engine exactly as an attempt's own tag did.
//!
//! The count lives in this process only: a crash leaves the tags, and this runner's next start
//! removes every hold of its own ([`Holds::sweep`]; none of its attempts runs then). Another
//! runner on the same engine has its own holds under its own name, so neither removes a tag
//! the other counts on. The holds sit in the submissions' namespace, which participants may
//! never name. A hold removed from the engine by hand is noticed when an attempt's create
//! misses it ([`Holds::lost`]): that attempt fails as the platform's and is retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use darkroom_core::domain::image::SUBMISSION_NAMESPACE;
use darkroom_core::sandbox::{ImageInfo, Sandbox, SandboxError};
use tokio::sync::Mutex;

/// The runner's holds on images, shared by its attempts.
#[derive(Clone)]
pub struct Holds {
    sandbox: Sandbox,
    /// `darkroom-submission/hold/<runner>`: one repository per runner, one tag per image.
    repository: String,
    idle: Duration,
    // A tokio mutex: placing and removing a tag happen under it, so an attempt never counts on
    // a tag that is being removed.
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    images: HashMap<String, Held>,
    /// Which image each attempt counts on (by its claim key), and which placing of its hold.
    attempts: HashMap<String, (String, u64)>,
    /// Moves each time a hold is placed or its count drops to zero: a hold placed again after
    /// it was lost is told apart from the one before, whose attempts and idle timer it outlives.
    moves: u64,
}

impl State {
    fn next(&mut self) -> u64 {
        self.moves += 1;
        self.moves
    }
}

struct Held {
    users: usize,
    info: ImageInfo,
    placed: u64,
    /// When the count last dropped to zero, so only the last idle timer removes the tag.
    emptied: u64,
}

/// The folder of every runner's holds, under the submissions' namespace.
fn hold_namespace() -> String {
    format!("{SUBMISSION_NAMESPACE}/hold")
}

/// A repository path component for `runner_id`: lowercase letters, digits and dashes, plus a
/// short digest of the id itself, so two ids that differ only in case or punctuation (both
/// legal in `runner.runner_id`) never share holds.
fn runner_component(runner_id: &str) -> String {
    let readable: String =
        runner_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let readable: Vec<&str> = readable.split('-').filter(|s| !s.is_empty()).collect();
    let digest = darkroom_core::digest::sha256_hex(runner_id.as_bytes());
    format!("{}-{}", readable.join("-"), &digest[..8]).trim_start_matches('-').to_owned()
}

impl Holds {
    pub fn new(sandbox: Sandbox, runner_id: &str, idle: Duration) -> Self {
        Self {
            sandbox,
            repository: format!("{}/{}", hold_namespace(), runner_component(runner_id)),
            idle,
            state: Arc::default(),
        }
    }

    /// The repository of this runner's holds (each tag is an image's digest, without `sha256:`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    fn tag(&self, id: &str) -> String {
        format!("{}:{}", self.repository, hex(id))
    }

    /// Counts `attempt` on the image `id` (a config digest) and returns the reference to run it
    /// by and its description. The hold is placed now when there is none and the engine has the
    /// image; `None` when it does not (the caller downloads it).
    pub async fn acquire(&self, attempt: &str, id: &str) -> Result<Option<(String, ImageInfo)>, SandboxError> {
        let mut state = self.state.lock().await;
        if let Some(held) = state.images.get_mut(id) {
            held.users += 1;
            let (info, placed) = (held.info.clone(), held.placed);
            state.attempts.insert(attempt.to_owned(), (id.to_owned(), placed));
            return Ok(Some((self.tag(id), info)));
        }
        let tag = self.tag(id);
        // The description by id beside the tag (the tag waits ~4 ms for the engine's tag file).
        let (tagged, info) = tokio::join!(self.sandbox.tag(id, &self.repository, hex(id)), self.sandbox.image_info(id));
        if tagged.is_err() {
            return Ok(None);
        }
        // The image can arrive between the two calls (another attempt's load): ask by the tag.
        let info = match info {
            Ok(info) => info,
            Err(_) => match self.sandbox.image_info(&tag).await {
                Ok(info) => info,
                Err(e) => {
                    self.sandbox.remove_image(&tag).await;
                    return Err(e);
                }
            },
        };
        if let Err(e) = crate::images::same_image(&info, id) {
            self.sandbox.remove_image(&tag).await;
            return Err(e);
        }
        let placed = state.next();
        state.images.insert(id.to_owned(), Held { users: 1, info: info.clone(), placed, emptied: 0 });
        state.attempts.insert(attempt.to_owned(), (id.to_owned(), placed));
        Ok(Some((tag, info)))
    }

    /// Ends `attempt`'s count on its image, if it had one; the hold comes off after the idle
    /// time unless another attempt counts on it by then. Returns whether the attempt held one.
    pub async fn release(&self, attempt: &str) -> bool {
        let mut state = self.state.lock().await;
        let Some((id, placed)) = state.attempts.remove(attempt) else { return false };
        let emptied = state.next();
        // Its hold may have been lost (and placed again since, for other attempts).
        let Some(held) = state.images.get_mut(&id).filter(|h| h.placed == placed) else { return true };
        held.users -= 1;
        if held.users == 0 {
            held.emptied = emptied;
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(this.idle).await;
                let mut state = this.state.lock().await;
                if matches!(state.images.get(&id), Some(h) if h.users == 0 && h.emptied == emptied) {
                    state.images.remove(&id);
                    this.sandbox.remove_image(&this.tag(&id)).await;
                }
            });
        }
        true
    }

    /// Removes an attempt's own tag `reference` (and with its last tag the image) while no
    /// hold is being placed: dockerd decides to delete an image with its last tag before it
    /// deletes it, so a hold placed on the image in between would be left naming nothing.
    pub async fn remove_attempt_tag(&self, reference: &str) {
        let _placing = self.state.lock().await;
        self.sandbox.remove_image(reference).await;
    }

    /// Whether `reference` is one of this runner's holds.
    pub fn is_hold(&self, reference: &str) -> bool {
        self.held_hex(reference).is_some()
    }

    /// The image digest's hex a hold's reference names ([`Self::tag`] read back), or `None`
    /// for any other reference.
    fn held_hex<'r>(&self, reference: &'r str) -> Option<&'r str> {
        reference.strip_prefix(&self.repository)?.strip_prefix(':')
    }

    /// Forgets the hold `reference` names, which the engine no longer has (an operator removed
    /// the tag): the attempts that counted on it fail as the platform's and are retried, and
    /// the next one places the hold again, or downloads the image if it went with the tag.
    pub async fn lost(&self, reference: &str) {
        let Some(lost) = self.held_hex(reference) else { return };
        let mut state = self.state.lock().await;
        state.images.retain(|id, _| hex(id) != lost);
        tracing::warn!(hold = reference, "an image hold was removed from the engine; its attempts are retried");
    }

    /// Removes every hold of this runner: what a previous run of it left (at start, when none
    /// of its attempts runs) or what it holds when it stops.
    pub async fn sweep(&self) {
        let mut state = self.state.lock().await;
        state.images.clear();
        state.attempts.clear();
        let tags = match self.sandbox.tags_under(&hold_namespace()).await {
            Ok(tags) => tags,
            Err(e) => return tracing::warn!(error = %e, "cannot list the runner's image holds"),
        };
        let prefix = format!("{}:", self.repository);
        let mut removed = 0;
        for tag in tags.iter().filter(|t| t.starts_with(&prefix)) {
            self.sandbox.remove_image(tag).await;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(removed, "removed this runner's image holds");
        }
    }
}

fn hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::runner_component;

    #[test]
    fn runner_names_are_valid_path_components_and_stay_apart() {
        let a = runner_component("Runner_1");
        let b = runner_component("runner-1");
        assert_ne!(a, b, "ids that differ in case or punctuation keep their own holds");
        for c in [&a, &b, &runner_component("--"), &runner_component("gpu node #3")] {
            assert!(c.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{c}");
            assert!(!c.starts_with('-') && !c.ends_with('-') && !c.contains("--"), "{c}");
        }
        assert!(a.starts_with("runner-1-"), "{a}");
    }
}
