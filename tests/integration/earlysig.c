/*
 * earlysig - a library whose constructor installs a SIGHUP handler. Preloaded
 * after the shim, its constructor runs before the shim's: the handler is
 * one the shim finds already installed (sigdefer early).
 */
#include <signal.h>
#include <string.h>

volatile int earlysig_count;

void earlysig_handler(int sig);
void earlysig_handler(int sig)
{
	(void)sig;
	earlysig_count++;
}

__attribute__((constructor)) static void earlysig_install(void)
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_handler = earlysig_handler;
	sigemptyset(&a.sa_mask);
	a.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &a, NULL);
}
