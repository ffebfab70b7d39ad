/*
 * support.c: helpers shared by the Check suites (contract in support.h).
 */
#include "tests/support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int support_run_suite(Suite *s, enum print_output mode, int nofork) {
    SRunner *r = srunner_create(s);
    if (nofork) srunner_set_fork_status(r, CK_NOFORK);
    srunner_run_all(r, mode);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed;
}

int support_free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}
