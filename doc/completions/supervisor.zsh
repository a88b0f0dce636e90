#compdef supervisor

autoload -U is-at-least

_supervisor() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_supervisor_commands" \
"*::: :->supervisor" \
&& ret=0
    case $state in
    (supervisor)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:supervisor-command-$line[1]:"
        case $line[1] in
            (run)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--log-file[Log to the registry'\''s \`<config><log>\` file (dated, one a day) instead of stderr]' \
'--detach[Leave the caller'\''s session first (used by \`start\`)]' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(start)
_arguments "${_arguments_options[@]}" : \
'--timeout=[How long to wait for readiness (\`90\`, \`2m\`) \[default\: the start delays and readiness timeouts of what starts, level after level, plus 10s\]]:TIMEOUT:_default' \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::ids -- Components to start (none\: the daemon itself):_default' \
&& ret=0
;;
(stop)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::ids -- Components to stop (none\: the daemon itself):_default' \
&& ret=0
;;
(restart)
_arguments "${_arguments_options[@]}" : \
'--timeout=[How long to wait for readiness \[default\: as \`start\`\]]:TIMEOUT:_default' \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::ids -- Components to restart (none\: the daemon itself):_default' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::ids -- Components to show (none\: all):_default' \
&& ret=0
;;
(reload)
_arguments "${_arguments_options[@]}" : \
'--timeout=[How long to wait for readiness \[default\: as \`start\`\]]:TIMEOUT:_default' \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--no-wait[Return once applied, without waiting for what it started]' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(upgrade)
_arguments "${_arguments_options[@]}" : \
'--binary=[The new executable (default\: the daemon'\''s own file as it is on disk now)]:BINARY:_files' \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(logs)
_arguments "${_arguments_options[@]}" : \
'-n+[How many of the last lines to print (default 10; with --since, every line)]:LINES:_default' \
'--since=[Only lines since then\: \`2h\`, \`30m\`, \`3d\`, a date (\`2026-11-29\`) or an RFC 3339 time]:SINCE:_default' \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'(--daemon)--all[Every component'\''s output, interleaved by time, each line behind its id]' \
'--daemon[The daemon'\''s own log, rendered as text]' \
'-f[Keep printing new lines, across rotation, new days and restarts]' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::id -- The component:_default' \
&& ret=0
;;
(signal)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::targets -- The components, then the signal (`HUP`, `SIGUSR1`, `10`):_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':shell -- The shell:((bash\:"Bash"
zsh\:"Z shell"
fish\:"Fish"))' \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
'--registry=[The registry file \[default\: config/SupervisorRegistry.xml\]. Only \`run\`, \`start\` and \`check\` read it; the other verbs ask the daemon found through --run-dir]:REGISTRY:_files' \
'--run-dir=[Directory for the control socket, lock, pid and state files \[default\: /run/supervisor as root, else \$XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-\$UID\]]:RUN_DIR:_files' \
'--log-format=[Log format\: \`text\` when stderr is a terminal, else \`json\`]:LOG_FORMAT:((json\:"One JSON object a line"
text\:"Readable text"))' \
'--json[Print the result (or \`{"error"\: …, "exit"\: N}\`) as JSON on stdout]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_supervisor__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:supervisor-help-command-$line[1]:"
        case $line[1] in
            (run)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(start)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(stop)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(restart)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(reload)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(upgrade)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(logs)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(signal)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_supervisor_commands] )) ||
_supervisor_commands() {
    local commands; commands=(
'run:Run the daemon in the foreground, logging to stderr' \
'start:Start the daemon in the background and wait until it is ready, or start the named components of a running one and wait until they are' \
'stop:Stop the daemon (orderly), or stop the named components; they stay stopped' \
'restart:Stop then start the daemon, or restart the named components and wait until they are ready' \
'status:One row per component (or the named ones)\: state, pid, uptime, memory, restarts, last exit, reason. Answers in every phase of the daemon' \
'reload:Re-read the registry, apply the difference (same as SIGHUP) and wait until what it started is ready' \
'upgrade:Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2)' \
'check:Validate the registry, print the resolved tree with every effective setting, and check the environment (executables, directories, users)' \
'logs:Print (and follow) a component'\''s output, every component'\''s, or the daemon'\''s log (from the last daemon'\''s files when none runs)' \
'signal:Send a signal to the process group of each named running component' \
'completions:Print shell completions (bash, zsh or fish) on stdout' \
'manpage:Print the man page (roff) on stdout' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'supervisor commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__check_commands] )) ||
_supervisor__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor check commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__completions_commands] )) ||
_supervisor__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor completions commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help_commands] )) ||
_supervisor__subcmd__help_commands() {
    local commands; commands=(
'run:Run the daemon in the foreground, logging to stderr' \
'start:Start the daemon in the background and wait until it is ready, or start the named components of a running one and wait until they are' \
'stop:Stop the daemon (orderly), or stop the named components; they stay stopped' \
'restart:Stop then start the daemon, or restart the named components and wait until they are ready' \
'status:One row per component (or the named ones)\: state, pid, uptime, memory, restarts, last exit, reason. Answers in every phase of the daemon' \
'reload:Re-read the registry, apply the difference (same as SIGHUP) and wait until what it started is ready' \
'upgrade:Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2)' \
'check:Validate the registry, print the resolved tree with every effective setting, and check the environment (executables, directories, users)' \
'logs:Print (and follow) a component'\''s output, every component'\''s, or the daemon'\''s log (from the last daemon'\''s files when none runs)' \
'signal:Send a signal to the process group of each named running component' \
'completions:Print shell completions (bash, zsh or fish) on stdout' \
'manpage:Print the man page (roff) on stdout' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'supervisor help commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__check_commands] )) ||
_supervisor__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help check commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__completions_commands] )) ||
_supervisor__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help completions commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__help_commands] )) ||
_supervisor__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help help commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__logs_commands] )) ||
_supervisor__subcmd__help__subcmd__logs_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help logs commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__manpage_commands] )) ||
_supervisor__subcmd__help__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help manpage commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__reload_commands] )) ||
_supervisor__subcmd__help__subcmd__reload_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help reload commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__restart_commands] )) ||
_supervisor__subcmd__help__subcmd__restart_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help restart commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__run_commands] )) ||
_supervisor__subcmd__help__subcmd__run_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help run commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__signal_commands] )) ||
_supervisor__subcmd__help__subcmd__signal_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help signal commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__start_commands] )) ||
_supervisor__subcmd__help__subcmd__start_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help start commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__status_commands] )) ||
_supervisor__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help status commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__stop_commands] )) ||
_supervisor__subcmd__help__subcmd__stop_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help stop commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__help__subcmd__upgrade_commands] )) ||
_supervisor__subcmd__help__subcmd__upgrade_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor help upgrade commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__logs_commands] )) ||
_supervisor__subcmd__logs_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor logs commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__manpage_commands] )) ||
_supervisor__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor manpage commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__reload_commands] )) ||
_supervisor__subcmd__reload_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor reload commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__restart_commands] )) ||
_supervisor__subcmd__restart_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor restart commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__run_commands] )) ||
_supervisor__subcmd__run_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor run commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__signal_commands] )) ||
_supervisor__subcmd__signal_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor signal commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__start_commands] )) ||
_supervisor__subcmd__start_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor start commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__status_commands] )) ||
_supervisor__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor status commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__stop_commands] )) ||
_supervisor__subcmd__stop_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor stop commands' commands "$@"
}
(( $+functions[_supervisor__subcmd__upgrade_commands] )) ||
_supervisor__subcmd__upgrade_commands() {
    local commands; commands=()
    _describe -t commands 'supervisor upgrade commands' commands "$@"
}

if [ "$funcstack[1]" = "_supervisor" ]; then
    _supervisor "$@"
else
    compdef _supervisor supervisor
fi
