/*
 * shmlock.h - a lock for state that worker processes share (shared.h):
 * a process-shared, robust pthread mutex.
 *
 * Robust because a worker may die at any moment (kill -9, a crash) and a
 * lock it held must not wedge the others: the kernel walks a dying
 * thread's robust list and hands the mutex to the next taker with
 * EOWNERDEAD, who marks it consistent and goes on. A mutex rather than a
 * spinlock with an owner pid: the sections it guards are short, but a
 * holder preempted on a busy machine would make a spinner burn its core,
 * and finding a dead owner by pid means polling kill(pid, 0) and racing
 * pid reuse; the futex sleeps, and the kernel knows who died.
 *
 * What a section guards must stay usable if its writer died half way
 * (each user says why its state does).
 */
#ifndef SL_SHMLOCK_H
#define SL_SHMLOCK_H

#include <pthread.h>

/* m in shared memory, before the processes that use it fork. 0 or -errno. */
int sl_shmlock_init(pthread_mutex_t *m);
/* 0: held; 1: held, and its last holder died holding it (recovered);
 * -errno: not held (not recoverable: never with this module's users). */
int sl_shmlock_lock(pthread_mutex_t *m);
void sl_shmlock_unlock(pthread_mutex_t *m);

#endif
