/*
 * proc.c: the Check suites' process launcher (contract in proc.h).
 */
#include "tests/support/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/support.h"

extern char **environ;

/* The length of the key of "KEY=value" (or of a bare "KEY"). */
static size_t key_len(const char *entry) {
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int same_key(const char *a, const char *b) {
    size_t n = key_len(a);
    return n == key_len(b) && !strncmp(a, b, n);
}

static int listed(const char *entry, const char *const *list) {
    for (size_t i = 0; list && list[i]; i++)
        if (same_key(entry, list[i])) return 1;
    return 0;
}

/* The child's environment as support_cmd describes it: pointers into environ and cmd->env (the caller
 * frees the array only). */
static char **build_env(const support_cmd *cmd) {
    size_t inherited = 0, given = 0, k = 0;
    if (cmd->inherit_env)
        for (char **e = environ; *e; e++) inherited++;
    while (cmd->env && cmd->env[given]) given++;
    char **out = calloc(inherited + given + 1, sizeof *out);
    if (!out) abort();
    if (cmd->inherit_env)
        for (char **e = environ; *e; e++)
            if (!listed(*e, cmd->unset) && !listed(*e, cmd->env)) out[k++] = *e;
    for (size_t i = 0; i < given; i++) {
        int replaced = 0;
        for (size_t j = i + 1; j < given; j++) replaced |= same_key(cmd->env[i], cmd->env[j]);
        if (!replaced) out[k++] = (char *)cmd->env[i];
    }
    out[k] = NULL;
    return out;
}

static char **build_argv(const support_cmd *cmd) {
    size_t n = 0;
    while (cmd->args && cmd->args[n]) n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv) abort();
    argv[0] = (char *)cmd->path;
    for (size_t i = 0; i < n; i++) argv[i + 1] = (char *)cmd->args[i];
    return argv;
}

/* In the child, between fork and exec: async-signal-safe calls only. Every signal is blocked on entry (see
 * support_proc_start): the handlers inherited from the suite (Check's SIGTERM handler kills the whole
 * process group) must not run in this copy of it, so they are reset to the default before the mask is
 * emptied. */
static void exec_child(const support_cmd *cmd, pid_t parent, int out, int null, char **argv, char **envp) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the process that started us */
    if (getppid() != parent) _exit(127);
    dup2(null, STDIN_FILENO);
    dup2(cmd->capture_stdout ? out : null, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP: EINVAL, harmless */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(cmd->path, argv, envp);
    _exit(127);
}

pid_t support_proc_start(const support_cmd *cmd) {
    if (access(cmd->path, X_OK) != 0) {
        fprintf(stderr, "support: %s is not executable (build with make, or set PC_BIN_DIR)\n", cmd->path);
        return -1;
    }
    const char *out_path = cmd->output ? cmd->output : "/dev/null";
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (out < 0 || null < 0) {
        fprintf(stderr, "support: cannot open %s: %s\n", out < 0 ? out_path : "/dev/null", strerror(errno));
        if (out >= 0) close(out);
        if (null >= 0) close(null);
        return -1;
    }
    char **argv = build_argv(cmd), **envp = build_env(cmd);
    pid_t parent = getpid();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) exec_child(cmd, parent, out, null, argv, envp);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(out);
    close(null);
    free(argv);
    free(envp);
    if (pid < 0) fprintf(stderr, "support: fork: %s\n", strerror(saved));
    return pid;
}

int support_proc_exited(pid_t pid, int *status) {
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == 0) return 0;
    if (w != pid) return -1;
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 1;
}

int support_proc_wait(pid_t pid, int timeout_ms) {
    if (pid <= 0) return -1;
    int64_t deadline = support_now_ms() + timeout_ms;
    for (;;) {
        int status;
        int r = support_proc_exited(pid, &status);
        if (r == 1) return status;
        if (r < 0) return -1;
        if (support_now_ms() >= deadline) break;
        support_sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int support_proc_stop(pid_t pid, int sig, int timeout_ms) {
    if (pid <= 0) return -1;
    if (sig) kill(pid, sig);
    return support_proc_wait(pid, timeout_ms);
}

int support_proc_run(const support_cmd *cmd, int timeout_ms, char **text) {
    if (text) *text = NULL;
    if (!cmd->output) {
        fprintf(stderr, "support: support_proc_run needs an output file\n");
        return -1;
    }
    pid_t pid = support_proc_start(cmd);
    int code = pid > 0 ? support_proc_wait(pid, timeout_ms) : -1;
    if (text) *text = support_read_file(cmd->output, NULL);
    unlink(cmd->output);
    return code;
}
