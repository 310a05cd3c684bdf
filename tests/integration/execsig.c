/*
 * execsig - Description: a program started by exec or posix_spawn gets
 * the dispositions and mask its parent set, as without the shim.
 *
 * The parent ignores SIGHUP (the stats signal in execsig.sh) and SIGSEGV
 * and blocks SIGSEGV and SIGUSR2, then starts `grep Sig /proc/self/status`
 * without the shim (LD_PRELOAD dropped) through execve, execvp, execl and
 * posix_spawn; the lines it prints are compared with a run of the same
 * program without the shim.
 */
#include "common.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *const args[] = { "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status", NULL };

static void run(const char *how)
{
	pid_t pid;
	int status;

	printf("%s:\n", how);
	fflush(stdout);
	if (!strcmp(how, "posix_spawn")) {
		if (posix_spawnp(&pid, "grep", NULL, NULL, args, environ))
			itest_die("posix_spawn");
	} else if ((pid = fork()) == 0) {
		if (!strcmp(how, "execve"))
			execve("/bin/grep", args, environ);
		else if (!strcmp(how, "execvp"))
			execvp("grep", args);
		else
			execl("/bin/grep", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status",
			      (char *)NULL);
		_exit(2);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		itest_die(how);
}

int main(void)
{
	struct sigaction ign;
	sigset_t set;

	signal(SIGHUP, SIG_IGN);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGSEGV, &ign, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	unsetenv("LD_PRELOAD");   /* the child shows what crossed, not a shim's */
	run("execve");
	run("execvp");
	run("execl");
	run("posix_spawn");
	return ITEST_OK;
}
