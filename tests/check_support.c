/*
 * check_support.c: the suites' process launcher (tests/support/proc.h) keeps its contract: the child's
 * environment (exact, or inherited minus `unset` with `env` over it, later entries winning), where its
 * output goes, how exit statuses and signals are reported, bounded waits that kill and reap, and a child
 * that dies with the process that started it. Runs /bin/sh and /bin/sleep; no service binaries.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/proc.h"
#include "tests/support/support.h"

static char out_path[64];

static void make_out_path(void) { snprintf(out_path, sizeof out_path, "/tmp/pc-support-%d.out", (int)getpid()); }

/* Runs `sh -c script` (see support_cmd for the other fields); returns the status, output in *text. */
static int sh(const char *script, const support_cmd *base, char **text) {
    const char *args[] = {"-c", script, NULL};
    support_cmd cmd = *base;
    cmd.path = "/bin/sh";
    cmd.args = args;
    make_out_path();
    cmd.output = out_path;
    return support_proc_run(&cmd, 5000, text);
}

START_TEST(environment_exact_or_inherited) {
    char *text = NULL;
    const char *exact[] = {"X=1", NULL};
    setenv("PC_SUPPORT_A", "parent", 1);
    ck_assert_int_eq(sh("echo \"${PC_SUPPORT_A:-none} $X\" >&2", &(support_cmd){.env = exact}, &text), 0);
    ck_assert_str_eq(text, "none 1\n");
    free(text);

    setenv("PC_SUPPORT_C", "dropped", 1);
    setenv("PC_SUPPORT_B", "parent", 1);
    const char *unset[] = {"PC_SUPPORT_C", NULL};
    const char *env[] = {"PC_SUPPORT_B=one", "PC_SUPPORT_D=d", "PC_SUPPORT_B=two", NULL};
    support_cmd inherit = {.env = env, .inherit_env = 1, .unset = unset};
    ck_assert_int_eq(
        sh("echo \"$PC_SUPPORT_A $PC_SUPPORT_B ${PC_SUPPORT_C:-unset} $PC_SUPPORT_D\" >&2", &inherit, &text), 0);
    ck_assert_str_eq(text, "parent two unset d\n");
    free(text);
    /* one entry per key, not the replaced one as well (env itself, since a shell would merge them) */
    support_cmd env_cmd = inherit;
    env_cmd.path = "/usr/bin/env";
    env_cmd.output = out_path;
    env_cmd.capture_stdout = 1;
    ck_assert_int_eq(support_proc_run(&env_cmd, 5000, &text), 0);
    ck_assert_ptr_nonnull(text);
    int entries = 0;
    for (const char *p = text; (p = strstr(p, "PC_SUPPORT_B=")); p++) entries++;
    ck_assert_int_eq(entries, 1);
    ck_assert_ptr_nonnull(strstr(text, "PC_SUPPORT_B=two\n"));
    free(text);
    ck_assert_int_ne(access(out_path, F_OK), 0); /* support_proc_run removed the output file */
}
END_TEST

START_TEST(output_goes_where_asked) {
    char *text = NULL;
    ck_assert_int_eq(sh("echo out; echo err >&2", &(support_cmd){0}, &text), 0);
    ck_assert_str_eq(text, "err\n"); /* stdout to /dev/null */
    free(text);
    ck_assert_int_eq(sh("echo out; echo err >&2", &(support_cmd){.capture_stdout = 1}, &text), 0);
    ck_assert_str_eq(text, "out\nerr\n");
    free(text);
    ck_assert_int_eq(sh("read line; echo \"read $?\" >&2", &(support_cmd){0}, &text), 0);
    ck_assert_str_eq(text, "read 1\n"); /* stdin is /dev/null: end of file at once */
    free(text);
}
END_TEST

START_TEST(statuses_and_signals) {
    char *text = NULL;
    ck_assert_int_eq(sh("exit 3", &(support_cmd){0}, &text), 3);
    free(text);
    ck_assert_int_eq(sh("kill -TERM $$", &(support_cmd){0}, &text), 128 + SIGTERM);
    free(text);
    /* the child's signal mask is empty even when the starter blocks SIGTERM */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    ck_assert_int_eq(sh("kill -TERM $$; exit 0", &(support_cmd){0}, &text), 128 + SIGTERM);
    free(text);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    ck_assert_int_eq(support_proc_start(&(support_cmd){.path = "/nonexistent/binary"}), -1);
}
END_TEST

START_TEST(waits_are_bounded) {
    const char *args[] = {"30", NULL};
    pid_t pid = support_proc_start(&(support_cmd){.path = "/bin/sleep", .args = args});
    ck_assert_int_gt(pid, 0);
    int status = -2;
    ck_assert_int_eq(support_proc_exited(pid, &status), 0);
    int64_t t0 = support_now_ms();
    ck_assert_int_eq(support_proc_wait(pid, 200), -1); /* killed at the bound... */
    ck_assert_int_lt(support_now_ms() - t0, 5000);
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1); /* ...and reaped */
    ck_assert_int_eq(errno, ECHILD);

    pid = support_proc_start(&(support_cmd){.path = "/bin/sleep", .args = args});
    ck_assert_int_eq(support_proc_stop(pid, SIGTERM, 5000), 128 + SIGTERM);
    ck_assert_int_eq(support_proc_stop(-1, SIGTERM, 5000), -1);

    const char *quick[] = {"0", NULL};
    pid = support_proc_start(&(support_cmd){.path = "/bin/sleep", .args = quick});
    int r;
    while ((r = support_proc_exited(pid, &status)) == 0) support_sleep_ms(5);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(status, 0);
}
END_TEST

/* Whether pid is gone: no such process, or a zombie waiting for whoever adopted it. */
static int gone(pid_t pid) {
    char path[64], state = '?';
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    int ok = fscanf(f, "%*d %*s %c", &state) == 1;
    fclose(f);
    return ok && (state == 'Z' || state == 'X');
}

/* Whether pid has exec'd /bin/sleep (before exec it is a copy of this suite). */
static int runs_sleep(pid_t pid) {
    char path[64], cmdline[64] = "";
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(cmdline, 1, sizeof cmdline - 1, f);
    fclose(f);
    cmdline[n] = '\0';
    return !strcmp(cmdline, "/bin/sleep");
}

START_TEST(child_dies_with_its_starter) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t starter = fork();
    ck_assert_int_ge(starter, 0);
    if (starter == 0) { /* starts a long sleep, tells its pid once it runs, and exits without stopping it */
        const char *args[] = {"30", NULL};
        pid_t pid = support_proc_start(&(support_cmd){.path = "/bin/sleep", .args = args});
        int64_t until = support_now_ms() + 5000;
        while (pid > 0 && !runs_sleep(pid) && support_now_ms() < until) support_sleep_ms(2);
        pid_t report[2] = {pid, (pid_t)(pid > 0 && runs_sleep(pid))};
        ssize_t n = write(fds[1], report, sizeof report);
        _exit(n == (ssize_t)sizeof report ? 0 : 1);
    }
    pid_t report[2] = {-1, 0}; /* the child, and whether it had exec'd /bin/sleep when the starter left */
    ck_assert_int_eq(read(fds[0], report, sizeof report), (ssize_t)sizeof report);
    close(fds[0]);
    close(fds[1]);
    pid_t child = report[0];
    ck_assert_int_gt(child, 0);
    ck_assert_msg(report[1], "the child never ran /bin/sleep");
    ck_assert_int_eq(waitpid(starter, NULL, 0), starter);
    int64_t deadline = support_now_ms() + 5000;
    while (!gone(child) && support_now_ms() < deadline) support_sleep_ms(10);
    ck_assert_msg(gone(child), "the child %d outlived the process that started it", (int)child);
}
END_TEST

int main(void) {
    Suite *s = suite_create("support");
    TCase *t = tcase_create("proc");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, environment_exact_or_inherited);
    tcase_add_test(t, output_goes_where_asked);
    tcase_add_test(t, statuses_and_signals);
    tcase_add_test(t, waits_are_bounded);
    tcase_add_test(t, child_dies_with_its_starter);
    suite_add_tcase(s, t);
    return support_run_suite(s, CK_NORMAL, 0) ? EXIT_FAILURE : EXIT_SUCCESS;
}
