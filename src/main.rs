//! The `mxrules` command line. `main` is thin: it parses the arguments, runs
//! one subcommand and turns its outcome into an exit code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
