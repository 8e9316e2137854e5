//! The `cwfy` command.

/// mimalloc: a build allocates and frees millions of small strings on every core, and glibc's
/// allocator spent about a fifth of a build's time in its own bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cwfy::cli::main()
}
