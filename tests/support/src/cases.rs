//! Tables of cases: every case runs, then one failure lists each case that
//! failed by name, with what its assertion said. A table whose first bad
//! row hides the others tells half the story.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A row of a table.
pub trait Case {
    /// What names the case in a failure.
    fn name(&self) -> String;
}

/// Runs `check` on each case (a case fails when one of its assertions
/// panics), then panics once naming every case that failed.
pub fn check_cases<C: Case>(cases: impl IntoIterator<Item = C>, check: impl Fn(&C)) {
    let mut failures = Vec::new();
    let mut count = 0;
    for case in cases {
        count += 1;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&case))) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(a panic without a message)");
            failures.push(format!("case {}: {message}", case.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        what: &'static str,
        ok: bool,
    }

    impl Case for Row {
        fn name(&self) -> String {
            self.what.to_string()
        }
    }

    #[test]
    fn one_failure_names_every_failed_case() {
        let rows = [
            Row {
                what: "first",
                ok: false,
            },
            Row {
                what: "second",
                ok: true,
            },
            Row {
                what: "third",
                ok: false,
            },
        ];
        let panic = catch_unwind(|| check_cases(rows, |row| assert!(row.ok, "not ok")))
            .expect_err("two rows fail");
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert!(message.starts_with("2 of 3 cases failed"), "{message}");
        assert!(message.contains("case first: not ok"), "{message}");
        assert!(message.contains("case third: not ok"), "{message}");
        assert!(!message.contains("second"), "{message}");
    }
}
