# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_supervisor_global_optspecs
    string join \n registry= run-dir= log-format= json h/help V/version
end

function __fish_supervisor_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_supervisor_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_supervisor_using_subcommand
    set -l cmd (__fish_supervisor_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c supervisor -n "__fish_supervisor_needs_command" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_needs_command" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_needs_command" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_needs_command" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_needs_command" -s V -l version -d 'Print version'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "start" -d 'Start the daemon in the background and wait until it is ready, or start the named components of a running one and wait until they are'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "stop" -d 'Stop the daemon (orderly), or stop the named components; they stay stopped'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "restart" -d 'Stop then start the daemon, or restart the named components and wait until they are ready'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "status" -d 'One row per component (or the named ones): state, pid, uptime, memory, restarts, last exit, reason. Answers in every phase of the daemon'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "reload" -d 'Re-read the registry, apply the difference (same as SIGHUP) and wait until what it started is ready'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "upgrade" -d 'Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2)'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "check" -d 'Validate the registry, print the resolved tree with every effective setting, and check the environment (executables, directories, users)'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "logs" -d 'Print (and follow) a component\'s output, every component\'s, or the daemon\'s log (from the last daemon\'s files when none runs)'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "signal" -d 'Send a signal to the process group of each named running component'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh or fish) on stdout'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "manpage" -d 'Print the man page (roff) on stdout'
complete -c supervisor -n "__fish_supervisor_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l log-file -d 'Log to the registry\'s `<config><log>` file (dated, one a day) instead of stderr'
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l detach -d 'Leave the caller\'s session first (used by `start`)'
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -l timeout -d 'How long to wait for readiness (`90`, `2m`) [default: the start delays and readiness timeouts of what starts, level after level, plus 10s]' -r
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand stop" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand stop" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand stop" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand stop" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -l timeout -d 'How long to wait for readiness [default: as `start`]' -r
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand restart" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand status" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand status" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand status" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand status" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l timeout -d 'How long to wait for readiness [default: as `start`]' -r
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l no-wait -d 'Return once applied, without waiting for what it started'
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand reload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -l binary -d 'The new executable (default: the daemon\'s own file as it is on disk now)' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand upgrade" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand check" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand check" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand check" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand check" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -s n -d 'How many of the last lines to print (default 10; with --since, every line)' -r
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l since -d 'Only lines since then: `2h`, `30m`, `3d`, a date (`2026-11-29`) or an RFC 3339 time' -r
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l all -d 'Every component\'s output, interleaved by time, each line behind its id'
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l daemon -d 'The daemon\'s own log, rendered as text'
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -s f -d 'Keep printing new lines, across rotation, new days and restarts'
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand signal" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand signal" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand signal" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand signal" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand signal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand completions" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand completions" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand completions" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand completions" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand manpage" -l registry -d 'The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and `check` read it; the other verbs ask the daemon found through --run-dir' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand manpage" -l run-dir -d 'Directory for the control socket, lock, pid and state files [default: /run/supervisor as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID]' -r -F
complete -c supervisor -n "__fish_supervisor_using_subcommand manpage" -l log-format -d 'Log format: `text` when stderr is a terminal, else `json`' -r -f -a "json\t'One JSON object a line'
text\t'Readable text'"
complete -c supervisor -n "__fish_supervisor_using_subcommand manpage" -l json -d 'Print the result (or `{"error": …, "exit": N}`) as JSON on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand manpage" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "start" -d 'Start the daemon in the background and wait until it is ready, or start the named components of a running one and wait until they are'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "stop" -d 'Stop the daemon (orderly), or stop the named components; they stay stopped'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "restart" -d 'Stop then start the daemon, or restart the named components and wait until they are ready'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "status" -d 'One row per component (or the named ones): state, pid, uptime, memory, restarts, last exit, reason. Answers in every phase of the daemon'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "reload" -d 'Re-read the registry, apply the difference (same as SIGHUP) and wait until what it started is ready'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "upgrade" -d 'Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2)'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "check" -d 'Validate the registry, print the resolved tree with every effective setting, and check the environment (executables, directories, users)'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "logs" -d 'Print (and follow) a component\'s output, every component\'s, or the daemon\'s log (from the last daemon\'s files when none runs)'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "signal" -d 'Send a signal to the process group of each named running component'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "completions" -d 'Print shell completions (bash, zsh or fish) on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "manpage" -d 'Print the man page (roff) on stdout'
complete -c supervisor -n "__fish_supervisor_using_subcommand help; and not __fish_seen_subcommand_from run start stop restart status reload upgrade check logs signal completions manpage help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
