/*
 * stubs.c - what the sources linked into the unit test need from files
 * that are not linked (init.c, real.c): the globals and a silent logger.
 */
#include "owner.h"
#include "shim.h"

struct zc_config zc_cfg;
size_t zc_page = 4096;
int zc_ready;
struct zc_real_table zc_real;
__thread int zc_binding ZC_TLS_MODEL;
union zc_own_page zc_own_page = { { ZC_OWN_OWNED, ZC_LOCK_FREE, 0 } };

void zc_owner_adopt(void)
{
}

void zc_log(int level, const char *fmt, ...)
{
}

