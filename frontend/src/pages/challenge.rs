//! `/challenges/:slug`: what the challenge asks, its phases with a countdown, the dataset's
//! file listing (names and sizes, never contents or host paths) and fingerprint (never the ground
//! truth's: that one is the organizer's), metrics and rules.

use chrono::{DateTime, Utc};
use darkroom_api::{
    DatasetListing, Enrollment, EnrollmentMode, EnrollmentState, Me, Phase, PublicChallenge, QuotaHolder,
    QuotaStanding, TreeFingerprint,
};
use leptos::prelude::*;
use leptos_meta::{Link, Title};
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::{render, server_message};
use crate::api::{
    AnnouncementHtml, ChallengePage, JoinChallenge, ParticipantStanding, TeamAction, Visitor, load_challenge,
};
use crate::app::SignedIn;
use crate::components::CsrfField;
use crate::{dataset_tree, format};

#[component]
pub fn ChallengeView() -> impl IntoView {
    let params = use_params_map();
    let join = ServerAction::<JoinChallenge>::new();
    let team = ServerAction::<TeamAction>::new();
    // Joining or a team action reloads the page's data (with scripts, the redirect back here
    // would not).
    let page = Resource::new(
        move || (params.read().get("slug").unwrap_or_default(), join.version().get(), team.version().get()),
        |(slug, _, _)| load_challenge(slug),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                render("challenge", page.await, move |p| view! { <Page page=p join team/> }.into_any())
            })}
        </Suspense>
    }
}

#[component]
fn Page(page: ChallengePage, join: ServerAction<JoinChallenge>, team: ServerAction<TeamAction>) -> impl IntoView {
    let ChallengePage { challenge: c, description_html, dataset_html, dataset, announcements, participant, now } = page;
    // The server's clock renders the page; the browser's takes over once hydrated.
    let clock = RwSignal::new(now);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(move || clock.set(Utc::now()), std::time::Duration::from_secs(1));
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    let board = format!("/challenges/{}/leaderboard", c.slug);
    let all = format!("/challenges/{}/submissions", c.slug);
    let SignedIn(who) = expect_context::<SignedIn>();
    let feed = announcements_feed(&c.slug);
    view! {
        <Title text=c.title.clone()/>
        // Offered before the first announcement too: a feed reader can subscribe at once.
        <Link rel="alternate" type_="application/atom+xml" title=format!("{}: announcements", c.title) href=feed.clone()/>
        <article class="challenge" id="challenge">
            <h1>{c.title.clone()}</h1>
            <p>
                <span class=format!("status status-{}", c.status.label())>{c.status.label()}</span>
                " · "<A href=board>"Leaderboard"</A>
                <Suspense fallback=|| ()>
                    {move || {
                        let all = all.clone();
                        Suspend::new(async move {
                            matches!(who.await, Ok(Visitor { me: Some(Me::Organizer), .. }))
                                .then(|| view! { " · " <A href=all>"All submissions"</A> })
                        })
                    }}
                </Suspense>
            </p>
            <Announcements announcements feed/>
            // Sanitised on the server (see `server::markdown`); the same string hydrates.
            <div class="markdown" id="description" inner_html=description_html></div>
            <Join challenge=c.clone() participant=participant.clone() join/>
            {participant.filter(|_| c.max_team_size > 1).and_then(|p| {
                let joined = p.enrollment.as_ref().is_some_and(Enrollment::may_submit);
                joined.then(|| view! { <Teams challenge=c.clone() standing=p action=team/> })
            })}
            <Phases phases=c.phases.clone() clock/>
            <Metrics challenge=c.clone()/>
            <Rules challenge=c.clone()/>
            <Dataset description_html=dataset_html listing=dataset fingerprint=c.dataset_fingerprint.clone()/>
        </article>
    }
}

/// Joining: a participant ticks that they accept the rules (and gives the invite code where the
/// challenge needs one); once joined, where they stand. A plain form post without scripts.
#[component]
fn Join(
    challenge: PublicChallenge,
    participant: Option<ParticipantStanding>,
    join: ServerAction<JoinChallenge>,
) -> impl IntoView {
    let error = move || join.value().get().and_then(Result::err).map(|e| server_message(&e));
    let how = match challenge.enrollment {
        EnrollmentMode::Open => "Anyone registered may join.",
        EnrollmentMode::Invite => "This challenge admits participants by invitation: you need the organizer's code.",
        EnrollmentMode::Approval => "The organizer approves each participant before they can submit.",
    };
    let body = match participant {
        None => view! {
            <p>{how}" "<A href="/sign-in">"Sign in"</A>" as a participant to join."</p>
        }
        .into_any(),
        Some(ParticipantStanding { enrollment: Some(e), quota, team }) => {
            let team_out = team.is_some_and(|t| t.disqualified);
            let quota =
                quota.as_ref().and_then(quota_line).map(|line| view! { <p class="quota" id="quota">{line}</p> });
            let (class, text) = match (&e.disqualified, e.state) {
                (Some(d), _) => (
                    "disqualified",
                    format!(
                        "The organizer disqualified you from this challenge on {}: {} You cannot submit to it.",
                        format::time(d.at),
                        format::sentence(&d.reason)
                    ),
                ),
                (None, EnrollmentState::Active) if team_out => (
                    "joined",
                    "You have joined this challenge, but your team cannot submit to it now: see your team below."
                        .to_owned(),
                ),
                (None, EnrollmentState::Active) => {
                    ("joined", "You have joined this challenge: you can submit to it.".to_owned())
                }
                (None, EnrollmentState::Pending) => {
                    ("pending", "You asked to join: you can submit once the organizer approves.".to_owned())
                }
                (None, EnrollmentState::Rejected) => {
                    ("rejected", "The organizer rejected your request to join.".to_owned())
                }
            };
            view! {
                <p class=format!("enrollment enrollment-{class}") data-state=e.standing()>{text}</p>
                {quota}
            }
            .into_any()
        }
        Some(ParticipantStanding { enrollment: None, .. }) => {
            let invite = challenge.enrollment == EnrollmentMode::Invite;
            view! {
                <p>{how}</p>
                <ActionForm action=join attr:class="stack" attr:id="join">
                    <CsrfField/>
                    <input type="hidden" name="slug" value=challenge.slug.clone()/>
                    {invite.then(|| view! {
                        <label for="invite-code">"Invite code"</label>
                        <input id="invite-code" name="code" type="text" autocomplete="off" required/>
                    })}
                    <label class="check">
                        <input type="checkbox" name="accept_rules" value="true" required/>
                        " I have read the rules below and accept them"
                    </label>
                    <button type="submit">"Join"</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <section id="enrollment">
            <h2>"Join"</h2>
            {body}
            {move || error().map(|e| view! { <p class="error" role="alert" id="join-error">{e}</p> })}
        </section>
    }
}

/// What the quotas still allow, in one sentence (None: the challenge sets none): before a
/// participant spends a day's slot finding out.
fn quota_line(q: &QuotaStanding) -> Option<String> {
    let left = q.left?;
    let whose = match q.counted_for {
        QuotaHolder::Participant => "You have",
        QuotaHolder::Team => "Your team has",
    };
    let plural = if left == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if let Some(d) = &q.per_day {
        parts.push(format!("{} of {} used in the last 24 hours", d.used, d.limit));
    }
    if let Some(t) = &q.total {
        parts.push(format!("{} of {} in the phase", t.used, t.limit));
    }
    let next = q
        .per_day
        .as_ref()
        .and_then(|d| d.next_slot_at)
        // Minutes rounded up: a slot shown as open must be open by then.
        .map(|t| format!("; the next slot opens {}", format::time(format::minute_up(t))))
        .unwrap_or_default();
    Some(format!("{whose} {left} submission{plural} left in phase {} ({}){next}.", q.phase, parts.join(", ")))
}

/// A joined participant's team: its members and, by the rules of the challenge, the forms to
/// create or join one, to leave, and the captain's (a new invite code, removals, a merge). Each
/// is a form post the API judges; its refusal (which rule) shows here.
#[component]
fn Teams(challenge: PublicChallenge, standing: ParticipantStanding, action: ServerAction<TeamAction>) -> impl IntoView {
    let error = move || action.value().get().and_then(Result::err).map(|e| server_message(&e));
    // Shown once, as the API shows it once (create, or the captain's new code).
    let code = move || action.value().get().and_then(Result::ok).flatten();
    let slug = StoredValue::new(challenge.slug.clone());
    let limits = format!(
        "Teams of up to {} members{}.",
        challenge.max_team_size,
        challenge.merge_deadline.map(|d| format!("; members change until {}", format::time(d))).unwrap_or_default()
    );
    // Each form carries its verb as a class too (`team-create`, …): several `remove` forms
    // share a page, so no id.
    let form = move |verb: &'static str, fields: AnyView, label: &'static str| {
        view! {
            <ActionForm action attr:class=format!("stack team-{verb}")>
                <CsrfField/>
                <input type="hidden" name="slug" value=slug.get_value()/>
                <input type="hidden" name="verb" value=verb/>
                {fields}
                <button type="submit">{label}</button>
            </ActionForm>
        }
    };
    let code_field = |id: &'static str| {
        view! {
            <label for=id>"The other team's invite code"</label>
            <input id=id name="code" type="text" autocomplete="off" required/>
        }
        .into_any()
    };
    let body = match standing.team {
        None => view! {
            <p>"You are in no team: you compete alone until you create or join one."</p>
            {form("create", view! {
                <label for="team-name">"Team name"</label>
                <input id="team-name" name="name" type="text" maxlength="64" required/>
            }.into_any(), "Create a team")}
            {form("join", view! {
                <label for="team-code">"Invite code"</label>
                <input id="team-code" name="code" type="text" autocomplete="off" required/>
            }.into_any(), "Join a team")}
        }
        .into_any(),
        Some(team) => {
            // Whether the visitor captains it, from who the header already knows is signed in.
            let SignedIn(who) = expect_context::<SignedIn>();
            let team = StoredValue::new(team);
            view! {
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let team = team.get_value();
                        let captain = match who.await {
                            Ok(Visitor { me: Some(Me::Participant(me)), .. }) => {
                                team.members.iter().any(|m| m.captain && m.id == me.id)
                            }
                            _ => false,
                        };
                        let fixed = team.has_submitted;
                        view! {
                            <p>"Your team: "<strong class="team-name">{team.name.clone()}</strong>
                                {format!(" ({} of {} members)", team.members.len(), team.max_size)}</p>
                            <ul class="team-members">
                                {team.members.iter().map(move |m| {
                                    let remove = (captain && !m.captain && !fixed).then(move || form("remove",
                                        view! { <input type="hidden" name="member" value=m.id.to_string()/> }.into_any(), "Remove"));
                                    view! { <li>{m.name.clone()}{m.captain.then_some(" (captain)")}{remove}</li> }
                                }).collect_view()}
                            </ul>
                            {team.disqualified.then(|| view! {
                                <p class="enrollment enrollment-disqualified" id="team-disqualified">
                                    "The organizer disqualified a member of your team: the team cannot submit, and has no line on the boards, until they reinstate them."
                                </p>
                            })}
                            {fixed.then(|| view! { <p>"Your team has submitted: its members are fixed."</p> })}
                            {(!fixed).then(move || form("leave", ().into_any(), "Leave the team"))}
                            {captain.then(move || view! {
                                {form("code", ().into_any(), "Show a new invite code")}
                                {form("merge", code_field("merge-code"), "Merge into that team")}
                            })}
                        }
                    })}
                </Suspense>
            }
            .into_any()
        }
    };
    view! {
        <section id="team">
            <h2>"Team"</h2>
            <p>{limits}</p>
            {body}
            {move || code().map(|c| view! {
                <p class="team-code" role="status">"Your team's invite code (shown once; a new one replaces it): "<code id="team-invite-code">{c}</code></p>
            })}
            {move || error().map(|e| view! { <p class="error" role="alert" id="team-error">{e}</p> })}
        </section>
    }
}

/// How many announcements show open; older ones wait behind one "earlier" fold.
const OPEN_ANNOUNCEMENTS: usize = 3;

/// Where a challenge's announcements are served as an Atom feed (`server::feed`).
fn announcements_feed(slug: &str) -> String {
    format!("/challenges/{slug}/announcements.atom")
}

/// The organizer's announcements, newest first, above the description: what changed since a
/// participant last looked, and the feed that tells them without looking. Folding needs no
/// script (`<details>`).
#[component]
fn Announcements(announcements: Vec<AnnouncementHtml>, feed: String) -> impl IntoView {
    if announcements.is_empty() {
        return None;
    }
    let mut open = announcements;
    let earlier = open.split_off(open.len().min(OPEN_ANNOUNCEMENTS));
    let item = |a: AnnouncementHtml| {
        let edited = a.edited_at.map(|t| {
            view! { " · edited "<time datetime=t.to_rfc3339()>{format::time(t)}</time> }
        });
        view! {
            <li class="announcement" id=format!("announcement-{}", a.id)>
                <h3>{a.title}</h3>
                <p class="meta"><time datetime=a.posted_at.to_rfc3339()>{format::time(a.posted_at)}</time>{edited}</p>
                // Sanitised on the server (see `server::markdown`).
                <div class="markdown" inner_html=a.body_html></div>
            </li>
        }
    };
    let folded = (!earlier.is_empty()).then(|| {
        let n = earlier.len();
        view! {
            <details class="earlier-announcements">
                <summary>{format!("{n} earlier announcement{}", if n == 1 { "" } else { "s" })}</summary>
                <ol class="announcements">{earlier.into_iter().map(item).collect_view()}</ol>
            </details>
        }
    });
    Some(view! {
        <section id="announcements" aria-label="Announcements">
            <h2>"Announcements"</h2>
            // `external`: the router would take the click for a page of its own and show 404.
            <p class="meta"><a href=feed rel="alternate external" type="application/atom+xml">"Follow them in a feed reader (Atom)"</a></p>
            <ol class="announcements">{open.into_iter().map(item).collect_view()}</ol>
            {folded}
        </section>
    })
}

#[component]
fn Phases(phases: Vec<Phase>, clock: RwSignal<DateTime<Utc>>) -> impl IntoView {
    view! {
        <section id="phases">
            <h2>"Phases"</h2>
            // Scrolls sideways on a phone rather than widening the page.
            <div class="table-scroll">
            <table>
                <thead><tr><th scope="col">"Phase"</th><th scope="col">"Opens"</th><th scope="col">"Closes"</th><th scope="col">"Now"</th></tr></thead>
                <tbody>
                    {phases.into_iter().map(|p| {
                        let (starts, ends) = (p.starts_at, p.ends_at);
                        view! {
                            <tr>
                                <th scope="row">{p.name}</th>
                                <td><time datetime=starts.to_rfc3339()>{format::time(starts)}</time></td>
                                <td><time datetime=ends.to_rfc3339()>{format::time(ends)}</time></td>
                                <td class="countdown">{move || format::phase_countdown(starts, ends, clock.get())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
    }
}

#[component]
fn Metrics(challenge: PublicChallenge) -> impl IntoView {
    let rank_by = challenge.rank_by.clone();
    view! {
        <section id="metrics">
            <h2>"Metrics"</h2>
            <ul>
                {challenge.metrics.into_iter().map(|m| {
                    let primary = (m.name == rank_by).then_some(" — ranks the leaderboard");
                    view! { <li><code>{m.name}</code>{format!(": {}", m.direction.label())}{primary}</li> }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Rules(challenge: PublicChallenge) -> impl IntoView {
    let q = challenge.quotas;
    let r = challenge.resources;
    let per_day = q.per_day.map(|n| format!("{n} per rolling 24 hours")).unwrap_or_else(|| "no daily limit".into());
    let total = q.total.map(|n| format!("{n} in the whole phase")).unwrap_or_else(|| "no total limit".into());
    let gpus = if r.gpus > 0 { format!(", {} GPU", r.gpus) } else { String::new() };
    let logs = if challenge.logs_visible {
        "You can read your own run's logs."
    } else {
        "Run logs stay private to the organizer (the data is confidential)."
    };
    view! {
        <section id="rules">
            <h2>"Rules"</h2>
            {challenge.rules.clone().map(|rules| {
                let paragraphs: Vec<String> = rules.split("\n\n").map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
                view! { <div class="challenge-rules">{paragraphs.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}</div> }
            })}
            <dl>
                <dt>"Submissions"</dt><dd>{format!("{per_day}; {total}. Failures caused by the platform do not count.")}</dd>
                <dt>"Your container gets"</dt>
                <dd>{format!(
                    "{} CPU, {} MiB memory{gpus}, {} to run, {} MiB of output, on a {} node; no network; the dataset read-only at /data; write predictions to /output.",
                    r.cpus, r.memory_mb, format::duration(r.wall_clock_seconds as i64), r.output_max_mb, challenge.node_type.label_value()
                )}</dd>
                <dt>"Logs"</dt><dd>{logs}</dd>
            </dl>
        </section>
    }
}

#[component]
fn Dataset(
    description_html: String,
    listing: Option<DatasetListing>,
    fingerprint: Option<TreeFingerprint>,
) -> impl IntoView {
    view! {
        <section id="dataset">
            <h2>"Dataset"</h2>
            <div class="markdown" id="dataset-description" inner_html=description_html></div>
            {fingerprint.map(|f| view! {
                <p class="fingerprint" title="SHA-256 over the sorted (path, size, SHA-256) of every file, taken when the challenge was applied; every run checks the data against it">
                    "Fingerprint: "<code>{format!("sha256:{}", f.digest)}</code>
                    {format!(" ({} files, {})", f.files, format::bytes(f.bytes))}
                </p>
            })}
            {match listing {
                None => view! { <p class="empty">"The file listing is not available right now."</p> }.into_any(),
                Some(l) => view! {
                    <p>{format!("{} files, {} in total{}.", l.file_count, format::bytes(l.total_bytes),
                        if l.truncated { " (the first files are listed)" } else { "" })}</p>
                    <FileTree files=l.files/>
                }.into_any(),
            }}
        </section>
    }
}

/// The dataset's files as folders that open and close without scripts (`<details>`), each
/// saying how many files it holds and their size; a folder's own files come after its
/// subfolders.
#[component]
fn FileTree(files: Vec<darkroom_api::DatasetFile>) -> impl IntoView {
    let root = dataset_tree::build(&files);
    view! { <div class="file-tree" id="file-tree">{folder_contents(root)}</div> }
}

/// A folder's subfolders (each a `<details>`) and files, as a list.
fn folder_contents(folder: dataset_tree::Folder) -> AnyView {
    view! {
        <ul>
            {folder.folders.into_iter().map(|(name, sub)| {
                let path = sub.path.clone();
                let summary = format!("{} {}, {}", sub.file_count, if sub.file_count == 1 { "file" } else { "files" }, format::bytes(sub.total_bytes));
                view! {
                    <li class="folder">
                        <details data-path=path>
                            <summary><code>{format!("{name}/")}</code>" "<span class="counts">{summary}</span></summary>
                            {folder_contents(sub)}
                        </details>
                    </li>
                }
            }).collect_view()}
            {folder.files.into_iter().map(|(name, size)| view! {
                <li class="file"><code>{name}</code>" "<span class="size">{format::bytes(size)}</span></li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use darkroom_api::{DailyStanding, TotalStanding};

    #[test]
    fn the_quota_line_names_whose_quota_what_is_left_and_the_next_slot_to_the_minute_up() {
        let next: DateTime<Utc> = "2026-12-05T09:30:45Z".parse().unwrap();
        let spent = QuotaStanding {
            challenge: "c".into(),
            phase: "dev".into(),
            counted_for: QuotaHolder::Team,
            per_day: Some(DailyStanding { limit: 2, used: 2, left: 0, next_slot_at: Some(next) }),
            total: Some(TotalStanding { limit: 5, used: 4, left: 1 }),
            left: Some(0),
        };
        assert_eq!(
            quota_line(&spent).as_deref(),
            Some(
                "Your team has 0 submissions left in phase dev (2 of 2 used in the last 24 hours, 4 of 5 in the phase); the next slot opens 2026-12-05 09:31 UTC."
            )
        );
        let one = QuotaStanding {
            counted_for: QuotaHolder::Participant,
            per_day: None,
            total: Some(TotalStanding { limit: 5, used: 4, left: 1 }),
            left: Some(1),
            ..spent.clone()
        };
        assert_eq!(quota_line(&one).as_deref(), Some("You have 1 submission left in phase dev (4 of 5 in the phase)."));
        assert_eq!(quota_line(&QuotaStanding { per_day: None, total: None, left: None, ..spent }), None);
    }
}
