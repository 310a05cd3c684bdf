/*
 * statsig.c - a program that gives the stats signal (SIGUSR1) its own
 * handler, twice (signal(), then sigaction()), and once from inside a
 * handler of another signal; prints the handler's address. statsig.sh
 * wants the shim's warning once, naming that address and symbol.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t got;

void statsig_on_usr1(int sig);
void statsig_on_usr1(int sig)
{
	(void)sig;
	got = 1;
}

static void on_usr2(int sig)
{
	struct sigaction a;

	(void)sig;
	memset(&a, 0, sizeof a);
	a.sa_handler = statsig_on_usr1;
	sigaction(SIGUSR1, &a, NULL);   /* from a handler: signal context */
}

int main(int argc, char **argv)
{
	struct sigaction a;

	if (argc > 1 && !strcmp(argv[1], "inhandler")) {
		signal(SIGUSR2, on_usr2);
		raise(SIGUSR2);
	} else {
		signal(SIGUSR1, SIG_IGN);          /* not a handler: no warning */
		signal(SIGUSR1, statsig_on_usr1);
		memset(&a, 0, sizeof a);
		a.sa_handler = statsig_on_usr1;
		sigaction(SIGUSR1, &a, NULL);
	}
	printf("%p\n", (void *)statsig_on_usr1);
	return 0;
}
