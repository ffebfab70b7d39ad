/*
 * proc.h: the one process launcher of the Check suites that run the real binaries (check_e2e,
 * check_replicas, check_parity): start a binary with an environment, see whether it has ended, wait for
 * it (bounded), stop it with a signal, or run it to completion and read what it printed.
 *
 * Contract:
 *   - A started process never outlives the process that started it: it runs with
 *     PR_SET_PDEATHSIG=SIGKILL (and exits 127 at once if that parent was already gone), so a failed
 *     assertion, a Check timeout or a crash of the suite never leaves a service behind. With Check's
 *     fork mode that parent is the forked test; processes shared by all tests must be started by main.
 *   - Everything the child needs (path, argv, environment) is built before fork(), and the child only
 *     makes async-signal-safe calls before execve(): suites may start processes while other threads
 *     are busy with libcurl (check_replicas restarts services under load).
 *   - The child starts with every signal at its default action and none blocked (nothing of the suite's
 *     handlers or mask, even between fork and exec), and stdin is /dev/null; stderr (and with capture_stdout, stdout)
 *     goes to `output`, created or truncated, else to /dev/null.
 *   - Exit statuses are reported as the exit code, or 128 + the signal for a process a signal ended,
 *     as a shell reports them. Every wait is bounded; a process that outlives its bound is SIGKILLed and
 *     reaped, so no zombie is left either way.
 *
 * Ownership: the caller owns the pid until one of support_proc_exited (returning 1), support_proc_wait,
 * support_proc_stop or support_proc_run has reaped it.
 */
#ifndef PC_TESTS_SUPPORT_PROC_H
#define PC_TESTS_SUPPORT_PROC_H

#include <sys/types.h>

typedef struct support_cmd {
    const char *path;        /* the binary */
    const char *const *args; /* arguments after argv[0], NULL-terminated; NULL: none */
    /* The child's environment: exactly `env` ("KEY=value", NULL-terminated) when inherit_env is 0; else
     * this process's environment without the variables named in `unset` (NULL-terminated names), with
     * `env` over it. Within env, a later entry replaces an earlier one with the same key. */
    const char *const *env;
    int inherit_env;
    const char *const *unset;
    const char *output; /* file that takes stderr (created or truncated); NULL: /dev/null */
    int capture_stdout; /* stdout goes to `output` too (else to /dev/null) */
} support_cmd;

/* Starts the command; its pid, or -1 with a message on stderr (the binary is not executable, fork or
 * the output file failed). */
pid_t support_proc_start(const support_cmd *cmd);

/* Without waiting: 1 when the process has ended (reaped; *status as above), 0 while it runs, -1 when pid
 * is not a child of this process. */
int support_proc_exited(pid_t pid, int *status);

/* Waits at most timeout_ms for the process to end; its status, or -1 when it did not end in time (it is
 * then SIGKILLed and reaped) or is not a child of this process. */
int support_proc_wait(pid_t pid, int timeout_ms);

/* Sends `sig` (0: none) and waits as support_proc_wait does. pid <= 0: -1, nothing sent. */
int support_proc_stop(pid_t pid, int sig, int timeout_ms);

/* Runs the command to completion (at most timeout_ms, then SIGKILL); its status (-1 when it could not
 * start or was killed at the bound). cmd->output is required: when text is not NULL, what the process
 * wrote there is returned in *text (NUL-terminated, caller frees; NULL if unreadable). The output file
 * is removed either way. */
int support_proc_run(const support_cmd *cmd, int timeout_ms, char **text);

#endif
