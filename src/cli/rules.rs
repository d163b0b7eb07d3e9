//! Loading rules for the commands that classify.

use std::path::PathBuf;

use mxrules::compile::{self, Options};
use mxrules::core::text::counted;
use mxrules::diag::{self, Severity};
use mxrules::runtime::artifact::{self, AlignedBytes};
use mxrules::runtime::classify::Classifier;
pub use mxrules::runtime::engine::Engine;

use super::{Color, Exit, fail, print_stderr, rules_failed};

/// Rules compiled from source, or the bytes of a compiled file.
pub enum Loaded {
    Compiled(Box<Classifier>),
    Artifact(AlignedBytes),
}

impl Loaded {
    /// Runs `f` with the classifier; a compiled file is verified first.
    pub fn with<R>(&self, f: impl FnOnce(&dyn Engine) -> R) -> Result<R, Exit> {
        self.with_engine(None, f)
    }

    /// As [`Loaded::with`]; a damaged compiled file is named `name` in the
    /// message.
    pub fn with_named<R>(&self, name: &str, f: impl FnOnce(&dyn Engine) -> R) -> Result<R, Exit> {
        self.with_engine(Some(name), f)
    }

    fn with_engine<R>(
        &self,
        name: Option<&str>,
        f: impl FnOnce(&dyn Engine) -> R,
    ) -> Result<R, Exit> {
        match self {
            Loaded::Compiled(c) => Ok(f(c.as_ref())),
            Loaded::Artifact(bytes) => match artifact::load(bytes.as_slice()) {
                Ok(tables) => Ok(f(&Classifier::from_tables(tables))),
                Err(e) => Err(match name {
                    Some(name) => fail(format!("cannot load `{name}`: {e}")),
                    None => fail(e),
                }),
            },
        }
    }
}

/// Where the rules come from, shared by the classifying commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Rules files or directories, or one compiled file (`mxrules compile -o`).
    #[arg(long = "rules", short = 'r', value_name = "PATH", default_values_os_t = super::default_rules())]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub limit: DfaLimit,
}

/// The size cap of the DFAs compiled.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct DfaLimit {
    /// The most bytes the DFA of one rule may take (rules that are literals,
    /// or literal pieces, need none); a rule whose DFA would be bigger is an
    /// error (E015).
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().dfa_size_limit)]
    pub dfa_size_limit: usize,
}

impl DfaLimit {
    /// The compiler's options.
    pub fn options(self) -> Options {
        Options {
            dfa_size_limit: self.dfa_size_limit,
            ..Options::default()
        }
    }
}

impl RulesArgs {
    /// The rules: a compiled file when `--rules` names one, else the source
    /// compiled now.
    pub fn load(&self, color: Color) -> Result<Loaded, Exit> {
        if let [path] = self.rules.as_slice()
            && path.is_file()
        {
            let mut head = [0u8; 8];
            let is_artifact = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && artifact::looks_like_artifact(&head);
            if is_artifact {
                return AlignedBytes::read(path).map(Loaded::Artifact).map_err(|e| {
                    fail(format!(
                        "cannot load `{}`: {e}",
                        mxrules::core::source::display_name(path)
                    ))
                });
            }
        }
        self.classifier(color)
            .map(|(c, _)| Loaded::Compiled(Box::new(c)))
    }

    /// Parses, checks and compiles the rules; prints the errors if they do
    /// not compile.
    pub fn classifier(&self, color: Color) -> Result<(Classifier, compile::Stats), Exit> {
        let parsed = mxrules::syntax::load::parse_paths(&self.rules).map_err(fail)?;
        compile_parsed(&parsed, None, &self.limit.options(), color)
    }
}

/// Checks and compiles parsed rules; prints the errors if they do not
/// compile (exit 1). `what` names the rule set in the message (a git
/// revision, …).
pub fn compile_parsed(
    parsed: &mxrules::syntax::load::Parsed,
    what: Option<&str>,
    opts: &Options,
    color: Color,
) -> Result<(Classifier, compile::Stats), Exit> {
    let checked = mxrules::check::check_all(
        parsed,
        &mxrules::check::Options {
            analysis: None,
            compile: opts.clone(),
            ..Default::default()
        },
    );
    if let Some(c) = checked.compiled {
        return Ok((c.classifier, c.stats));
    }
    let the_rules = what.map_or_else(
        || String::from("the rules"),
        |w| format!("the rules of `{w}`"),
    );
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
    if checked.rules.is_some() {
        return Err(rules_failed(format!("{the_rules} do not compile")));
    }
    let hint = if what.is_none() {
        "; run `mxrules check` for details"
    } else {
        ""
    };
    Err(rules_failed(format!(
        "{the_rules} have {}{hint}",
        counted(errors.len(), "error", "errors")
    )))
}
