/*
 * seccompguard - Description: run a program under a seccomp filter, as
 * systemd's SystemCallFilter= or a container runtime would.
 *
 * usage: seccompguard PROG ARGS...
 * The filter allows every system call (what matters is that one is in
 * force: the shim cannot know which calls a filter would kill the process
 * for, so its auto guard does not try userfaultfd under one).
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };

	if (argc < 2) {
		fprintf(stderr, "usage: seccompguard PROG ARGS...\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)) {
		perror("seccomp");
		return 2;
	}
	execvp(argv[1], argv + 1);
	perror("exec");
	return 2;
}
