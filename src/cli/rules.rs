//! Loading rules for the commands that classify.

use std::path::PathBuf;

use mxrules::classify::Classifier;
use mxrules::compile::{self, Options};
use mxrules::diag::{self, Severity};

use super::{Color, Exit, fail, print_stderr};

/// Where the rules come from, shared by the classifying commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Rules files or directories.
    #[arg(long = "rules", short = 'r', value_name = "PATH", default_values_os_t = super::default_rules())]
    pub rules: Vec<PathBuf>,
    /// The most bytes one DFA may take; bigger scopes are split into several DFAs.
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().dfa_size_limit)]
    pub dfa_size_limit: usize,
}

impl RulesArgs {
    pub fn options(&self) -> Options {
        Options {
            dfa_size_limit: self.dfa_size_limit,
        }
    }

    /// Parses, checks and compiles the rules; prints the errors if they do
    /// not compile.
    pub fn classifier(&self, color: Color) -> Result<(Classifier, compile::Stats), Exit> {
        let parsed = mxrules::load::parse_paths(&self.rules).map_err(fail)?;
        let checked = mxrules::check::check(&parsed);
        let Some(rules) = checked.rules else {
            let errors: Vec<_> = checked
                .diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            print_stderr(&diag::render_human(
                &errors,
                &parsed.sources,
                color.for_stderr(),
            ));
            return Err(fail(format!(
                "the rules have {} errors; run `mxrules check` for details",
                errors.len()
            )));
        };
        match compile::compile(rules, &self.options()) {
            Ok((tables, stats)) => Ok((Classifier::from_tables(tables), stats)),
            Err(diags) => {
                print_stderr(&diag::render_human(
                    &diags,
                    &parsed.sources,
                    color.for_stderr(),
                ));
                Err(fail("the rules do not compile"))
            }
        }
    }
}
