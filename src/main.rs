//! The `cwfy` command.

/// mimalloc: a build allocates and frees millions of small strings on every core, and glibc's
/// allocator spent about a fifth of a build's time in its own bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its place in `mi_option_t`, `mimalloc.h`): how long
/// freed memory is kept before it is handed back to the OS; -1 keeps it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // A build frees and allocates page-sized strings on every core for its whole run. Handing
    // freed memory back (after 1 s by default) made the threads fault it in again, zeroed 2 MB
    // at a time. At 10 M requests, alternating runs: render 23.0–29.0 s (median 24.8, five
    // runs) without handing back, 25.8–41.0 s (median 29.2, four) with it, for a peak of 600 MiB
    // instead of 400–500 MiB. MIMALLOC_PURGE_DELAY still wins.
    // SAFETY: called before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, -1) };
    cwfy::cli::main()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_mimallocs_and_takes_the_value() {
        // The option after purge_delay in v3's list is use_numa_nodes (0 by default); purge_delay
        // itself defaults to 1000 ms. A renumbered enum would fail one of these.
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(super::MI_OPTION_PURGE_DELAY), 1000);
        }
        assert_eq!(get(super::MI_OPTION_PURGE_DELAY + 1), 0);
        unsafe { libmimalloc_sys::mi_option_set_default(super::MI_OPTION_PURGE_DELAY, -1) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(super::MI_OPTION_PURGE_DELAY), -1);
        }
    }
}
