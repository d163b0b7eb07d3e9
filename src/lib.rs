//! mxrules: a per-ISP quarantine rule compiler.
//!
//! Deliverability engineers write rules that say, for one receiving mail
//! provider, what a bounce really means. mxrules parses them
//! ([`syntax`]), checks them ([`check`]) and formats them ([`fmt`]).
//!
//! Data flows one way: source text → [`ast`] → [`model::RuleSet`] →
//! compiled tables → verdicts. Only [`syntax`] knows about the parser
//! generator.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("example.rules", r#"
//! policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }
//! mx ends with ".mail.ru" {
//!     initial 5.0.0 {
//!         /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1
//!     }
//! }"#);
//! let checked = mxrules::check::check(&parsed);
//! let rules = checked.rules.unwrap();
//! let rule = &rules.rules[0];
//! assert_eq!(rules.rule_verdict(rule).as_str(), "quarantine");
//! assert_eq!(rule.location(), "example.rules:5");
//! ```

pub mod check;
pub mod compile;
pub mod core;
pub mod diag;
pub mod input;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod runtime;
pub mod syntax;
pub mod verify;
