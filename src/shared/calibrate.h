/*
 * calibrate.h - the cost model's numbers, measured on the running machine.
 */
#ifndef ZC_CALIBRATE_H
#define ZC_CALIBRATE_H

#include <stdint.h>

/* Measure, once per process (a forked child keeps its parent's numbers),
 * then publish them in the stats. Called on the first send that could be
 * guarded, outside the global lock; costs about 0.14 ms here (ZCSHIM_LOG=debug
 * shows it). Concurrent callers
 * return at once (until the numbers are in, sends are judged with
 * ZC_COST_NEVER: copied). Never from signal context. */
void zc_calibrate(void);

static inline int zc_calibrated(void)
{
	extern int zc_calib_state;

	return __atomic_load_n(&zc_calib_state, __ATOMIC_ACQUIRE) == 2;
}

/* The fewest pages a send must guard for one guard cycle to cost less than
 * its copy; ZC_COST_NEVER before the calibration or if none does. */
uint32_t zc_calib_once_min_pages(void);

/* Write the numbers into the stats again (a forked child's start from 0). */
void zc_calib_publish(void);

#endif
