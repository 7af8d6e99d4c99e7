//! Environments that share one Prometheus, asked as one.
//!
//! Three environments on one Prometheus, told apart only by their
//! selectors (`env="dev"`, `env="test"`, `env="prod"`), would cost three
//! sets of grid queries and three reads of the alerts per refresh. Instead
//! the grid's queries run once, grouped by the label that tells them
//! apart (`env=~"dev|test|prod"`, `by (env, …)`), the alerts are read
//! once, and each environment takes its own part of the answers.
//!
//! Each environment is still polled by its own task; the first to ask
//! starts a round, the others join it while it is in flight or just
//! answered, and a second ask by the same environment starts the next.
//! Polled on the same interval, the members stay in step: one round per
//! refresh.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api::{FiringAlerts, PromApi};
use super::promql::{FleetQueries, GRID_QUERIES, MatchOp, Matcher};
use super::wire::{Answer, Sample};
use crate::source::SourceError;
use crate::source::http::Lease;

/// A round that answered at most this long ago is still joined by a
/// member that has not taken its part: the members' tasks wake a few
/// milliseconds apart, and one that lost the race must not ask again.
const JOIN_ANSWERED_WITHIN: Duration = Duration::from_secs(1);

/// How several selectors can be asked as one: each has one `label="value"`
/// matcher, the values differ, and the other matchers are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSelector {
    pub label: String,
    /// The matchers every selector has, in the first selector's order.
    pub common: Vec<Matcher>,
    /// Each selector's value of `label`, in the order given.
    pub values: Vec<String>,
}

fn sorted(matchers: &[Matcher]) -> Vec<(String, &'static str, String)> {
    let mut keys: Vec<_> = matchers
        .iter()
        .map(|m| (m.name.clone(), m.op.as_str(), m.value.clone()))
        .collect();
    keys.sort();
    keys
}

/// The label that tells `selectors` apart, if there is one; `None` when
/// they cannot be asked as one (fewer than two, a value repeated, or they
/// differ in more than one label).
pub fn shared_selector(selectors: &[&[Matcher]]) -> Option<SharedSelector> {
    let (first, rest) = selectors.split_first()?;
    if rest.is_empty() {
        return None;
    }
    first
        .iter()
        .filter(|m| m.op == MatchOp::Equal)
        .find_map(|candidate| {
            let label = &candidate.name;
            let without = |matchers: &[Matcher]| -> Option<(String, Vec<Matcher>)> {
                let mut on_label = matchers.iter().filter(|m| m.name == *label);
                let only = on_label.next()?;
                if on_label.next().is_some() || only.op != MatchOp::Equal {
                    return None;
                }
                let others = matchers
                    .iter()
                    .filter(|m| m.name != *label)
                    .cloned()
                    .collect();
                Some((only.value.clone(), others))
            };
            let (value, common) = without(first)?;
            let mut values = vec![value];
            for selector in rest {
                let (value, others) = without(selector)?;
                if sorted(&others) != sorted(&common) || values.contains(&value) {
                    return None;
                }
                values.push(value);
            }
            Some(SharedSelector {
                label: label.clone(),
                common,
                values,
            })
        })
}

/// One member's part of a round: its grid answers, the warnings the
/// round carried, and the firing alerts (each member judges which are
/// its own).
pub struct MemberAnswers {
    pub answers: [Vec<Sample>; GRID_QUERIES],
    pub warnings: Vec<String>,
    pub alerts: Result<Arc<FiringAlerts>, SourceError>,
}

struct RoundAnswer {
    /// Taken out by each member as it reads its part.
    parts: Mutex<HashMap<String, [Vec<Sample>; GRID_QUERIES]>>,
    warnings: Vec<String>,
    alerts: Result<Arc<FiringAlerts>, SourceError>,
    answered: Instant,
    /// The budget the bodies took, held while the parts wait to be taken.
    _leases: Vec<Lease>,
}

/// What a member does with its part of a round's first answers, before
/// the slowest has come (see `FleetSource::fetch_fleet_previewing`).
pub type EarlyAnswers = Box<dyn Fn([Vec<Sample>; GRID_QUERIES]) + Send + Sync>;

struct Round {
    /// The members that took part (or are taking part) in this round.
    claimed: Mutex<HashSet<String>>,
    /// The members that want their part of the first answers early.
    early: Mutex<Vec<(String, EarlyAnswers)>>,
    answer: tokio::sync::OnceCell<Result<RoundAnswer, SourceError>>,
}

impl Round {
    /// Whether `member` may take part: not yet in it, and the round is in
    /// flight or answered only just now.
    fn claim(&self, member: &str) -> bool {
        let fresh = match self.answer.get() {
            None => true,
            Some(Ok(answer)) => answer.answered.elapsed() < JOIN_ANSWERED_WITHIN,
            Some(Err(_)) => false,
        };
        fresh
            && self
                .claimed
                .lock()
                .is_ok_and(|mut claimed| claimed.insert(member.to_string()))
    }
}

/// The environments on one Prometheus that are asked as one.
pub struct SharedGrid {
    api: PromApi,
    queries: FleetQueries,
    members: Vec<String>,
    current: Mutex<Option<Arc<Round>>>,
}

impl SharedGrid {
    /// `queries` are the grouped ones (`FleetQueries::grouped`), `members`
    /// the values of their label.
    pub fn new(api: PromApi, queries: FleetQueries, members: Vec<String>) -> SharedGrid {
        SharedGrid {
            api,
            queries,
            members,
            current: Mutex::new(None),
        }
    }

    pub fn queries(&self) -> &FleetQueries {
        &self.queries
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// `member`'s part of the current round, joining it or starting one.
    pub async fn answers_for(
        &self,
        member: &str,
        early: Option<EarlyAnswers>,
    ) -> Result<MemberAnswers, SourceError> {
        let round = {
            let mut current = self
                .current
                .lock()
                .map_err(|_| SourceError::new("the shared grid's state was poisoned"))?;
            match current.as_ref() {
                Some(round) if round.claim(member) => round.clone(),
                _ => {
                    let round = Arc::new(Round {
                        claimed: Mutex::new(HashSet::from([member.to_string()])),
                        early: Mutex::new(Vec::new()),
                        answer: tokio::sync::OnceCell::new(),
                    });
                    *current = Some(round.clone());
                    round
                }
            }
        };
        if let (Some(early), Ok(mut waiting)) = (early, round.early.lock()) {
            waiting.push((member.to_string(), early));
        }
        // If the member that started the round is cancelled (its poll timed
        // out), the next one waiting runs the requests.
        match round.answer.get_or_init(|| self.fetch(&round)).await {
            Err(e) => Err(e.clone()),
            Ok(answer) => {
                let answers = answer
                    .parts
                    .lock()
                    .ok()
                    .and_then(|mut parts| parts.remove(member))
                    .unwrap_or_default();
                Ok(MemberAnswers {
                    answers,
                    warnings: answer.warnings.clone(),
                    alerts: answer.alerts.clone(),
                })
            }
        }
    }

    async fn fetch(&self, round: &Round) -> Result<RoundAnswer, SourceError> {
        let (answers, alerts) = tokio::join!(
            super::ask_grid(&self.api, &self.queries, |first| self
                .offer_early(round, first)),
            self.api.recent_firing(&self.queries),
        );
        let label = self.queries.grouped_by().unwrap_or_default();
        let mut parts: HashMap<String, [Vec<Sample>; GRID_QUERIES]> = self
            .members
            .iter()
            .map(|m| (m.clone(), Default::default()))
            .collect();
        let mut warnings = Vec::new();
        let mut leases = Vec::new();
        for (index, answer) in answers.into_iter().enumerate() {
            let (answer, lease): (Answer, Option<Lease>) = answer?;
            leases.extend(lease);
            warnings.extend(answer.warnings.iter().cloned());
            for sample in answer.into_vector()? {
                // A series of another environment cannot match the regex;
                // one without the label is nobody's.
                let Some(part) = sample.labels.get(label).and_then(|v| parts.get_mut(v)) else {
                    continue;
                };
                part[index].push(sample);
            }
        }
        warnings.sort();
        warnings.dedup();
        Ok(RoundAnswer {
            parts: Mutex::new(parts),
            warnings,
            alerts,
            answered: Instant::now(),
            _leases: leases,
        })
    }
}

impl SharedGrid {
    /// Gives each member that waits for them its part of the answers that
    /// came first (the grid's but the failing requirements, which are left
    /// empty).
    fn offer_early(&self, round: &Round, first: [&super::Held; 5]) {
        let Ok(waiting) = round.early.lock() else {
            return;
        };
        if waiting.is_empty() {
            return;
        }
        let label = self.queries.grouped_by().unwrap_or_default();
        let mut parts: HashMap<&str, [Vec<Sample>; GRID_QUERIES]> = waiting
            .iter()
            .map(|(member, _)| (member.as_str(), Default::default()))
            .collect();
        for (index, answer) in [0, 2, 3, 4, 5].into_iter().zip(first) {
            let Ok((answer, _)) = answer else {
                return;
            };
            let super::wire::QueryData::Vector(samples) = &answer.data else {
                return;
            };
            for sample in samples {
                if let Some(part) = sample.labels.get(label).and_then(|v| parts.get_mut(v)) {
                    part[index].push(sample.clone());
                }
            }
        }
        for (member, early) in waiting.iter() {
            if let Some(part) = parts.remove(member.as_str()) {
                early(part);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn selectors_that_differ_in_one_label_share_it() {
        let prod = [
            m("env", MatchOp::Equal, "prod"),
            m("team", MatchOp::Equal, "web"),
        ];
        let test = [
            m("team", MatchOp::Equal, "web"),
            m("env", MatchOp::Equal, "test"),
        ];
        let shared = shared_selector(&[&prod, &test]).unwrap();
        assert_eq!(shared.label, "env");
        assert_eq!(shared.common, vec![m("team", MatchOp::Equal, "web")]);
        assert_eq!(shared.values, vec!["prod".to_string(), "test".to_string()]);
    }

    #[test]
    fn selectors_that_cannot_be_asked_as_one_are_not() {
        let prod = [m("env", MatchOp::Equal, "prod")];
        let regex = [m("env", MatchOp::Regex, "te.*")];
        let other = [
            m("env", MatchOp::Equal, "test"),
            m("team", MatchOp::Equal, "x"),
        ];
        let same = [m("env", MatchOp::Equal, "prod")];
        let none: [Matcher; 0] = [];
        assert_eq!(shared_selector(&[&prod]), None, "one alone");
        assert_eq!(shared_selector(&[&prod, &regex]), None, "a regex");
        assert_eq!(shared_selector(&[&prod, &other]), None, "two labels differ");
        assert_eq!(shared_selector(&[&prod, &same]), None, "the same value");
        assert_eq!(shared_selector(&[&prod, &none]), None, "no selector");
        let twice = [m("env", MatchOp::Equal, "a"), m("env", MatchOp::Equal, "b")];
        assert_eq!(shared_selector(&[&twice, &prod]), None, "a label twice");
    }
}
