//! `mxrules explain`: how one reply is classified, step by step.

use clap::ValueEnum;
use mxrules::core::bounce::Bounce;
use mxrules::core::status::Status;
use mxrules::core::text::or_none;

use super::rules::RulesArgs;
use super::{Color, Exit, fail, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// The receiving MX host.
    #[arg(long)]
    mx: Option<String>,
    /// The recipient address.
    #[arg(long)]
    rcpt: Option<String>,
    /// A status reported next to the reply (DSN `Status:`).
    #[arg(long)]
    status: Option<String>,
    /// The category the MTA reported (PowerMTA `bounceCat`), such as `policy-related`.
    #[arg(long)]
    reported: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// The SMTP reply.
    reply: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: Args, color: Color) -> Exit {
    let status = match args.status.as_deref().map(str::parse::<Status>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return fail(format!("invalid `--status`: {e}")),
    };
    let reported_category = match args.reported.as_deref() {
        None => None,
        Some(w) => match mxrules::core::status::Category::from_word(w) {
            Some(c) => Some(c),
            None => return fail(format!("`{w}` is not a category")),
        },
    };
    let loaded = match args.rules.load(color) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let bounce = Bounce {
        mx: args.mx,
        rcpt: args.rcpt,
        reply: args.reply,
        status,
        reported_category,
    };
    let e = match loaded.with(|c| c.explain(&bounce)) {
        Ok(e) => e,
        Err(exit) => return exit,
    };
    let out = match args.format {
        Format::Json => match serde_json::to_string_pretty(&e) {
            Ok(s) => s + "\n",
            Err(err) => return fail(err),
        },
        Format::Human => {
            let mut o = String::new();
            o.push_str(&format!("reply:          {}\n", e.normalized_reply));
            o.push_str(&format!(
                "reply code:     {}\n",
                or_none(e.reply_code.as_ref())
            ));
            o.push_str(&format!(
                "enhanced code:  {}\n",
                or_none(e.enhanced_status.as_ref())
            ));
            o.push_str(&format!(
                "initial status: {}\n",
                or_none(e.initial_status.as_ref())
            ));
            o.push_str(&format!("mx host:        {}\n", or_none(e.mx.as_ref())));
            o.push_str(&format!(
                "rcpt domain:    {}\n",
                or_none(e.rcpt_domain.as_ref())
            ));
            o.push_str("\nscopes tried, in order:\n");
            if e.scopes.is_empty() {
                o.push_str("  (no scope applies)\n");
            }
            let mut fired = false;
            for (i, s) in e.scopes.iter().enumerate() {
                o.push_str(&format!("  {}. {} ({})\n", i + 1, s.scope, s.reason));
                if s.matching_rules.is_empty() {
                    o.push_str("       no rule matches\n");
                }
                for r in &s.matching_rules {
                    let tag = if fired { "next " } else { "fires" };
                    fired = true;
                    o.push_str(&format!(
                        "       {tag}  {}  {} -> {} {}\n",
                        r.rule, r.regex, r.status, r.verdict
                    ));
                }
            }
            let r = &e.result;
            o.push('\n');
            match &r.rule {
                Some(rule) => o.push_str(&format!(
                    "result: {} {} by {}\n",
                    or_none(r.status.as_ref()),
                    r.verdict,
                    rule
                )),
                None => o.push_str(&format!(
                    "result: {} {} (unmatched: the policy decides from the initial status)\n",
                    or_none(r.status.as_ref()),
                    r.verdict
                )),
            }
            o
        }
    };
    match print_stdout(&out) {
        Ok(()) => Exit::Success,
        Err(err) => fail(err),
    }
}
