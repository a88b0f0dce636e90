//! The daemon's allocator settings: glibc gives every thread that allocates an arena of its
//! own (up to eight per CPU), and the memory a thread freed stays in its arena. The daemon's
//! threads (control socket, logging, output files, journal) each kept megabytes that the
//! actors' thread could not reuse; one arena for all of them costs a lock the threads rarely
//! contend for.

/// Makes every thread allocate from one glibc arena. Call it before the first thread starts;
/// elsewhere than glibc it does nothing.
pub fn share_one_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes the allocator's parameters; M_ARENA_MAX takes a count and
    // reads no memory of ours. It returns 0 on failure, and then glibc's default stays.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the free memory inside the heap to the system (what a start of thousands of
/// components used for a moment stays in holes between what they keep). Walks the heap once:
/// call it after a burst, never per event.
pub fn give_back_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free pages of the allocator's own heap (madvise); it
    // takes a size and touches no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
