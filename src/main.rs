//! The `cwfy` command.

fn main() -> std::process::ExitCode {
    cwfy::cli::main()
}
