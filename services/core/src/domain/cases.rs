//! `cases.csv`, the per-case values an evaluation image may write beside `score.json`
//! (evaluation contract v2, `docs/evaluation-contract.md`): one line per test case and split,
//! the value of the ranking metric on that case. They never leave the platform; the Ladder and
//! the confidence intervals are computed from them.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::ladder::{CaseValues, LadderError};

/// The largest `cases.csv` read.
pub const MAX_CASES_BYTES: usize = 16 << 20;
/// The most lines (cases of both splits) a `cases.csv` may hold.
pub const MAX_CASES: usize = 1_000_000;
/// The longest case id, in characters.
pub const MAX_CASE_ID_CHARS: usize = 200;
/// The first line of every `cases.csv`.
pub const CASES_HEADER: &str = "split,case_id,value";

/// The half of the hidden test set a value was computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Scored for feedback while the phase is open.
    Public,
    /// Sealed until the reveal; ranks the final board.
    Private,
}

impl Split {
    /// The word, as in `cases.csv` and `score.json`: `public`, `private`.
    pub fn label(self) -> &'static str {
        match self {
            Split::Public => "public",
            Split::Private => "private",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One test case's value of the ranking metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub value: f64,
}

/// The per-case values of one evaluated submission, in the order the evaluation wrote them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cases {
    pub public: Vec<Case>,
    pub private: Vec<Case>,
}

impl Cases {
    pub fn split(&self, split: Split) -> &[Case] {
        match split {
            Split::Public => &self.public,
            Split::Private => &self.private,
        }
    }

    /// The mean value of a split's cases; `None` when it has none.
    pub fn mean(&self, split: Split) -> Option<f64> {
        let cases = self.split(split);
        (!cases.is_empty()).then(|| cases.iter().map(|c| c.value).sum::<f64>() / cases.len() as f64)
    }

    /// A split's cases as the Ladder and the intervals take them (sorted by id, checked): the one
    /// place the stored cases become [`CaseValues`].
    pub fn values(&self, split: Split) -> Result<CaseValues, LadderError> {
        CaseValues::new(self.split(split).iter().map(|c| (c.id.clone(), c.value)))
    }

    /// Parses `cases.csv`: the header `split,case_id,value`, then one line per case; the split is
    /// `public` or `private`, the case id non-empty, at most 200 characters and unique within its
    /// split, the value a finite number. No quoting: a case id holds no comma.
    pub fn from_cases_csv(bytes: &[u8]) -> Result<Cases, CasesError> {
        if bytes.len() > MAX_CASES_BYTES {
            return Err(CasesError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| CasesError::NotText)?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        if header != CASES_HEADER {
            return Err(CasesError::Header(header.chars().take(80).collect()));
        }
        let mut cases = Cases::default();
        let mut seen: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
        for (i, line) in lines.enumerate() {
            let line_no = i + 2;
            if i >= MAX_CASES {
                return Err(CasesError::TooManyRows);
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let &[split, id, value] = fields.as_slice() else {
                return Err(CasesError::Fields { line: line_no, found: fields.len() });
            };
            let split = match split {
                "public" => Split::Public,
                "private" => Split::Private,
                other => return Err(CasesError::UnknownSplit { line: line_no, split: clip(other) }),
            };
            if id.is_empty() {
                return Err(CasesError::EmptyId(line_no));
            }
            if id.chars().count() > MAX_CASE_ID_CHARS {
                return Err(CasesError::LongId(line_no));
            }
            let number: f64 =
                value.parse().map_err(|_| CasesError::NotANumber { line: line_no, value: clip(value) })?;
            if !number.is_finite() {
                return Err(CasesError::NotFinite { line: line_no, value: clip(value) });
            }
            if !seen[split as usize].insert(id) {
                return Err(CasesError::Duplicate { line: line_no, id: clip(id), split });
            }
            let case = Case { id: id.to_owned(), value: number };
            match split {
                Split::Public => cases.public.push(case),
                Split::Private => cases.private.push(case),
            }
        }
        Ok(cases)
    }
}

/// At most 80 characters of what an evaluation wrote, for a message.
fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Why a `cases.csv` was refused. The text is for the organizer, whose evaluation image wrote it.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error("cases.csv is {0} bytes; at most {MAX_CASES_BYTES} (16 MiB) are read")]
    TooLarge(usize),
    #[error("cases.csv has more than {MAX_CASES} cases")]
    TooManyRows,
    #[error("cases.csv is not UTF-8 text")]
    NotText,
    #[error("cases.csv must start with the header '{CASES_HEADER}', not '{0}'")]
    Header(String),
    #[error("cases.csv line {line}: expected 3 fields '{CASES_HEADER}', found {found}")]
    Fields { line: usize, found: usize },
    #[error("cases.csv line {line}: split '{split}' is neither 'public' nor 'private'")]
    UnknownSplit { line: usize, split: String },
    #[error("cases.csv line {0}: the case id is empty")]
    EmptyId(usize),
    #[error("cases.csv line {0}: the case id is longer than {MAX_CASE_ID_CHARS} characters")]
    LongId(usize),
    #[error("cases.csv line {line}: value '{value}' is not a number")]
    NotANumber { line: usize, value: String },
    #[error("cases.csv line {line}: value '{value}' is not finite")]
    NotFinite { line: usize, value: String },
    #[error("cases.csv line {line}: case '{id}' is listed twice in the {split} split")]
    Duplicate { line: usize, id: String, split: Split },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_splits_in_order() {
        let csv = "split,case_id,value\r\npublic,a,1\nprivate,a,0\npublic, b ,0.5\n";
        let cases = Cases::from_cases_csv(csv.as_bytes()).unwrap();
        assert_eq!(cases.public, vec![Case { id: "a".into(), value: 1.0 }, Case { id: "b".into(), value: 0.5 }]);
        assert_eq!(cases.private, vec![Case { id: "a".into(), value: 0.0 }]);
        assert_eq!((cases.mean(Split::Public), cases.mean(Split::Private)), (Some(0.75), Some(0.0)));
        let empty = Cases::from_cases_csv(b"split,case_id,value\n").unwrap();
        assert_eq!(empty.mean(Split::Public), None);
        let values = cases.values(Split::Public).unwrap();
        assert_eq!(
            (values.ids(), values.values(), values.mean()),
            (&["a".to_owned(), "b".to_owned()][..], &[1.0, 0.5][..], 0.75)
        );
        assert!(cases.values(Split::Private).is_err(), "one case is too few for the Ladder");
    }

    #[test]
    fn every_rule_names_the_line_and_the_problem() {
        let long = "x".repeat(201);
        for (body, says) in [
            ("case_id,value\na,1\n", "must start with the header 'split,case_id,value', not 'case_id,value'"),
            ("", "must start with the header"),
            ("split,case_id,value\npublic,1\n", "line 2: expected 3 fields 'split,case_id,value', found 2"),
            ("split,case_id,value\npublic,a,1,2\n", "line 2: expected 3 fields"),
            ("split,case_id,value\npublic,a,1\npublic,b,high\n", "line 3: value 'high' is not a number"),
            ("split,case_id,value\npublic,a,NaN\n", "line 2: value 'NaN' is not finite"),
            ("split,case_id,value\npublic,a,inf\n", "not finite"),
            ("split,case_id,value\ntest,a,1\n", "line 2: split 'test' is neither 'public' nor 'private'"),
            ("split,case_id,value\npublic,,1\n", "line 2: the case id is empty"),
            (&format!("split,case_id,value\npublic,{long},1\n"), "longer than 200 characters"),
            (
                "split,case_id,value\npublic,a,1\nprivate,a,1\npublic,a,0\n",
                "line 4: case 'a' is listed twice in the public split",
            ),
        ] {
            let e = Cases::from_cases_csv(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(says), "{body:?}: {e}");
        }
        assert!(matches!(Cases::from_cases_csv(&[0xff, 0xfe]), Err(CasesError::NotText)));
    }

    #[test]
    fn size_and_rows_are_bounded() {
        let big = vec![b'a'; MAX_CASES_BYTES + 1];
        assert!(Cases::from_cases_csv(&big).unwrap_err().to_string().contains("at most 16777216 (16 MiB)"));
        let mut many = String::from("split,case_id,value\n");
        for i in 0..=MAX_CASES {
            many.push_str(&format!("public,{i},1\n"));
        }
        assert!(many.len() <= MAX_CASES_BYTES);
        let e = Cases::from_cases_csv(many.as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "cases.csv has more than 1000000 cases");
    }
}
