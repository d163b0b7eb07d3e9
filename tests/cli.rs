//! Tests of the `mxrules` binary: exit codes, what goes to standard output
//! and standard error, and the files `fmt` writes. The binary runs in the
//! crate root with relative paths, as in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a run of the binary ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxrules"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn finish(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `mxrules <args>`.
fn mxrules(args: &[&str]) -> Run {
    finish(command(args).output().expect("cannot run mxrules"))
}

/// Runs `mxrules <args>` with `input` on standard input.
fn mxrules_stdin(args: &[&str], input: &str) -> Run {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("cannot run mxrules");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    finish(child.wait_with_output().unwrap())
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, value);
    });
}

/// A fresh directory under the system's temporary directory, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mxrules-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn has_ansi(s: &str) -> bool {
    s.contains('\x1b')
}

const FIVE: &str = "tests/cases/five_mistakes.rules";
const WARNING_ONLY: &str = "tests/cases/W002.rules";

// ---------------------------------------------------------------------------
// check

#[test]
fn check_default_rules_dir_is_clean() {
    let r = mxrules(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let summary =
        regex::Regex::new(r"\Achecked \d+ files, \d+ rules: 0 errors, 0 warnings\n\z").unwrap();
    assert!(summary.is_match(&r.stderr), "{}", r.stderr);
    // The same as naming the directory.
    let named = mxrules(&["check", "rules.d"]);
    assert_eq!((named.code, named.stderr), (0, r.stderr));
}

#[test]
fn check_five_mistakes() {
    let r = mxrules(&["--color", "never", "check", FIVE]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.matches("error[").count(), 5);
    for code in ["E002", "E003", "E004", "E005", "E006"] {
        assert_eq!(
            r.stderr.matches(&format!("error[{code}]: ")).count(),
            1,
            "{code}"
        );
    }
    let locations: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .collect();
    assert_eq!(
        locations,
        [
            "tests/cases/five_mistakes.rules:12:19",
            "tests/cases/five_mistakes.rules:14:80",
            "tests/cases/five_mistakes.rules:20:49",
            "tests/cases/five_mistakes.rules:23:21",
            "tests/cases/five_mistakes.rules:28:14",
        ]
    );
    // One caret line per diagnostic.
    let carets = r
        .stderr
        .lines()
        .filter(|l| {
            l.split_once('|').is_some_and(|(gutter, rest)| {
                gutter.trim().is_empty() && rest.trim_start().starts_with('^')
            })
        })
        .count();
    assert_eq!(carets, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .ends_with("\nchecked 1 file: 5 errors, 0 warnings\n")
    );
    assert!(!has_ansi(&r.stderr));
    snapshot("cli__five_mistakes", &r.stderr);
}

#[test]
fn check_json() {
    let r = mxrules(&["check", "--format", "json", FIVE]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "", "JSON mode prints nothing else");
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(r.stdout.ends_with('\n'));
    let got: Vec<(String, u64, u64)> = lines
        .iter()
        .map(|v| {
            assert!(v.is_object());
            assert_eq!(v["file"], FIVE);
            assert_eq!(v["severity"], "error");
            (
                v["code"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
                v["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("E002".to_string(), 12, 19),
            ("E003".to_string(), 14, 80),
            ("E004".to_string(), 20, 49),
            ("E006".to_string(), 23, 21),
            ("E005".to_string(), 28, 14),
        ]
    );
    assert_eq!(lines[4]["related"][0]["line"], 10);
}

#[test]
fn check_json_of_clean_rules_is_empty() {
    let r = mxrules(&["check", "--format", "json"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

#[test]
fn a_warning_passes_unless_denied() {
    let r = mxrules(&["--color", "never", "check", WARNING_ONLY]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .starts_with("warning[W002]: scope block holds no rules\n")
    );
    assert!(
        r.stderr
            .ends_with("\nchecked 1 file, 0 rules: 0 errors, 1 warning\n")
    );

    for flag in ["--deny-warnings", "-D"] {
        let r = mxrules(&["--color", "never", "check", flag, WARNING_ONLY]);
        assert_eq!(r.code, 1, "{flag}");
        assert!(
            r.stderr
                .starts_with("error[W002]: scope block holds no rules\n"),
            "{flag}"
        );
        assert!(
            r.stderr
                .ends_with("\nchecked 1 file: 1 error, 0 warnings\n"),
            "{flag}"
        );
    }
}

#[test]
fn allow_switches_a_warning_off() {
    for allow in ["W002", "w002", "empty_block"] {
        for extra in [&[][..], &["--deny-warnings"][..]] {
            let mut args = vec!["check", "--allow", allow];
            args.extend_from_slice(extra);
            args.push(WARNING_ONLY);
            let r = mxrules(&args);
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            assert_eq!(
                r.stderr, "checked 1 file, 0 rules: 0 errors, 0 warnings\n",
                "{args:?}"
            );
        }
    }
    let r = mxrules(&["check", "-A", "W002", "-A", "W004", WARNING_ONLY]);
    assert_eq!(r.code, 0);
    // Another warning's name leaves this one.
    let r = mxrules(&["check", "--allow", "policy_gap", WARNING_ONLY]);
    assert!(r.stderr.contains("warning[W002]"));
}

#[test]
fn an_error_cannot_be_allowed() {
    let r = mxrules(&["check", "--allow", "E001", FIVE]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "error: `E001` is an error (E001), it cannot be allowed\n"
    );
    let r = mxrules(&["check", "--allow", "invalid_regex", FIVE]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: `invalid_regex` is an error (E002), it cannot be allowed\n"
    );
    let r = mxrules(&["check", "--allow", "W999", FIVE]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr, "error: `W999` is not a warning code or name\n");
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let r = mxrules(&["check", "tests/cases/no_such_file.rules"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .starts_with("error: cannot read `tests/cases/no_such_file.rules`: "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);
    // Even when another path is fine.
    let r = mxrules(&["check", WARNING_ONLY, "no/such/dir"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: cannot read `no/such/dir`: "));
}

#[test]
fn usage_errors() {
    let r = mxrules(&["check", "--frobnicate"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unexpected argument '--frobnicate'"),
        "{}",
        r.stderr
    );
    let r = mxrules(&["check", "--format", "xml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid value 'xml'"), "{}", r.stderr);
    let r = mxrules(&["frobnicate"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        r.stderr
    );
    let r = mxrules(&[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Usage: mxrules"), "{}", r.stderr);
}

#[test]
fn help_and_version() {
    let r = mxrules(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Usage: mxrules"));
    assert!(r.stdout.contains("check"));
    assert!(r.stdout.contains("fmt"));
    let r = mxrules(&["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, format!("mxrules {}\n", env!("CARGO_PKG_VERSION")));
}

/// One rule is counted in the singular.
#[test]
fn summary_counts_one_rule() {
    let r = mxrules(&["check", "tests/cases/W004.rules"]);
    assert!(
        r.stderr
            .ends_with("checked 1 file, 1 rule: 0 errors, 1 warning\n"),
        "{}",
        r.stderr
    );
}

/// Every command that loads rules exits 1 on rules with errors, with the
/// diagnostic and a count in the singular.
#[test]
fn broken_rules_exit_1_from_every_command() {
    const BROKEN: &str = "tests/cases/E002.rules";
    let message = "error: the rules have 1 error; run `mxrules check` for details\n";
    let commands: [&[&str]; 6] = [
        &["compile", BROKEN],
        &["classify", "--rules", BROKEN, "-"],
        &["explain", "--rules", BROKEN, "550 no"],
        &["test", "--rules", BROKEN, "tests/verify/replies.yaml"],
        &[
            "diff",
            BROKEN,
            "tests/verify/new",
            "--corpus",
            "tests/verify/replies.yaml",
        ],
        &["report", "--rules", BROKEN, "-"],
    ];
    for args in commands {
        let args = [&["--color", "never"], args].concat();
        let r = mxrules(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(
            r.stderr.starts_with("error[E002]: invalid regex"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.ends_with(message), "{args:?}: {}", r.stderr);
    }
    let r = mxrules(&["--color", "never", "check", BROKEN]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error[E002]: invalid regex"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .ends_with("\nchecked 1 file: 1 error, 0 warnings\n"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------
// Colour

#[test]
fn colour_only_when_asked() {
    let never = mxrules(&["--color", "never", "check", FIVE]);
    let always = mxrules(&["--color", "always", "check", FIVE]);
    let auto = mxrules(&["check", FIVE]);
    assert!(!has_ansi(&never.stderr));
    assert!(has_ansi(&always.stderr));
    assert!(
        !has_ansi(&auto.stderr),
        "standard error is a pipe, not a terminal"
    );
    let strip = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    assert_eq!(strip.replace_all(&always.stderr, ""), never.stderr);
    assert_eq!(auto.stderr, never.stderr);
    // The flag is global: it may come after the subcommand too.
    let after = mxrules(&["check", "--color", "always", FIVE]);
    assert_eq!(after.stderr, always.stderr);
}

// ---------------------------------------------------------------------------
// fmt

#[test]
fn fmt_check_of_rules_d_passes() {
    let r = mxrules(&["fmt", "--check", "rules.d"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let r = mxrules(&["fmt", "--check"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

const MESSY: &str = r#"# Yandex, written in a hurry.
policy{5.1.1->quarantine 5.*.*->hard 4.*.*->soft}
mx ends with".yandex.net"or rcpt domain is"yandex.ru","ya.ru"{initial 5.7.1,5.*.*{/^550 5\.7\.1 No such user!/->5.1.1 quarantine bad-mailbox example"550 5.7.1 No such user!"}
/^451 4\.7\.1 Sorry, the service is currently unavailable/i->4.7.1 soft"greylisting"}
"#;

const TIDY: &str = r#"# Yandex, written in a hurry.
policy {
    5.1.1 -> quarantine
    5.*.* -> hard
    4.*.* -> soft
}

mx ends with ".yandex.net" or rcpt domain is "yandex.ru", "ya.ru" {
    initial 5.7.1, 5.*.* {
        /^550 5\.7\.1 No such user!/ -> 5.1.1 quarantine bad-mailbox
            example "550 5.7.1 No such user!"
    }
    /^451 4\.7\.1 Sorry, the service is currently unavailable/i -> 4.7.1 soft "greylisting"
}
"#;

#[test]
fn fmt_rewrites_an_unformatted_file() {
    let dir = TempDir::new("fmt");
    let file = dir.path().join("yandex.rules");
    std::fs::write(&file, MESSY).unwrap();
    let name = file.to_str().unwrap();

    let r = mxrules(&["fmt", "--check", name]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        format!("{name} is not formatted\n1 of 1 files would be reformatted; run `mxrules fmt`\n")
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        MESSY,
        "--check changes nothing"
    );

    let r = mxrules(&["fmt", name]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["yandex.rules"], "no temporary file left behind");

    let r = mxrules(&["fmt", "--check", name]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // The directory form finds the same file.
    let r = mxrules(&["fmt", "--check", dir.path().to_str().unwrap()]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // And the formatted file checks clean.
    let r = mxrules(&["check", name]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn fmt_check_names_every_unformatted_file() {
    let dir = TempDir::new("fmt-dir");
    std::fs::write(dir.path().join("a.rules"), MESSY).unwrap();
    std::fs::write(dir.path().join("b.rules"), TIDY).unwrap();
    std::fs::write(dir.path().join("c.rules"), MESSY).unwrap();
    std::fs::write(dir.path().join("notes.txt"), MESSY).unwrap();
    let d = dir.path().to_str().unwrap();
    let r = mxrules(&["fmt", "--check", d]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        format!(
            "{d}/a.rules is not formatted\n{d}/c.rules is not formatted\n2 of 3 files would be reformatted; run `mxrules fmt`\n"
        )
    );
}

#[test]
fn fmt_stdin_to_stdout() {
    let r = mxrules_stdin(&["fmt", "-"], MESSY);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(r.stdout, TIDY);
    let r = mxrules_stdin(&["fmt", "-"], TIDY);
    assert_eq!(r.stdout, TIDY, "idempotent");
    let r = mxrules_stdin(&["fmt", "-"], "");
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));

    let r = mxrules_stdin(&["fmt", "--check", "-"], MESSY);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert_eq!(r.stderr, "<stdin> is not formatted\n");
    let r = mxrules_stdin(&["fmt", "--check", "-"], TIDY);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

#[test]
fn fmt_of_a_syntax_error() {
    let r = mxrules_stdin(&["--color", "never", "fmt", "-"], "global { /^550 / -> }\n");
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.starts_with(
            "error[E001]: expected a status like `5.1.1`, found `}`\n --> <stdin>:1:21\n"
        ),
        "{}",
        r.stderr
    );
    let r = mxrules(&["fmt", "--check", "tests/cases/E011.rules"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: `tests/cases/E011.rules` is not valid UTF-8; run `mxrules check` for where\n"
    );
}
