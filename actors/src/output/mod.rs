//! Component output: the daemon reads each captured pipe to its end, splits it into lines and
//! sends each line to the daemon's log (`component_output`) and to the component's file.
//!
//! Reading runs on the actor thread as async tasks, one per pipe, independent of the component
//! actor so that a restart never cuts a pipe short; a reader holds at most one read
//! ([`READ_CHUNK`]) and one partial line ([`lines::MAX_LINE`]) at a time. Files are written by one
//! thread behind a queue bounded in lines and in bytes ([`QUEUE_BYTES`]): with
//! `overflow="block"` a full queue stops the reading and the child is held back by its full
//! pipe; with `overflow="drop"` lines are dropped and counted (lines and bytes).

pub mod dates;
mod failing;
mod files;
mod gate;
mod handover;
mod lines;

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use futures_util::task::AtomicWaker;
use tokio::net::unix::pipe;
use tokio::sync::{Semaphore, mpsc};

use crate::events;
use crate::process::{Captured, Stream};
use crate::spec::{OutputSpec, Overflow};
use crate::status::{OutputTail, TAIL_LINES};
use failing::{Failures, Rest, Rests};
pub use files::dated;
use files::{FileLine, Holding};
use gate::Gate;
pub use handover::{HandedOutput, Pending};
use lines::{LineSplitter, Partial};

/// Lines queued for the file thread before `block` holds the readers back (or `drop` drops).
const QUEUE_LINES: usize = 1024;
/// Bytes queued for the file thread before `block` holds the readers back (or `drop` drops).
pub const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// How much of a pipe is read at once.
pub const READ_CHUNK: usize = 64 * 1024;
/// At most one `output_dropped` event per component this often.
const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// The handle to the file thread. Cheap to clone.
#[derive(Clone)]
pub struct OutputService {
    files: FileQueue,
    reopen: Arc<AtomicBool>,
    /// The pipes being read, by process: what a hand-over keeps open across `execve`.
    live: Live,
    /// The number of the next process read (see [`Live`]).
    next_process: Arc<AtomicU64>,
    retention: Arc<files::Retention>,
    /// Closed while a hand-over stops the readers.
    gate: Arc<Gate>,
    /// The file thread's lines held for a hand-over.
    holding: Arc<Holding>,
    /// The lines under way a predecessor handed over, by pipe, until their readers start.
    handed: Arc<Mutex<HashMap<RawFd, Partial>>>,
}

/// The queue to the file thread: a channel bounded in lines, and permits for its bytes (a line
/// holds its bytes' permits until the file thread is done with it).
#[derive(Clone)]
struct FileQueue {
    lines: mpsc::Sender<FileLine>,
    bytes: Arc<Semaphore>,
    /// Which files rest after a failed write: their lines go no further than the reader.
    rests: Arc<Rests>,
}

/// The read ends being read, by process: by a number of the service's own, as a pid may be
/// taken again while its former owner's pipe is still read (a descendant holds it open).
type Live = Arc<Mutex<HashMap<u64, Vec<(Stream, RawFd)>>>>;

/// One process's output as the service reads it, kept by its component: what says that this
/// process (not another that has its pid since) has exited, or hands its pipes over.
pub struct ProcessOutput(Weak<Target>);

#[cfg(test)]
impl ProcessOutput {
    /// Whether its readers were told that it has exited.
    fn exit_told(&self) -> bool {
        self.0
            .upgrade()
            .is_some_and(|target| target.exit.has_happened())
    }
}

/// Wakes a process's readers when it has exited: a reader waiting on a pipe its process no
/// longer writes reads what is left, then is caught up (see `gate`). A flag and a waker a
/// stream, in the process's `Target` (10,000 readers: no allocation of their own).
#[derive(Default)]
struct ExitWake {
    exited: AtomicBool,
    readers: [AtomicWaker; 2],
}

impl ExitWake {
    /// The process has exited: each reader waiting is woken.
    fn wake(&self) {
        self.exited.store(true, Ordering::Release);
        for reader in &self.readers {
            reader.wake();
        }
    }

    /// Whether the process has exited (set with its pipes' release: one atomic load, where the
    /// gate's released set is behind a lock).
    fn has_happened(&self) -> bool {
        self.exited.load(Ordering::Acquire)
    }

    /// Whether the process has exited; if not, the reader of `stream` (polled with `cx`) is
    /// woken when it does.
    fn has_exited(&self, stream: Stream, cx: &std::task::Context<'_>) -> bool {
        let slot = match stream {
            Stream::Stdout => &self.readers[0],
            Stream::Stderr => &self.readers[1],
        };
        slot.register(cx.waker());
        self.has_happened()
    }
}

impl OutputService {
    /// Starts the file thread; dated files older than `retention_days` are removed.
    pub fn start(retention_days: Option<u32>) -> std::io::Result<Self> {
        let (sender, lines) = mpsc::channel(QUEUE_LINES);
        let reopen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reopen);
        let retention = Arc::new(files::Retention::new(retention_days));
        let kept = Arc::clone(&retention);
        let rests = Arc::new(Rests::default());
        let failures = Failures::new(Arc::clone(&rests));
        let holding = Arc::new(Holding::default());
        let held = Arc::clone(&holding);
        std::thread::Builder::new()
            .name("output-files".into())
            .spawn(move || files::run(lines, flag, &kept, failures, &held))?;
        let files = FileQueue {
            lines: sender,
            bytes: Arc::new(Semaphore::new(QUEUE_BYTES)),
            rests,
        };
        Ok(OutputService {
            files,
            reopen,
            live: Live::default(),
            next_process: Arc::default(),
            retention,
            gate: Arc::new(Gate::new()),
            holding,
            handed: Arc::default(),
        })
    }

    /// Keeps dated files `retention_days` from now on: every file is closed, and each is
    /// reopened (and its expired files removed) by its next line.
    pub fn set_retention(&self, retention_days: u32) {
        self.retention.set(retention_days);
        self.reopen();
    }

    /// Closes every component file; each is reopened by its next line (after logrotate).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    /// Starts reading the captured pipes of the process `pid`, to `to`.
    pub fn capture(&self, to: Destination<'_>, pid: u32, captured: Captured) -> ProcessOutput {
        let pipes = captured
            .into_iter()
            .map(|(stream, reader)| (stream, OwnedFd::from(reader)))
            .collect();
        self.resume(to, pid, pipes)
    }

    /// Goes on reading pipes of the process `pid` that a predecessor daemon read (or that
    /// [`OutputService::capture`] was given), to `to`.
    pub fn resume(
        &self,
        to: Destination<'_>,
        pid: u32,
        pipes: Vec<(Stream, OwnedFd)>,
    ) -> ProcessOutput {
        let key = self.next_process.fetch_add(1, Ordering::Relaxed);
        let target = Arc::new(Target {
            component: to.component.to_string(),
            group: to.group.to_string(),
            pid,
            key,
            settings: to.settings.clone(),
            tail: to.tail.clone(),
            files: self.files.clone(),
            live: Arc::clone(&self.live),
            gate: Arc::clone(&self.gate),
            exit: ExitWake::default(),
        });
        let listed = pipes.iter().map(|(stream, fd)| (*stream, fd.as_raw_fd()));
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.insert(key, listed.collect());
        drop(live);
        for (stream, fd) in pipes {
            let splitter = LineSplitter::resumed(self.handed_partial(fd.as_raw_fd()));
            actix::spawn(read(stream, fd, Arc::clone(&target), splitter));
        }
        ProcessOutput(Arc::downgrade(&target))
    }

    /// The pipes of `process` still being read, as descriptor numbers.
    pub fn pipes(&self, process: &ProcessOutput) -> Vec<(Stream, RawFd)> {
        let Some(target) = process.0.upgrade() else {
            return Vec::new();
        };
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.get(&target.key).cloned().unwrap_or_default()
    }

    /// `process` has exited: its pipes are read to their end even while a hand-over holds the
    /// other readers (only a live process's pipes are handed over), or until they are read
    /// empty, if a descendant keeps them open (see `gate`).
    pub fn exited(&self, process: &ProcessOutput) {
        // Gone: every pipe of it has ended.
        let Some(target) = process.0.upgrade() else {
            return;
        };
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(pipes) = live.get(&target.key) else {
            return;
        };
        let pipes: Vec<RawFd> = pipes.iter().map(|&(_, fd)| fd).collect();
        drop(live);
        self.gate.release(&pipes);
        target.exit.wake();
    }
}

/// Where a component's lines go: its settings (which it may change while the process runs),
/// its tail of last lines, its names for the log.
pub struct Destination<'a> {
    /// The output settings.
    pub settings: &'a OutputSettings,
    /// The last lines, for failure reports.
    pub tail: &'a OutputTail,
    /// The component's id.
    pub component: &'a str,
    /// Its group's path.
    pub group: &'a str,
}

/// A component's output settings, shared with the readers of its processes: [`set`] changes
/// them for every reader at once (an `Update`). A reader checks a version number per line (one
/// atomic load) and takes the lock only when it changed.
///
/// [`set`]: OutputSettings::set
#[derive(Clone)]
pub struct OutputSettings(Arc<SettingsCell>);

struct SettingsCell {
    /// Bumped under the lock by each change.
    version: AtomicU64,
    current: Mutex<Arc<Settings>>,
}

/// What the readers do with a line (`<output>` but the stdio wiring, fixed at spawn).
#[derive(Debug, PartialEq, Eq)]
struct Settings {
    log: bool,
    timestamps: bool,
    overflow: Overflow,
    /// The file template, its size limit and how many files are kept.
    file: Option<(Arc<Path>, Option<u64>, u32)>,
}

impl Settings {
    fn of(spec: &OutputSpec) -> Settings {
        Settings {
            log: spec.log,
            timestamps: spec.timestamps,
            overflow: spec.overflow,
            file: spec
                .file
                .clone()
                .map(|template| (template.into(), spec.max_size, spec.keep)),
        }
    }
}

impl OutputSettings {
    /// Settings taken from `spec`.
    pub fn new(spec: &OutputSpec) -> Self {
        OutputSettings(Arc::new(SettingsCell {
            version: AtomicU64::new(0),
            current: Mutex::new(Arc::new(Settings::of(spec))),
        }))
    }

    /// Changes the settings of every reader sharing them, from its next line.
    pub fn set(&self, spec: &OutputSpec) {
        let mut current = self
            .0
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(Settings::of(spec));
        self.0.version.fetch_add(1, Ordering::Release);
    }

    /// The current settings and their version.
    fn snapshot(&self) -> View {
        let current = self
            .0
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        View {
            version: self.0.version.load(Ordering::Acquire),
            settings: Arc::clone(&current),
        }
    }
}

/// A reader's copy of its settings.
struct View {
    version: u64,
    settings: Arc<Settings>,
}

impl View {
    /// The settings to use for the next line: this copy, unless they changed since.
    fn refresh(&mut self, shared: &OutputSettings) -> &Settings {
        if shared.0.version.load(Ordering::Acquire) != self.version {
            *self = shared.snapshot();
        }
        &self.settings
    }
}

/// The rest of the file a reader writes to, looked up again when its template changes.
#[derive(Default)]
struct FileRest(Option<(PathBuf, Arc<Rest>)>);

impl FileRest {
    /// Whether `template`'s file rests now (the line is dropped and counted there).
    fn skip(&mut self, template: &Path, rests: &Rests) -> bool {
        let rest = match &self.0 {
            Some((known, rest)) if known == template => rest,
            _ => {
                &self
                    .0
                    .insert((template.to_path_buf(), rests.of(template)))
                    .1
            }
        };
        rest.skip(failing::now())
    }
}

/// Where one process's lines go.
struct Target {
    component: String,
    group: String,
    pid: u32,
    /// Its number among the processes read (see [`Live`]).
    key: u64,
    settings: OutputSettings,
    tail: OutputTail,
    files: FileQueue,
    live: Live,
    gate: Arc<Gate>,
    /// Wakes its readers when it has exited.
    exit: ExitWake,
}

impl Target {
    /// The pipe `fd` reached its end and its last line is delivered: it is no longer handed
    /// over, nor waited for by one.
    fn ended(&self, fd: RawFd) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pipes) = live.get_mut(&self.key) {
            pipes.retain(|&(_, kept)| kept != fd);
            if pipes.is_empty() {
                live.remove(&self.key);
            }
        }
        drop(live);
        self.gate.ended(fd);
    }
}

/// Counts dropped lines (and their bytes) and reports them at most once a second.
#[derive(Default)]
struct Drops {
    unreported: u64,
    bytes: u64,
    last_report: Option<Instant>,
}

impl Drops {
    fn count(&mut self, target: &Target, bytes: usize) {
        self.unreported += 1;
        self.bytes += bytes as u64;
        if self
            .last_report
            .is_none_or(|at| at.elapsed() >= DROP_REPORT_INTERVAL)
        {
            self.report(target);
        }
    }

    fn report(&mut self, target: &Target) {
        if self.unreported > 0 {
            tracing::warn!(
                event = events::OUTPUT_DROPPED,
                component = %target.component,
                group = %target.group,
                dropped = self.unreported,
                bytes = self.bytes,
                "dropped {} lines ({} bytes) of {}'s output",
                self.unreported,
                self.bytes,
                target.component
            );
            self.unreported = 0;
            self.bytes = 0;
            self.last_report = Some(Instant::now());
        }
    }
}

thread_local! {
    /// The read buffer of the thread the readers run on. A read is copied out (into lines and
    /// the partial line) before its reader awaits anything, so the readers take turns with one
    /// buffer: neither an idle component nor a wake-up (the end of a pipe at every exit)
    /// allocates [`READ_CHUNK`] bytes, and the heap's top is not grown and trimmed back each
    /// time.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `read` with the thread's read buffer, empty and with [`READ_CHUNK`] bytes of spare
/// capacity (read into as it is, never zeroed).
fn with_scratch<T>(read: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with_borrow_mut(|buffer| {
        buffer.clear();
        buffer.reserve(READ_CHUNK);
        read(buffer)
    })
}

async fn read(stream: Stream, fd: OwnedFd, target: Arc<Target>, splitter: LineSplitter) {
    let raw = fd.as_raw_fd();
    let Ok(pipe) = pipe::Receiver::from_owned_fd(fd) else {
        target.ended(raw);
        return;
    };
    let mut splitter = splitter;
    let mut drops = Drops::default();
    let mut view = target.settings.snapshot();
    let mut rest = FileRest::default();
    let mut lines = Vec::new();
    // The last read found the pipe empty; and, once its process has exited, it was told so.
    let (mut drained, mut caught_up) = (false, false);
    'pipe: loop {
        // The safe point of a hand-over: everything read so far is delivered.
        if target.gate.holds(raw) {
            drops.report(&target);
            target.gate.park(raw, splitter.partial()).await;
            // Its process may have written (and exited) meanwhile.
            drained = false;
            continue;
        }
        // Everything the exited process wrote is delivered: the line under way was its last
        // (what comes now is a descendant's that escaped it), and nothing waits for this pipe.
        if drained && !caught_up && target.exit.has_happened() {
            let state = (&mut view, &mut rest, &mut drops);
            deliver_last(&target, state, stream, &mut splitter).await;
            drops.report(&target);
            caught_up = true;
            target.gate.caught_up(raw);
        }
        // Scoped: the futures are gone before any line is delivered (a reader's task is as
        // large as its largest state, and one is kept per captured stream). An exit wakes the
        // reader to read what is left (then, empty, it is caught up).
        let readable = {
            let closing = std::pin::pin!(target.gate.holding(raw));
            // Polled by hand: a reader's task is kept per captured stream, and the futures of
            // `readable()` and of a wait took 190 of its bytes. Once caught up, the exit (long
            // past) no longer wakes it.
            let exit = (!caught_up).then_some(&target.exit);
            let readable = std::future::poll_fn(|cx| {
                if exit.is_some_and(|exit| exit.has_exited(stream, cx)) {
                    return std::task::Poll::Ready(true);
                }
                pipe.poll_read_ready(cx).map(|ready| ready.is_ok())
            });
            match select(closing, std::pin::pin!(readable)).await {
                Either::Left(_) => None,
                Either::Right((ready, _)) => Some(ready),
            }
        };
        drained = false;
        match readable {
            None => continue,
            Some(false) => break,
            Some(true) => {}
        }
        while !target.gate.holds(raw) {
            let read = with_scratch(|buffer| {
                let read = pipe.try_read_buf(buffer);
                if matches!(read, Ok(1..)) {
                    splitter.push(buffer, |line| lines.push(line.to_vec()));
                }
                read
            });
            match read {
                Ok(0) => break 'pipe,
                Ok(_) => {
                    // Only the chunk's last lines can end up in the tail: one lock per read.
                    let kept = lines.len().saturating_sub(TAIL_LINES);
                    target.tail.extend(&lines[kept..]);
                    for line in lines.drain(..) {
                        let state = (&mut view, &mut rest, &mut drops);
                        deliver(&target, state, stream, &line).await;
                    }
                    // A flooding child must not starve the other actors on this thread, nor
                    // the threads it wakes (a thread kept busy never parks to wake them).
                    crate::deferred::run_pending();
                    tokio::task::yield_now().await;
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(_) => break 'pipe,
            }
        }
    }
    // The pipe stays listed (and open) until its last line is delivered: a hand-over waits for
    // that line. It is taken off before the descriptor closes, so its number is never handed
    // over once reused.
    deliver_last(
        &target,
        (&mut view, &mut rest, &mut drops),
        stream,
        &mut splitter,
    )
    .await;
    drops.report(&target);
    target.ended(raw);
    drop(pipe);
}

/// Delivers the line under way as a last line of its own, if there is one.
async fn deliver_last(
    target: &Target,
    state: ReaderState<'_>,
    stream: Stream,
    splitter: &mut LineSplitter,
) {
    if let Some(last) = splitter.take_last() {
        target.tail.extend(std::slice::from_ref(&last));
        deliver(target, state, stream, &last).await;
    }
}

/// A reader's state across lines: its settings, its file's rest and its drops.
type ReaderState<'a> = (&'a mut View, &'a mut FileRest, &'a mut Drops);

async fn deliver(target: &Target, state: ReaderState<'_>, stream: Stream, line: &[u8]) {
    let (view, rest, drops) = state;
    let settings = view.refresh(&target.settings);
    let to = match (settings.log, settings.file.is_some()) {
        (true, true) => "the log and its file",
        (true, false) => "the log",
        (false, true) => "its file",
        (false, false) => "nowhere",
    };
    tracing::trace!(
        event = events::OUTPUT_ROUTED,
        component = %target.component,
        stream = stream.name(),
        bytes = line.len(),
        log = settings.log,
        file = settings.file.is_some(),
        "{} bytes of {} to {to}",
        line.len(),
        stream.name(),
    );
    if settings.log {
        let line = String::from_utf8_lossy(line);
        tracing::info!(
            event = events::COMPONENT_OUTPUT,
            component = %target.component,
            group = %target.group,
            stream = stream.name(),
            pid = target.pid,
            line = %line,
            "{line}"
        );
    }
    let Some((template, max_size, keep)) = &settings.file else {
        return;
    };
    let files = &target.files;
    if rest.skip(template, &files.rests) {
        return;
    }
    let bytes = files::format_line(settings.timestamps, stream.name(), line);
    let cost = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let permit = match settings.overflow {
        Overflow::Block => Arc::clone(&files.bytes).acquire_many_owned(cost).await.ok(),
        Overflow::Drop => Arc::clone(&files.bytes).try_acquire_many_owned(cost).ok(),
    };
    let Some(permit) = permit else {
        drops.count(target, bytes.len());
        return;
    };
    let command = FileLine {
        template: Arc::clone(template),
        max_size: *max_size,
        keep: *keep,
        bytes,
        budget: permit,
    };
    let sent = match (files.lines.try_send(command), settings.overflow) {
        (Ok(()), _) => Ok(()),
        // The queue is full and the line must wait: the wait is boxed, as it is rare and its
        // future is large (every reader's task would otherwise carry room for it).
        (Err(mpsc::error::TrySendError::Full(command)), Overflow::Block) => {
            Box::pin(files.lines.send(command)).await.map_err(|e| e.0)
        }
        (Err(error), _) => Err(error.into_inner()),
    };
    if let Err(command) = sent {
        drops.count(target, command.bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader keeps its copy until the settings change, then takes the new ones.
    #[test]
    fn a_reader_sees_settings_set_after_it_started() {
        let shared = OutputSettings::new(&OutputSpec::DEFAULT);
        let other = shared.clone();
        let mut view = shared.snapshot();
        let before = Arc::clone(&view.settings);
        assert!(view.refresh(&shared).file.is_none());
        assert!(Arc::ptr_eq(&before, &view.settings), "no change, no copy");

        let spec = OutputSpec {
            log: false,
            file: Some(PathBuf::from("/var/log/web.log")),
            overflow: Overflow::Drop,
            ..OutputSpec::DEFAULT
        };
        other.set(&spec);
        assert_eq!(*view.refresh(&shared), Settings::of(&spec));
    }

    /// A process id taken again while its former owner's pipe is still read (a descendant
    /// holds it open) names the new process alone: its pipes to hand over, its exit. The
    /// former owner's pipe is still waited for, and its end leaves the new one's alone.
    #[actix_rt::test]
    async fn a_reused_process_id_names_the_new_process_alone() {
        let service = OutputService::start(None).unwrap();
        let settings = OutputSettings::new(&OutputSpec::DEFAULT);
        let tail = OutputTail::default();
        let to = || Destination {
            settings: &settings,
            tail: &tail,
            component: "web",
            group: "",
        };
        let (old_reader, old_writer) = std::io::pipe().unwrap();
        let old = old_reader.as_raw_fd();
        let first = service.resume(to(), 4242, vec![(Stream::Stdout, old_reader.into())]);
        service.exited(&first);
        let (new_reader, new_writer) = std::io::pipe().unwrap();
        let new = new_reader.as_raw_fd();
        let second = service.resume(to(), 4242, vec![(Stream::Stdout, new_reader.into())]);
        assert_eq!(service.pipes(&second), [(Stream::Stdout, new)]);
        assert_eq!(service.pipes(&first), [(Stream::Stdout, old)]);
        let mut both = vec![old, new];
        both.sort_unstable();
        assert_eq!(live(&service), both, "the old pipe is still waited for");
        // The first's exit told late (after the pid went to the second) leaves the second alone.
        service.exited(&first);
        assert!(
            first.exit_told() && !second.exit_told(),
            "the second still runs"
        );

        drop(old_writer);
        until_live(&service, &[new]).await;
        assert_eq!(service.pipes(&second), [(Stream::Stdout, new)]);
        drop(new_writer);
        service.exited(&second);
        until_live(&service, &[]).await;
    }

    /// The pipes being read, in order.
    fn live(service: &OutputService) -> Vec<RawFd> {
        let mut pipes = service.live_pipes();
        pipes.sort_unstable();
        pipes
    }

    /// Waits (at most 10 s) until the pipes being read are `left`.
    async fn until_live(service: &OutputService, left: &[RawFd]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while live(service) != left {
            assert!(Instant::now() < deadline, "pipes left: {:?}", live(service));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A replaced component gets settings of its own: the old readers keep theirs.
    #[test]
    fn new_settings_are_not_shared_with_the_old_ones() {
        let old = OutputSettings::new(&OutputSpec::DEFAULT);
        let mut view = old.snapshot();
        let renewed = OutputSettings::new(&OutputSpec::DEFAULT);
        renewed.set(&OutputSpec {
            log: false,
            ..OutputSpec::DEFAULT
        });
        assert!(view.refresh(&old).log);
    }
}
